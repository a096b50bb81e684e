package hooks

import (
	"testing"
	"time"
)

func TestList(t *testing.T) {
	var l List
	ran := make(chan int, 4)
	l.AfterFunc(func() { ran <- 1 })
	stop := l.AfterFunc(func() { ran <- 2 })
	l.AfterFunc(func() { ran <- 3 })
	if !stop() || stop() {
		t.Fatal("stop: want true once, then false")
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	l.Fire()
	l.Fire() // once only
	got := map[int]bool{}
	for i := 0; i < 2; i++ {
		select {
		case n := <-ran:
			got[n] = true
		case <-time.After(5 * time.Second):
			t.Fatal("a hook did not run")
		}
	}
	if !got[1] || !got[3] {
		t.Fatalf("ran %v, want 1 and 3", got)
	}
	// After Fire: at once, and stop reports false.
	if l.AfterFunc(func() { ran <- 4 })() {
		t.Fatal("stop after Fire returned true")
	}
	if n := <-ran; n != 4 {
		t.Fatalf("ran %d, want 4", n)
	}
	select {
	case n := <-ran:
		t.Fatalf("extra run %d (the stopped hook?)", n)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestDone(t *testing.T) {
	var early Done
	ch := early.Chan()
	if early.Chan() != ch {
		t.Fatal("Chan changed")
	}
	select {
	case <-ch:
		t.Fatal("closed before Close")
	default:
	}
	early.Close()
	early.Close()
	<-ch
	var late Done
	late.Close()
	<-late.Chan()              // made after Close: closed
	for i := 0; i < 100; i++ { // Chan racing Close
		var d Done
		got := make(chan (<-chan struct{}), 1)
		go func() { got <- d.Chan() }()
		d.Close()
		select {
		case <-<-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a channel made during Close was never closed")
		}
	}
}
