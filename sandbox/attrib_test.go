package sandbox

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

type runFunc func()

func (f runFunc) Run() { f() }

var attribKeep [][]byte

// TestHeapByTag: what a tagged goroutine allocates and keeps is charged
// to its tag; a tagged goroutine that only computes is charged nothing.
func TestHeapByTag(t *testing.T) {
	const grower, spinner = 0xabcdef, 0x123456
	var wg sync.WaitGroup
	wg.Add(2)
	go RunTagged(grower, runFunc(func() {
		defer wg.Done()
		for range 64 {
			attribKeep = append(attribKeep, make([]byte, 1<<20))
		}
	}))
	go RunTagged(spinner, runFunc(func() {
		defer wg.Done()
		x := 0
		for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
			x++
		}
		_ = x
	}))
	wg.Wait()
	// The profile shows an allocation once a GC cycle after its own has
	// completed.
	runtime.GC()
	runtime.GC()
	got := HeapByTag()
	if got[grower] < 32<<20 || got[grower] > 128<<20 {
		t.Errorf("grower holds 64 MiB, charged %d MiB", got[grower]>>20)
	}
	if got[spinner] != 0 {
		t.Errorf("spinner allocated nothing, charged %d bytes", got[spinner])
	}
	attribKeep = nil
}

func TestTagRoundTrip(t *testing.T) {
	for _, tag := range []uint32{1, 2, 5, 1<<TagBits - 1, 0x5a5a5a} {
		var got uint32
		RunTagged(tag, runFunc(func() {
			pcs := make([]uintptr, 64)
			got = tagOfStack(pcs[:runtime.Callers(1, pcs)])
		}))
		if got != tag {
			t.Errorf("tag %#x read back as %#x", tag, got)
		}
	}
	if got := tagOfStack(nil); got != 0 {
		t.Errorf("untagged = %#x", got)
	}
}
