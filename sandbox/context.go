package sandbox

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/internal/hooks"
)

// Context is the one context a request runs with. It ends when its parent
// does (the client went away, shutdown), when its time limit passes, or
// when Stop is called (the memory watchdog), whichever comes first, and
// Cause says why. Release ends it once the request is over.
//
// It exists for speed. Deriving the usual way — a timeout context, a
// cancel context for the watchdog, an AfterFunc for the engine — costs a
// timer, three registrations and a map in each parent, more than the call
// into the VM for a small handler. A Context costs two links in a list
// that one timer serves for every request with the same limit (see
// deadlineList) and one registration with its parent; its Done channel is
// made only if asked for (the JS engine uses SetInterrupt instead), and
// contexts and context.AfterFunc derived from it register with its
// AfterFunc method (a slice, no map, no goroutine).
//
// context.Cause cannot see the cause of a Context that is not one of the
// context package's own; use Cause (this package's) or the method.
type Context struct {
	parent   context.Context
	limit    time.Duration
	done     hooks.Done
	unparent func() bool
	ended    atomic.Bool

	// The list of Contexts with the same limit (see deadlineList).
	dl         *deadlineList
	prev, next *Context
	expires    time.Time

	mu    sync.Mutex
	err   error
	cause error
	hooks hooks.List // AfterFunc's
	// interrupt is the one hook an engine sets (SetInterrupt).
	interrupt func()
}

// afterFuncer is a context with an AfterFunc method of its own.
type afterFuncer interface {
	AfterFunc(func()) (stop func() bool)
}

// NewContext makes a Context under parent with a time limit (0 = none but
// the parent's). Call Release when the request is over.
func NewContext(parent context.Context, limit time.Duration) *Context {
	if parent == nil {
		parent = context.Background()
	}
	c := &Context{parent: parent, limit: limit}
	if parent.Err() != nil {
		c.end(parent.Err(), context.Cause(parent))
		return c
	}
	if a, ok := parent.(afterFuncer); ok {
		// fcgi's request context: a slice, no map, and no Done channel
		// made for nothing.
		c.unparent = a.AfterFunc(c.parentDone)
	} else if parent.Done() != nil {
		c.unparent = context.AfterFunc(parent, c.parentDone)
	}
	if limit > 0 {
		c.expires = time.Now().Add(limit)
		listFor(limit).add(c)
	}
	return c
}

func (c *Context) parentDone() { c.end(c.parent.Err(), context.Cause(c.parent)) }

func (c *Context) expire() { c.end(context.DeadlineExceeded, TimeoutError(c.limit)) }

// Stop ends the context with cause (context.Canceled if nil) unless it has
// ended already.
func (c *Context) Stop(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	c.end(context.Canceled, cause)
}

// Release ends the context (context.Canceled) if it has not ended, and
// frees its timer and its registration with the parent.
func (c *Context) Release() {
	if c.dl != nil {
		c.dl.remove(c)
	}
	if c.unparent != nil {
		c.unparent()
	}
	c.end(context.Canceled, context.Canceled)
}

func (c *Context) end(err, cause error) {
	if c.ended.Load() {
		return
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err, c.cause = err, cause
	c.ended.Store(true)
	interrupt := c.interrupt
	c.interrupt = nil
	c.done.Close()
	c.mu.Unlock()
	c.hooks.Fire()
	if interrupt != nil {
		go interrupt()
	}
}

// SetInterrupt arranges for f to run in its own goroutine when the context
// ends, like AfterFunc but in one slot and without allocating: an engine
// makes f once per VM and sets it for each request. It reports false, and
// does not keep f, if the context has ended already. ClearInterrupt undoes
// it.
func (c *Context) SetInterrupt(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false
	}
	c.interrupt = f
	return true
}

// ClearInterrupt removes the hook SetInterrupt set and reports whether it
// did so before the hook was started.
func (c *Context) ClearInterrupt() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	had := c.interrupt != nil
	c.interrupt = nil
	return had
}

// Deadline is the earlier of the parent's deadline and the time limit.
func (c *Context) Deadline() (time.Time, bool) {
	d, ok := c.parent.Deadline()
	if c.limit > 0 && (!ok || c.expires.Before(d)) {
		return c.expires, true
	}
	return d, ok
}

// Done is closed when the context ends.
func (c *Context) Done() <-chan struct{} { return c.done.Chan() }

// Err is nil until the context ends; then context.DeadlineExceeded for the
// time limit, the parent's Err when the parent ended, and
// context.Canceled otherwise.
func (c *Context) Err() error {
	if !c.ended.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Cause is why the context ended: a TimeoutError for the time limit, the
// parent's cause, Stop's argument, or context.Canceled after Release; nil
// while it runs.
func (c *Context) Cause() error {
	if !c.ended.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Value is the parent's.
func (c *Context) Value(key any) any { return c.parent.Value(key) }

// AfterFunc arranges for f to run in its own goroutine once the context
// has ended, like context.AfterFunc (which, with contexts derived from c,
// calls it). stop unregisters f; it reports whether it did so before f was
// started.
func (c *Context) AfterFunc(f func()) (stop func() bool) { return c.hooks.AfterFunc(f) }

// deadlineList expires the Contexts of one time limit. Their deadlines
// come in the order they start, so the earliest is the list's head and one
// timer, armed for the head, serves them all: a request costs a lock and
// two links instead of a timer of its own. A Context that ends leaves the
// list at once; the timer, if it was armed for it, fires for nothing and
// is armed again for the new head.
type deadlineList struct {
	limit      time.Duration
	mu         sync.Mutex
	head, tail *Context
	timer      *time.Timer
	armed      bool
}

var deadlineLists sync.Map // time.Duration → *deadlineList

func listFor(limit time.Duration) *deadlineList {
	if l, ok := deadlineLists.Load(limit); ok {
		return l.(*deadlineList)
	}
	l, _ := deadlineLists.LoadOrStore(limit, &deadlineList{limit: limit})
	return l.(*deadlineList)
}

func (l *deadlineList) add(c *Context) {
	l.mu.Lock()
	c.dl = l
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	if !l.armed {
		l.armed = true
		d := time.Until(c.expires)
		if l.timer == nil {
			l.timer = time.AfterFunc(d, l.fire)
		} else {
			l.timer.Reset(d)
		}
	}
	l.mu.Unlock()
}

// remove takes c off the list (if still on it).
func (l *deadlineList) remove(c *Context) {
	l.mu.Lock()
	if c.dl == l {
		l.unlinkLocked(c)
	}
	l.mu.Unlock()
}

func (l *deadlineList) unlinkLocked(c *Context) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next, c.dl = nil, nil, nil
}

// fire expires the Contexts whose deadline has passed and arms the timer
// for the next.
func (l *deadlineList) fire() {
	var expired []*Context
	l.mu.Lock()
	now := time.Now()
	for l.head != nil && !l.head.expires.After(now) {
		c := l.head
		l.unlinkLocked(c)
		expired = append(expired, c)
	}
	if l.head != nil {
		l.timer.Reset(l.head.expires.Sub(now))
	} else {
		l.armed = false
	}
	l.mu.Unlock()
	for _, c := range expired {
		c.expire()
	}
}

// String names the context for debugging.
func (c *Context) String() string { return "sandbox.Context" }

// Cause is context.Cause that also knows Context (and any context with a
// Cause method): the request's cause, not only its Err.
func Cause(ctx context.Context) error {
	if c, ok := ctx.(interface{ Cause() error }); ok {
		if err := c.Cause(); err != nil {
			return err
		}
		return ctx.Err()
	}
	return context.Cause(ctx)
}

// TimeoutError is the cause of a request stopped by its time limit:
// "request timeout of 30s: context deadline exceeded". It unwraps to
// context.DeadlineExceeded.
type TimeoutError time.Duration

func (t TimeoutError) Error() string {
	return "request timeout of " + time.Duration(t).String() + ": " + context.DeadlineExceeded.Error()
}

func (TimeoutError) Unwrap() error { return context.DeadlineExceeded }
