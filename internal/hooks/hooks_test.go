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
