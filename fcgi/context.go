package fcgi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// reqContext is a request's context (Request.Context). It is cancelled
// once, with a cause, and context.Cause reports that cause.
//
// It is a type of its own, not the context package's cancel context, for
// the handler's sake: a context derived from the context package's
// contexts registers in a map that each request's context would allocate;
// one derived from reqContext registers through its AfterFunc method (a
// short slice), as context.WithCancel and context.AfterFunc do for any
// parent that has one. The cause is kept, once cancelled, in a cancel
// context of the context package with no parent, which is what
// context.Cause reads (through Value); derived contexts never take it for
// their parent, as its Done channel is not reqContext's.
type reqContext struct {
	// causeCtx holds the cause for context.Cause once cancelled (made
	// then: most requests are never cancelled but by their own end).
	causeCtx atomic.Value // context.Context

	ended atomic.Bool
	done  atomic.Value // chan struct{}, made on first use

	mu     sync.Mutex
	err    error
	afters []*afterFunc
	abuf   [2]*afterFunc // afters' first array
}

type afterFunc struct{ f func() }

// closedchan is the Done channel of a context that ended before anyone
// asked for it.
var closedchan = make(chan struct{})

func init() { close(closedchan) }

func newReqContext() *reqContext {
	c := &reqContext{}
	c.afters = c.abuf[:0]
	return c
}

// cancel ends the context with cause (nil: context.Canceled). Later calls
// do nothing.
func (c *reqContext) cancel(cause error) {
	if c.ended.Load() {
		return
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	cc, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	c.causeCtx.Store(cc)
	c.ended.Store(true)
	if d, _ := c.done.Load().(chan struct{}); d != nil {
		close(d)
	} else {
		c.done.Store(closedchan)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
}

func (c *reqContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *reqContext) Done() <-chan struct{} {
	if d, _ := c.done.Load().(chan struct{}); d != nil {
		return d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, _ := c.done.Load().(chan struct{})
	if d == nil {
		d = make(chan struct{})
		c.done.Store(d)
	}
	return d
}

func (c *reqContext) Err() error {
	if !c.ended.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *reqContext) Value(key any) any {
	if cc, _ := c.causeCtx.Load().(context.Context); cc != nil {
		return cc.Value(key)
	}
	return nil
}

// AfterFunc runs f in its own goroutine once the context has ended, like
// context.AfterFunc; stop unregisters it and reports whether it did so
// before f started.
func (c *reqContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afters {
			if x == a {
				c.afters = append(c.afters[:i], c.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

func (c *reqContext) String() string { return "fcgi.Request.Context" }
