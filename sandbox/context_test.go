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

// Contexts of one limit share a timer: each still ends at its own
// deadline, in order, and one that ends early leaves the list.
func TestContextDeadlineList(t *testing.T) {
	const limit = 40 * time.Millisecond
	a := NewContext(context.Background(), limit)
	b := NewContext(context.Background(), limit)
	a.Release() // the head leaves early
	time.Sleep(limit / 2)
	c := NewContext(context.Background(), limit)
	other := NewContext(context.Background(), time.Hour) // another list
	defer other.Release()
	<-b.Done()
	if !errors.Is(Cause(b), context.DeadlineExceeded) {
		t.Fatalf("b: %v", Cause(b))
	}
	if c.Err() != nil {
		// c started limit/2 later; it may only end at its own deadline.
		if time.Until(c.expires) > 0 {
			t.Fatalf("c ended %v before its deadline", time.Until(c.expires))
		}
	}
	<-c.Done()
	if !errors.Is(Cause(c), context.DeadlineExceeded) || Cause(a) != context.Canceled || other.Err() != nil {
		t.Fatalf("a %v, c %v, other %v", Cause(a), Cause(c), other.Err())
	}
	// The list is empty and its timer idle; a new Context arms it again.
	d := NewContext(context.Background(), limit)
	<-d.Done()
	if !errors.Is(Cause(d), context.DeadlineExceeded) {
		t.Fatalf("d: %v", Cause(d))
	}
	l := listFor(limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head != nil || l.tail != nil || l.armed {
		t.Fatalf("list not empty: head %p tail %p armed %v", l.head, l.tail, l.armed)
	}
}

func TestContextInterrupt(t *testing.T) {
	c := NewContext(context.Background(), 0)
	ran := make(chan struct{})
	if !c.SetInterrupt(func() { close(ran) }) {
		t.Fatal("SetInterrupt on a running context")
	}
	if !c.ClearInterrupt() {
		t.Fatal("ClearInterrupt did not find the hook")
	}
	c.Stop(nil)
	select {
	case <-ran:
		t.Fatal("a cleared hook ran")
	case <-time.After(20 * time.Millisecond):
	}
	if c.SetInterrupt(func() {}) {
		t.Fatal("SetInterrupt on an ended context")
	}

	c = NewContext(context.Background(), 0)
	ran = make(chan struct{})
	c.SetInterrupt(func() { close(ran) })
	c.Stop(ErrMemoryLimit)
	<-ran
	if c.ClearInterrupt() {
		t.Fatal("ClearInterrupt after the hook started")
	}
}

// Done is made on first use: asked before, during or after the end, it is
// closed once the context has ended.
func TestContextDoneLazy(t *testing.T) {
	for i := 0; i < 200; i++ {
		c := NewContext(context.Background(), 0)
		got := make(chan (<-chan struct{}), 1)
		go func() { got <- c.Done() }()
		c.Stop(nil)
		select {
		case <-<-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a Done channel asked for during the end was never closed")
		}
		<-c.Done()
	}
	p, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel()
	c := NewContext(p, time.Minute)
	defer c.Release()
	if d, ok := c.Deadline(); !ok || time.Until(d) > time.Minute {
		t.Fatalf("Deadline %v %v: want the time limit's, the earlier", d, ok)
	}
	c2 := NewContext(p, 2*time.Hour)
	defer c2.Release()
	if d, _ := c2.Deadline(); time.Until(d) > time.Hour {
		t.Fatalf("Deadline %v: want the parent's, the earlier", d)
	}
}
