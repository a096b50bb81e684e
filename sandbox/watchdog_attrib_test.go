package sandbox

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAttr is the heap profile's attribution, set by hand.
type fakeAttr struct {
	mu sync.Mutex
	m  map[uint32]int64
}

func (a *fakeAttr) set(m map[uint32]int64) { a.mu.Lock(); a.m = m; a.mu.Unlock() }
func (a *fakeAttr) get() map[uint32]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m
}

func newAttribWatchdog(t *testing.T, f *fakeMem, a *fakeAttr) (*Watchdog, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	w := NewWatchdog(WatchdogOptions{
		Interval:  time.Hour,
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)),
		ReadMem:   f.read,
		GC:        f.gc,
		Release:   func() {},
		Attribute: a.get,
	})
	t.Cleanup(w.Close)
	return w, &logs
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// watchTagged watches one request with a tag; the returned context is
// stopped as the host's would be.
func watchTagged(t *testing.T, w *Watchdog, app string, limit int64, tag uint32) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	wt := w.BeginTagged(StopFunc(cancel), app, limit, tag)
	t.Cleanup(func() { wt.End(); cancel(nil) })
	return ctx
}

// TestWatchdog_AttributionSparesTheIdle is rows 6 and 11 of issue 13: the
// idle requests (a busy-wait started first, requests waiting on a kv lock)
// ran through all the growth but hold nothing; the one whose VM holds the
// memory is stopped, and only it, also under pressure.
func TestWatchdog_AttributionSparesTheIdle(t *testing.T) {
	f, a := &fakeMem{}, &fakeAttr{}
	w, logs := newAttribWatchdog(t, f, a)
	f.set(100 * mib)
	victim := watchTagged(t, w, "victim", 64*mib, 1) // the oldest: the lowest base
	waiter := watchTagged(t, w, "b", 64*mib, 3)
	f.set(150 * mib)
	hog := watchTagged(t, w, "a", 64*mib, 2)
	f.set(500 * mib)
	a.set(map[uint32]int64{2: 340 * mib, 1: 2 * mib, 3: 0})
	judge(w)
	me := stopped(hog)
	if me == nil || stopped(victim) != nil || stopped(waiter) != nil {
		t.Fatalf("stopped: hog %v, victim %v, waiter %v; want the hog alone", me, stopped(victim), stopped(waiter))
	}
	if me.Held != 340*mib || !strings.Contains(me.Error(), "its VM holds about 340 MiB") {
		t.Errorf("cause %q", me.Error())
	}
	if !strings.Contains(logs.String(), "app=a memory_limit=67108864 vm_heap=356515840") {
		t.Errorf("log line:\n%s", logs)
	}
	// The hog's last allocation still in flight: the heap grows far past
	// the stop. The idle requests still hold nothing: not stopped.
	f.set(1500 * mib)
	f.afterGC = 1500 * mib
	judge(w)
	judge(w)
	if stopped(victim) != nil || stopped(waiter) != nil {
		t.Fatal("an idle request was stopped under pressure")
	}
}

// TestWatchdog_Unattributed: growth that no running request's VM holds (or
// holds less than a quarter of its limit) stops no one, and says so.
func TestWatchdog_Unattributed(t *testing.T) {
	f, a := &fakeMem{}, &fakeAttr{}
	w, logs := newAttribWatchdog(t, f, a)
	f.set(100 * mib)
	r1 := watchTagged(t, w, "a", 64*mib, 1)
	r2 := watchTagged(t, w, "b", 64*mib, 2)
	f.set(300 * mib)                                   // past the budget, not extreme
	a.set(map[uint32]int64{1: 15 * mib, 7: 800 * mib}) // 7: no request runs with it
	judge(w)
	if stopped(r1) != nil || stopped(r2) != nil {
		t.Fatal("a request holding less than a quarter of its limit was stopped")
	}
	// Extreme growth: a VM holding nothing is still never stopped.
	f.set(2000 * mib)
	a.set(map[uint32]int64{1: 0, 7: 1900 * mib})
	w.check()
	if stopped(r1) != nil || stopped(r2) != nil {
		t.Fatal("a request holding nothing was stopped under extreme growth")
	}
	w.gcWG.Wait()
	w.check() // judges the GC the extreme growth forced
	f.set(300 * mib)
	f.gc()
	if w.Stats().Unattributed == 0 || !strings.Contains(logs.String(), "no running request's VM holds it; stopping none") {
		t.Errorf("unattributed not reported: %+v\n%s", w.Stats(), logs)
	}
	// Once the profile shows it, the holder is stopped.
	a.set(map[uint32]int64{1: 15 * mib, 2: 700 * mib})
	f.gc() // a new cycle: a new attribution
	judge(w)
	judge(w)
	if stopped(r1) != nil || stopped(r2) == nil {
		t.Fatalf("after the profile caught up: r1 %v, r2 %v", stopped(r1), stopped(r2))
	}
}

// TestWatchdog_RealHeapBlamesTheGrower runs the real sampler and the real
// heap profile: a request that only busy-waits, started first, and one
// that allocates gradually and keeps it. The grower is stopped; the
// busy-wait never is.
func TestWatchdog_RealHeapBlamesTheGrower(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	w := NewWatchdog(WatchdogOptions{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	t.Cleanup(w.Close)
	idleCtx, idleCancel := context.WithCancelCause(context.Background())
	idle := w.BeginTagged(StopFunc(idleCancel), "victim", 16*mib, 11)
	hogCtx, hogCancel := context.WithCancelCause(context.Background())
	hog := w.BeginTagged(StopFunc(hogCancel), "hog", 16*mib, 22)

	var wg sync.WaitGroup
	wg.Add(2)
	done := make(chan struct{})
	go RunTagged(11, runFunc(func() {
		defer wg.Done()
		x := 0
		for {
			select {
			case <-done:
				_ = x
				return
			case <-idleCtx.Done():
				return
			default:
				x++
			}
		}
	}))
	var total atomic.Int64
	go RunTagged(22, runFunc(func() {
		defer wg.Done()
		var keep [][]byte
		const ceiling = 2 << 30
		for hogCtx.Err() == nil && total.Load() < ceiling {
			b := make([]byte, 256<<10)
			for i := range b {
				b[i] = byte(i)
			}
			keep = append(keep, b)
			total.Add(int64(len(b)))
			time.Sleep(50 * time.Microsecond)
		}
		_ = keep
	}))
	for hogCtx.Err() == nil && total.Load() < 2<<30 {
		time.Sleep(10 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	hog.End()
	idle.End()
	if !errors.Is(context.Cause(hogCtx), ErrMemoryLimit) {
		t.Fatalf("the grower kept %d MiB without being stopped", total.Load()/mib)
	}
	if idleCtx.Err() != nil {
		t.Fatalf("the busy-wait was stopped: %v", context.Cause(idleCtx))
	}
	t.Logf("grower stopped after %d MiB kept (limit 16 MiB)", total.Load()/mib)
}
