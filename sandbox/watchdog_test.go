package sandbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMem is a heap the test moves by hand; gc sets the heap to its
// post-GC value.
type fakeMem struct {
	mu       sync.Mutex
	ms       MemSample
	afterGC  uint64 // HeapObjects after a forced GC (0: unchanged)
	gcs      int
	releases int
}

func (f *fakeMem) read() MemSample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ms
}

func (f *fakeMem) set(heap uint64) {
	f.mu.Lock()
	f.ms.HeapObjects = heap
	f.mu.Unlock()
}

func (f *fakeMem) gc() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gcs++
	f.ms.Cycles++
	if f.afterGC != 0 {
		f.ms.HeapObjects = f.afterGC
	}
	f.ms.Live = f.ms.HeapObjects
}

// newTestWatchdog makes a watchdog whose loop never ticks on its own: the
// test calls check.
func newTestWatchdog(t *testing.T, f *fakeMem) *Watchdog {
	t.Helper()
	w := NewWatchdog(WatchdogOptions{
		Interval: time.Hour,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		ReadMem:  f.read,
		GC:       f.gc,
		Release:  func() { f.mu.Lock(); f.releases++; f.mu.Unlock() },
	})
	t.Cleanup(w.Close)
	return w
}

const mib = 1 << 20

// judge runs one check, lets a confirming GC it started finish, and
// checks again (what the sampler does over a few ticks).
func judge(w *Watchdog) {
	w.check()
	w.gcWG.Wait()
	w.check()
}

func stopped(ctx context.Context) *MemoryError {
	var me *MemoryError
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &me) {
		return me
	}
	return nil
}

func TestWatchdog_Decisions(t *testing.T) {
	tests := []struct {
		name      string
		limits    []int64  // one watched request each, started in order
		starts    []uint64 // the heap when each started
		heap      uint64   // the heap at the check
		afterGC   uint64   // the heap after the forced GC (0: same)
		wantKill  int      // index of the request stopped, -1: none
		wantGCs   int
		wantClear uint64
	}{
		{"under the limit", []int64{64 * mib}, []uint64{100 * mib}, 130 * mib, 0, -1, 0, 0},
		{"over, and not garbage", []int64{64 * mib}, []uint64{100 * mib}, 200 * mib, 0, 0, 1, 0},
		{"over, but garbage", []int64{64 * mib}, []uint64{100 * mib}, 200 * mib, 120 * mib, -1, 1, 1},
		{"two requests share a budget", []int64{64 * mib, 64 * mib}, []uint64{100 * mib, 100 * mib}, 160 * mib, 0, -1, 0, 0},
		{"two requests over their budget: the oldest", []int64{64 * mib, 64 * mib}, []uint64{100 * mib, 100 * mib}, 250 * mib, 0, 0, 1, 0},
		{"the one that ran through the growth", []int64{64 * mib, 64 * mib}, []uint64{150 * mib, 100 * mib}, 250 * mib, 0, 1, 1, 0},
		{"a request with a bigger limit", []int64{256 * mib}, []uint64{100 * mib}, 200 * mib, 0, -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeMem{afterGC: tt.afterGC}
			w := newTestWatchdog(t, f)
			var ctxs []context.Context
			for i, l := range tt.limits {
				f.set(tt.starts[i])
				ctx, stop := w.Watch(context.Background(), "app"+string(rune('A'+i)), l)
				t.Cleanup(stop)
				ctxs = append(ctxs, ctx)
			}
			f.set(tt.heap)
			judge(w)
			for i, ctx := range ctxs {
				me := stopped(ctx)
				if (i == tt.wantKill) != (me != nil) {
					t.Errorf("request %d stopped = %v, want %v", i, me != nil, i == tt.wantKill)
				}
				if me != nil {
					if me.App != "app"+string(rune('A'+i)) || me.Limit != tt.limits[i] {
						t.Errorf("cause = %+v", me)
					}
					if !errors.Is(me, ErrMemoryLimit) || !strings.Contains(me.Error(), "memory limit of 64 MiB exceeded") {
						t.Errorf("cause %q does not say what happened", me.Error())
					}
				}
			}
			st := w.Stats()
			if f.gcs != tt.wantGCs || st.Cleared != tt.wantClear {
				t.Errorf("forced GCs = %d, cleared = %d; want %d, %d", f.gcs, st.Cleared, tt.wantGCs, tt.wantClear)
			}
		})
	}
}

func TestWatchdog_OneStopAtATime(t *testing.T) {
	f := &fakeMem{}
	w := newTestWatchdog(t, f)
	f.set(100 * mib)
	ctxA, stopA := w.Watch(context.Background(), "a", 64*mib)
	ctxB, stopB := w.Watch(context.Background(), "b", 64*mib)
	defer stopB()
	f.set(400 * mib)
	judge(w)
	if stopped(ctxA) == nil {
		t.Fatal("the oldest request over the budget was not stopped")
	}
	// A has not ended yet: its memory is still there, B is not blamed.
	w.check()
	if stopped(ctxB) != nil {
		t.Fatal("a second request was stopped while the first was still ending")
	}
	stopA()
	// A ended and its memory was collected: B is within its limit.
	f.afterGC = 120 * mib
	judge(w)
	if stopped(ctxB) != nil {
		t.Fatal("B was blamed for A's garbage")
	}
	if f.releases != 1 {
		t.Errorf("memory released to the OS %d times after the stopped request ended, want 1", f.releases)
	}
	if st := w.Stats(); st.Stopped != 1 || st.Watching != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWatchdog_LiveHeapNeedsNoForcedGC(t *testing.T) {
	f := &fakeMem{}
	w := newTestWatchdog(t, f)
	f.ms = MemSample{HeapObjects: 100 * mib, Cycles: 10}
	ctx, stop := w.Watch(context.Background(), "a", 64*mib)
	defer stop()
	// The last GC (after the watch began) found 200 MiB live.
	f.ms = MemSample{HeapObjects: 260 * mib, Live: 200 * mib, Cycles: 12}
	w.check()
	if stopped(ctx) == nil {
		t.Fatal("not stopped")
	}
	if f.gcs != 0 {
		t.Errorf("forced %d GCs although the last one already proved the growth live", f.gcs)
	}
}

func TestWatchdog_FastGrowthIsSuspectEarly(t *testing.T) {
	f := &fakeMem{afterGC: 110 * mib}
	w := newTestWatchdog(t, f)
	f.set(100 * mib)
	ctx, stop := w.Watch(context.Background(), "a", 64*mib)
	defer stop()
	f.set(110 * mib)
	w.check()
	f.set(150 * mib) // +40 MiB in one sample, 50 MiB above the base
	judge(w)
	if f.gcs != 1 || w.Stats().Cleared != 1 {
		t.Errorf("forced GCs = %d, want 1 (fast growth past half the budget)", f.gcs)
	}
	if stopped(ctx) != nil {
		t.Error("stopped although the forced GC showed the growth was garbage")
	}
}

func TestWatchdog_ExtremeGrowthNeedsNoGC(t *testing.T) {
	f := &fakeMem{}
	w := newTestWatchdog(t, f)
	f.ms = MemSample{HeapObjects: 100 * mib, Live: 10 * mib, Cycles: 5}
	ctx, stop := w.Watch(context.Background(), "a", 64*mib)
	defer stop()
	// Growth of 300 MiB: more than 3×budget + 2×live at the start.
	f.ms.HeapObjects = 400 * mib
	w.check()
	if me := stopped(ctx); me == nil || me.Growth != 300*mib {
		t.Fatalf("not stopped, or wrong growth: %+v", me)
	}
	if f.gcs != 0 {
		t.Errorf("forced %d GCs for a growth no garbage explains", f.gcs)
	}
	// Growth of 200 MiB is not extreme: a GC must confirm it.
	f2 := &fakeMem{}
	w2 := newTestWatchdog(t, f2)
	f2.ms = MemSample{HeapObjects: 100 * mib, Live: 10 * mib, Cycles: 5}
	ctx2, stop2 := w2.Watch(context.Background(), "b", 64*mib)
	defer stop2()
	f2.ms.HeapObjects = 300 * mib
	f2.afterGC = 110 * mib
	judge(w2)
	if stopped(ctx2) != nil || f2.gcs != 1 {
		t.Errorf("stopped = %v, GCs = %d; want a GC that clears it", stopped(ctx2) != nil, f2.gcs)
	}
}

func TestWatchdog_NoLimitAndClosed(t *testing.T) {
	f := &fakeMem{}
	w := newTestWatchdog(t, f)
	ctx, stop := w.Watch(context.Background(), "a", 0)
	stop()
	if ctx.Err() != nil || w.Stats().Watching != 0 {
		t.Error("limit 0 should watch nothing and leave the context alone")
	}
	w.Close()
	ctx, stop = w.Watch(context.Background(), "a", 64*mib)
	if w.Stats().Watching != 0 {
		t.Error("a closed watchdog still watches")
	}
	stop()
	if ctx.Err() == nil {
		t.Error("stop should release the derived context")
	}
}

func TestWatchdog_LoopStopsWhenIdle(t *testing.T) {
	f := &fakeMem{}
	w := newTestWatchdog(t, f)
	_, stop := w.Watch(context.Background(), "a", 64*mib)
	if !w.check() {
		t.Fatal("check reported idle with a request watched")
	}
	stop()
	if w.check() {
		t.Fatal("check kept the loop alive with nothing watched")
	}
	w.mu.Lock()
	running := w.running
	w.mu.Unlock()
	if running {
		t.Error("loop still marked running")
	}
}

// TestWatchdog_RealHeap runs the real sampler against a goroutine that
// keeps what it allocates until its context is cancelled.
func TestWatchdog_RealHeap(t *testing.T) {
	w := NewWatchdog(WatchdogOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(w.Close)
	ctx, stop := w.Watch(context.Background(), "hog", 16*mib)
	defer stop()
	var keep [][]byte
	const ceiling = 2 << 30
	total := 0
	for ctx.Err() == nil && total < ceiling {
		b := make([]byte, mib)
		for i := range b {
			b[i] = byte(i)
		}
		keep = append(keep, b)
		total += len(b)
		time.Sleep(100 * time.Microsecond) // let the sampler run on a busy machine
	}
	if !errors.Is(context.Cause(ctx), ErrMemoryLimit) {
		t.Fatalf("kept %d MiB without being stopped (cause %v)", total/mib, context.Cause(ctx))
	}
	t.Logf("stopped after %d MiB kept (limit 16 MiB)", total/mib)
	keep = nil
	_ = keep
}

func TestFormatBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{512, "512 B"}, {64 * mib, "64 MiB"}, {3 * mib / 2, "1.5 MiB"}, {5 << 30, "5 GiB"}, {2048, "2 KiB"}} {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestWatchdog_WrongVictimDoesNotShieldTheCulprit(t *testing.T) {
	f := &fakeMem{}
	w := newTestWatchdog(t, f)
	f.set(100 * mib)
	ctxA, stopA := w.Watch(context.Background(), "a", 64*mib) // the innocent, older
	defer stopA()
	ctxB, stopB := w.Watch(context.Background(), "b", 64*mib)
	defer stopB()
	f.set(400 * mib)
	judge(w)
	if stopped(ctxA) == nil || stopped(ctxB) != nil {
		t.Fatal("the oldest request should be blamed first")
	}
	// A is still ending; the heap keeps growing far past what A could
	// still add: B is stopped too.
	f.set(1100 * mib)
	f.afterGC = 1100 * mib
	judge(w)
	if stopped(ctxB) == nil {
		t.Fatal("the culprit kept growing behind a stopped innocent")
	}
}

// TestReadMem guards the metric names: an unknown name reads as zero, and
// a zero cycle count silently turned two of the three stop rules off.
func TestReadMem(t *testing.T) {
	keep := make([]byte, 8*mib)
	runtime.GC()
	m := ReadMem()
	if m.HeapObjects < 8*mib || m.Live < 8*mib || m.Cycles == 0 {
		t.Errorf("ReadMem() = %+v after a GC with 8 MiB live", m)
	}
	runtime.KeepAlive(keep)
}

// With the real heap reader, requests that start within sampleReuse of a
// sample share it; a later one takes a new sample.
func TestWatchdog_StartSampleReuse(t *testing.T) {
	w := NewWatchdog(WatchdogOptions{Interval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(w.Close)
	c := NewContext(context.Background(), 0)
	defer c.Release()
	for {
		a := w.Begin(c, "a", 64*mib)
		first := w.last.Load()
		b := w.Begin(c, "b", 64*mib)
		second := w.last.Load()
		a.End()
		b.End()
		if first == nil {
			t.Fatal("Begin took no sample")
		}
		if time.Duration(nanotime(time.Now())-first.at) >= sampleReuse {
			continue // this machine paused between the two: try again
		}
		if second != first {
			t.Fatalf("two requests started within %v took two samples", sampleReuse)
		}
		if a.base != b.base {
			t.Fatalf("bases %d and %d from one sample", a.base, b.base)
		}
		break
	}
	time.Sleep(2 * sampleReuse)
	before := w.last.Load()
	w.Begin(c, "c", 64*mib).End()
	if w.last.Load() == before {
		t.Fatal("a request started after sampleReuse reused an old sample")
	}
}
