package fcgi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/internal/hooks"
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
	done  hooks.Done

	mu    sync.Mutex
	err   error
	hooks hooks.List // AfterFunc's
}

func newReqContext() *reqContext {
	return &reqContext{}
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
	c.done.Close()
	c.mu.Unlock()
	c.hooks.Fire()
}

func (c *reqContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *reqContext) Done() <-chan struct{} { return c.done.Chan() }

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
func (c *reqContext) AfterFunc(f func()) (stop func() bool) { return c.hooks.AfterFunc(f) }

func (c *reqContext) String() string { return "fcgi.Request.Context" }
