// Package hooks holds what fcgi's request context and sandbox.Context
// share: the functions a context runs when it ends (their AfterFunc) and a
// Done channel made only when asked for. Contexts derived from either
// register in the List (context.WithCancel and context.AfterFunc call a
// parent's AfterFunc method when it has one), a short slice, instead of
// the map the context package's own contexts allocate for their children.
package hooks

import (
	"sync"
	"sync/atomic"
)

// List is a set of functions to run once, when Fire is called. The zero
// value is ready to use; it must not be copied after first use.
type List struct {
	mu    sync.Mutex
	fired bool
	fns   []*entry
	buf   [2]*entry // fns' first array
}

type entry struct{ f func() }

// AfterFunc arranges for f to run in its own goroutine when Fire is called,
// or at once if it has been. stop unregisters f and reports whether it did
// so before f was started, as context.AfterFunc's does.
func (l *List) AfterFunc(f func()) (stop func() bool) {
	e := &entry{f: f}
	l.mu.Lock()
	if l.fired {
		l.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if l.fns == nil {
		l.fns = l.buf[:0]
	}
	l.fns = append(l.fns, e)
	l.mu.Unlock()
	return func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, x := range l.fns {
			if x == e {
				l.fns = append(l.fns[:i], l.fns[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Fire starts every registered function, each in its own goroutine. Calls
// after the first do nothing.
func (l *List) Fire() {
	l.mu.Lock()
	if l.fired {
		l.mu.Unlock()
		return
	}
	l.fired = true
	fns := l.fns
	l.fns = nil
	l.mu.Unlock()
	for _, e := range fns {
		go e.f()
	}
}

// Len is the number of functions waiting.
func (l *List) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.fns)
}

// Done is a context's Done channel, made on first use (a context nobody
// waits on never makes one) and closed by Close. The zero value is ready to
// use; it must not be copied after first use.
type Done struct {
	mu     sync.Mutex
	ch     atomic.Value // chan struct{}
	closed bool
}

// closedchan is the channel of a Done closed before anyone asked for it.
var closedchan = make(chan struct{})

func init() { close(closedchan) }

// Chan returns the channel, making it if needed; it is closed once Close
// has been called.
func (d *Done) Chan() <-chan struct{} {
	if ch, _ := d.ch.Load().(chan struct{}); ch != nil {
		return ch
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, _ := d.ch.Load().(chan struct{})
	if ch == nil {
		if d.closed {
			ch = closedchan
		} else {
			ch = make(chan struct{})
		}
		d.ch.Store(ch)
	}
	return ch
}

// Close closes the channel (now, or as made later). Calls after the first
// do nothing.
func (d *Done) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	if ch, _ := d.ch.Load().(chan struct{}); ch != nil {
		close(ch)
	}
}
