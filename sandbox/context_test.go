package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestContextTimeout(t *testing.T) {
	c := NewContext(context.Background(), 20*time.Millisecond)
	defer c.Release()
	if d, ok := c.Deadline(); !ok || time.Until(d) > 20*time.Millisecond {
		t.Fatalf("Deadline = %v, %v", d, ok)
	}
	fired := make(chan struct{})
	context.AfterFunc(c, func() { close(fired) })
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not ended by its time limit")
	}
	if c.Err() != context.DeadlineExceeded {
		t.Fatalf("Err = %v", c.Err())
	}
	var te TimeoutError
	if err := Cause(c); !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "request timeout of 20ms: context deadline exceeded" {
		t.Fatalf("Cause = %v", err)
	}
	<-fired
	<-child.Done()
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("child Err = %v", child.Err())
	}
}

func TestContextParentAndStop(t *testing.T) {
	errGone := errors.New("client gone")
	parent, cancelParent := context.WithCancelCause(context.WithValue(context.Background(), "k", "v"))
	c := NewContext(parent, time.Hour)
	defer c.Release()
	if c.Value("k") != "v" {
		t.Fatal("Value does not reach the parent")
	}
	cancelParent(errGone)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not ended with its parent")
	}
	if c.Err() != context.Canceled || Cause(c) != errGone {
		t.Fatalf("Err %v, Cause %v", c.Err(), Cause(c))
	}
	c.Stop(ErrMemoryLimit) // too late: the first cause stays
	if Cause(c) != errGone {
		t.Fatalf("Cause changed to %v", Cause(c))
	}

	c2 := NewContext(context.Background(), 0)
	if _, ok := c2.Deadline(); ok {
		t.Fatal("deadline without a limit")
	}
	stop := context.AfterFunc(c2, func() { t.Error("stopped AfterFunc ran") })
	if !stop() {
		t.Fatal("stop returned false")
	}
	c2.Stop(&MemoryError{App: "a", Limit: 1})
	if !errors.Is(Cause(c2), ErrMemoryLimit) || c2.Err() != context.Canceled {
		t.Fatalf("Err %v, Cause %v", c2.Err(), Cause(c2))
	}
	c2.Release()

	// A parent that already ended ends the context at once.
	c3 := NewContext(parent, time.Hour)
	if Cause(c3) != errGone {
		t.Fatalf("Cause = %v", Cause(c3))
	}
	c3.Release()
}

func TestContextRelease(t *testing.T) {
	c := NewContext(context.Background(), time.Hour)
	if c.Err() != nil || Cause(c) != nil {
		t.Fatal("ended at birth")
	}
	c.Release()
	if c.Err() != context.Canceled || Cause(c) != context.Canceled {
		t.Fatalf("after Release: Err %v, Cause %v", c.Err(), Cause(c))
	}
	// Cause of a plain context is context.Cause.
	p, cancel := context.WithCancelCause(context.Background())
	cancel(ErrMemoryLimit)
	if Cause(p) != ErrMemoryLimit {
		t.Fatal("Cause of a plain context")
	}
}
