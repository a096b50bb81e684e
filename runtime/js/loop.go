package js

// Timers and the request's event loop (README.md "Timers and the event
// loop"): setTimeout, clearTimeout, setInterval and clearInterval belong to
// the request being served.
//   - goja runs its promise jobs (microtasks) whenever a call from Go
//     returns; the host then drives due timers, one callback at a time,
//     until the handler's promise settles (handler and Workers forms), the
//     waitUntil promises settle (after the response went out), or no timer
//     is left (CGI style, whose script ends when its last timer has run).
//   - The request's context (its time limit, the client going away, the
//     memory watchdog) stops the loop while it waits as well as while a
//     callback runs.
//   - Timers still pending when the request is done are dropped: a timer
//     never outlives its request or keeps a VM. A handler of the (req, res)
//     form that returns something other than a Promise is done when it
//     returns.
//   - At most maxTimers timers are pending at once per request (a timer
//     storm is a RangeError); a setInterval repeats at most every
//     minInterval. Top-level code (run once per VM, outside any request)
//     has no timers: setTimeout there is a TypeError.

import (
	"container/heap"
	"context"
	"errors"
	"math"
	"time"

	"github.com/dop251/goja"
)

const (
	// maxTimers bounds the timers pending at once in one request.
	maxTimers = 10000
	// minInterval is the shortest period of a setInterval.
	minInterval = time.Millisecond
	// maxDelay is the longest delay taken (2^31−1 ms, as browsers):
	// longer ones are cut to it (they outlast any request anyway).
	maxDelay = math.MaxInt32 * time.Millisecond
)

type timer struct {
	id       int64
	when     time.Time
	interval time.Duration // > 0: setInterval
	fn       goja.Callable
	args     []goja.Value
	index    int // in the heap
}

// timerHeap orders timers by due time, then by id (creation order).
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when.Equal(h[j].when) {
		return h[i].id < h[j].id
	}
	return h[i].when.Before(h[j].when)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// timerLoop is one VM's timers; made on the first setTimeout.
type timerLoop struct {
	heap timerHeap
	byID map[int64]*timer
	seq  int64 // last id given (ids are not reused within a VM)
	wait *time.Timer
}

// timerFuncs are the four globals, made with the web globals (web.go).
func (v *jsVM) timerFuncs(h *goja.Object) {
	_ = h.Set("setTimeout", func(c goja.FunctionCall) goja.Value { return v.setTimer(c, false) })
	_ = h.Set("setInterval", func(c goja.FunctionCall) goja.Value { return v.setTimer(c, true) })
	clearFn := func(c goja.FunctionCall) goja.Value {
		v.clearTimer(c.Argument(0))
		return goja.Undefined()
	}
	_ = h.Set("clearTimeout", clearFn)
	_ = h.Set("clearInterval", clearFn)
}

func (v *jsVM) setTimer(c goja.FunctionCall, repeat bool) goja.Value {
	what := "setTimeout"
	if repeat {
		what = "setInterval"
	}
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		v.typeError("%s: the callback must be a function (a string is not evaluated)", what)
	}
	if v.cur == nil {
		v.typeError("%s: timers belong to a request; top-level code has none (README.md \"Timers and the event loop\")", what)
	}
	l := v.loop
	if l == nil {
		l = &timerLoop{byID: map[int64]*timer{}}
		v.loop = l
	}
	if len(l.byID) >= maxTimers {
		v.throw("RangeError", errors.New(what+": more than 10000 timers pending in this request"))
	}
	var d time.Duration
	if a := c.Argument(1); !goja.IsUndefined(a) {
		ms := a.ToFloat()
		switch {
		case !(ms > 0): // NaN, negative, zero
		case ms >= float64(maxDelay/time.Millisecond):
			d = maxDelay
		default:
			d = time.Duration(ms * float64(time.Millisecond))
		}
	}
	l.seq++
	t := &timer{id: l.seq, when: time.Now().Add(d), fn: fn}
	if repeat {
		t.interval = max(d, minInterval)
	}
	if len(c.Arguments) > 2 {
		t.args = append([]goja.Value(nil), c.Arguments[2:]...)
	}
	l.byID[t.id] = t
	heap.Push(&l.heap, t)
	return v.rt.ToValue(t.id)
}

func (v *jsVM) clearTimer(id goja.Value) {
	l := v.loop
	if l == nil || id == nil || goja.IsUndefined(id) || goja.IsNull(id) {
		return
	}
	n := id.ToInteger()
	t, ok := l.byID[n]
	if !ok {
		return
	}
	delete(l.byID, n)
	if t.index >= 0 {
		heap.Remove(&l.heap, t.index)
	}
}

// pendingTimers is the number of timers waiting in the request.
func (v *jsVM) pendingTimers() int {
	if v.loop == nil {
		return 0
	}
	return len(v.loop.byID)
}

// dropTimers forgets every pending timer (the request is done).
func (v *jsVM) dropTimers() {
	l := v.loop
	if l == nil || len(l.byID) == 0 {
		return
	}
	clear(l.byID)
	for i := range l.heap {
		l.heap[i] = nil
	}
	l.heap = l.heap[:0]
}

// drive runs due timers, in order, until done reports true or no timer is
// left. It returns the first error a callback throws, or the request's end
// (time limit, client gone) while it waits.
func (v *jsVM) drive(done func() bool) error {
	l := v.loop
	for !done() {
		if l == nil || len(l.heap) == 0 {
			return nil
		}
		if v.ctx.Err() != nil {
			return v.b.newError(nil, ctxError(v.ctx))
		}
		t := l.heap[0]
		if d := time.Until(t.when); d > 0 {
			if !l.sleep(v.ctx, d) {
				return v.b.newError(nil, ctxError(v.ctx))
			}
		}
		if t.interval > 0 {
			t.when = time.Now().Add(t.interval)
			heap.Fix(&l.heap, 0)
		} else {
			heap.Pop(&l.heap)
			delete(l.byID, t.id)
		}
		if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
			return err
		}
	}
	return nil
}

// sleep waits d, or until ctx ends (false).
func (l *timerLoop) sleep(ctx context.Context, d time.Duration) bool {
	if l.wait == nil {
		l.wait = time.NewTimer(d)
	} else {
		l.wait.Reset(d)
	}
	select {
	case <-l.wait.C:
		return true
	case <-ctx.Done():
		l.wait.Stop()
		return false
	}
}

// settle drives timers until p is no longer pending.
func (v *jsVM) settle(p *goja.Promise) error {
	if p.State() != goja.PromiseStatePending {
		return nil
	}
	return v.drive(func() bool { return p.State() != goja.PromiseStatePending })
}
