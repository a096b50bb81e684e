package fcgi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The request context is cancelled once, reports its cause through
// context.Cause, and passes it on to contexts and AfterFuncs derived from
// it — registered through its AfterFunc method.
func TestReqContext(t *testing.T) {
	c := newReqContext()
	if c.Err() != nil || context.Cause(c) != nil {
		t.Fatalf("fresh context: Err %v, Cause %v", c.Err(), context.Cause(c))
	}
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(c, time.Hour)
	defer cancelTimed()
	fired := make(chan struct{})
	context.AfterFunc(c, func() { close(fired) })
	stopped := make(chan struct{})
	stop := context.AfterFunc(c, func() { close(stopped) })
	if !stop() {
		t.Fatal("stop of a pending AfterFunc returned false")
	}
	if n := c.hooks.Len(); n != 3 {
		t.Fatalf("%d AfterFuncs registered with the request context, want 3 (child, timed, fired)", n)
	}

	c.cancel(ErrRequestAborted)
	c.cancel(ErrConnClosed) // the first cause stays
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after cancel")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", c.Err())
	}
	if got := context.Cause(c); got != ErrRequestAborted {
		t.Fatalf("Cause = %v, want ErrRequestAborted", got)
	}
	for name, d := range map[string]context.Context{"WithCancel": child, "WithTimeout": timed} {
		select {
		case <-d.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s child not cancelled", name)
		}
		if got := context.Cause(d); got != ErrRequestAborted {
			t.Fatalf("%s child: Cause = %v, want ErrRequestAborted", name, got)
		}
	}
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc did not run")
	}
	select {
	case <-stopped:
		t.Fatal("a stopped AfterFunc ran")
	default:
	}
	// Registered after the end: runs at once.
	late := make(chan struct{})
	if context.AfterFunc(c, func() { close(late) })() {
		t.Fatal("stop after the end returned true")
	}
	select {
	case <-late:
	case <-time.After(5 * time.Second):
		t.Fatal("late AfterFunc did not run")
	}
}

// A context that ended before anyone asked for Done still has a closed one.
func TestReqContextDoneAfterCancel(t *testing.T) {
	c := newReqContext()
	c.cancel(nil)
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	if got := context.Cause(c); got != context.Canceled {
		t.Fatalf("Cause = %v, want context.Canceled", got)
	}
}
