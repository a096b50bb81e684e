package fcgi

import "sync"

// maxIdleWorkers bounds the goroutines kept waiting for the next request.
const maxIdleWorkers = 128

// workers runs handlers on goroutines that are kept after their request
// and reused for the next one. A fresh goroutine starts with a small stack
// and a handler that runs a script engine grows it several times, copying
// it each time; a reused goroutine keeps the stack it grew (the GC shrinks
// stacks that stay mostly unused), so a busy server stops paying for the
// growth on every request. At most maxIdleWorkers wait; the rest exit.
// The Server owns them: close stops the idle ones and every busy one exits
// when its request ends.
type workers struct {
	mu     sync.Mutex
	idle   []*worker // LIFO: the most recently used has the warmest stack
	closed bool
	wg     sync.WaitGroup
}

type worker struct {
	next chan func() bool
}

// run runs fn on an idle worker, or on a new goroutine that becomes one.
// fn reports whether its request was detached (Detacher): detached has
// then been called for it, and its goroutine exits when fn returns,
// without counting again.
func (ws *workers) run(fn func() bool) {
	ws.mu.Lock()
	if n := len(ws.idle); n > 0 && !ws.closed {
		w := ws.idle[n-1]
		ws.idle[n-1] = nil
		ws.idle = ws.idle[:n-1]
		ws.mu.Unlock()
		w.next <- fn // buffered: never blocks
		return
	}
	ws.wg.Add(1)
	ws.mu.Unlock()
	w := &worker{next: make(chan func() bool, 1)}
	go ws.loop(w, fn)
}

// detached stops counting a busy worker whose request was detached: close
// does not wait for it (its handler may never return).
func (ws *workers) detached() { ws.wg.Done() }

func (ws *workers) loop(w *worker, fn func() bool) {
	for {
		if fn() {
			return // counted out by detached
		}
		ws.mu.Lock()
		if ws.closed || len(ws.idle) >= maxIdleWorkers {
			ws.mu.Unlock()
			ws.wg.Done()
			return
		}
		ws.idle = append(ws.idle, w)
		ws.mu.Unlock()
		var ok bool
		if fn, ok = <-w.next; !ok {
			ws.wg.Done()
			return
		}
	}
}

// close stops the idle workers and, if wait, waits until every worker has
// exited (busy ones exit when their request ends).
func (ws *workers) close(wait bool) {
	ws.mu.Lock()
	ws.closed = true
	idle := ws.idle
	ws.idle = nil
	ws.mu.Unlock()
	for _, w := range idle {
		close(w.next)
	}
	if wait {
		ws.wg.Wait()
	}
}
