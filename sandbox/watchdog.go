package sandbox

// This file holds the memory watchdog: the in-process enforcement of
// Limits.MemoryLimit. Neither goja nor gopher-lua can say how much memory a
// VM holds, so the watchdog watches the one number the Go runtime does
// know, the bytes of heap objects, while requests run, to decide when the
// requests running hold more than their limits allow; and it asks the heap
// profile which request's VM holds that memory (attrib.go) to decide whom
// to stop. docs/sandbox.md explains the design and what it guarantees.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMemoryLimit is the cause (context.Cause) with which the watchdog
// cancels a request it stops; the engines' interrupt errors unwrap to it.
var ErrMemoryLimit = errors.New("memory limit exceeded")

// MemoryError is the cause of a request stopped by the watchdog. It
// unwraps to ErrMemoryLimit.
type MemoryError struct {
	App    string
	Limit  int64 // the request's memory_limit in bytes
	Growth int64 // heap growth (after a forced GC) while it ran, in bytes
	Budget int64 // the sum of the limits of the requests running then
	// Held is the live heap the heap profile charges to the request's VM
	// (0 for a request watched without a tag).
	Held int64
}

func (e *MemoryError) Error() string {
	if e.Held > 0 {
		return fmt.Sprintf("memory limit of %s exceeded: its VM holds about %s of live heap (the heap grew by %s while this request ran; %s allowed for the requests running)",
			FormatBytes(e.Limit), FormatBytes(e.Held), FormatBytes(e.Growth), FormatBytes(e.Budget))
	}
	return fmt.Sprintf("memory limit of %s exceeded: the heap grew by %s while this request ran (%s allowed for the requests running)",
		FormatBytes(e.Limit), FormatBytes(e.Growth), FormatBytes(e.Budget))
}

func (e *MemoryError) Unwrap() error { return ErrMemoryLimit }

// FormatBytes renders n as "64 MiB", "1.5 GiB" or "512 B".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for (f >= unit || f <= -unit) && i < 4 {
		f /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", f)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + string("KMGTP"[i]) + "iB"
}

// Defaults of WatchdogOptions.
const (
	DefaultWatchInterval   = 10 * time.Millisecond
	DefaultReleaseInterval = time.Second
)

// WatchdogOptions configure a Watchdog. Zero values get the defaults named.
type WatchdogOptions struct {
	// Interval is the sampling period while any request is watched
	// (default 10ms). Nothing runs while no request is.
	Interval time.Duration
	// Logger gets one line per request stopped (default slog.Default()).
	Logger *slog.Logger
	// ReadMem samples the heap (default: runtime/metrics).
	ReadMem func() MemSample
	// GC runs a full collection before a stop is decided, so that garbage
	// is never blamed on a request (default runtime.GC).
	GC func()
	// Release returns freed memory to the operating system after a stopped
	// request has ended, at most once per ReleaseInterval (default
	// debug.FreeOSMemory, every 1s at most).
	Release         func()
	ReleaseInterval time.Duration
	// Attribute returns the live heap bytes the heap profile charges to
	// each tag (default HeapByTag). The watchdog calls it at most once per
	// GC cycle, when it must choose whom to stop.
	Attribute func() map[uint32]int64
}

// WatchdogStats are the watchdog's counters.
type WatchdogStats struct {
	Watching  int    // requests watched now
	Stopped   uint64 // requests stopped for their memory limit
	ForcedGCs uint64 // collections forced to confirm a suspicion
	Cleared   uint64 // suspicions a forced GC cleared (the growth was garbage)
	// Unattributed counts the judgements that found the heap over the
	// budget but no running request's VM holding a quarter of its limit:
	// no one was stopped.
	Unattributed uint64
}

// Watchdog enforces per-request memory limits in one process. It is safe
// for concurrent use. Its sampling goroutine runs only while at least one
// request is watched; Close stops it for good.
type Watchdog struct {
	o           WatchdogOptions
	defaultRead bool                     // o.ReadMem is ReadMem: read the GC cycles alone, cheaply
	last        atomic.Pointer[sampleAt] // the latest sample (see startSample)

	mu      sync.Mutex
	watched map[*watch]struct{}
	seq     uint64
	running bool // the loop goroutine is running
	closed  bool
	pending *watch // a request stopped and not yet ended
	// killHeap and killGrowth are the heap and the last stopped request's
	// growth when it was stopped.
	killHeap   uint64
	killGrowth int64
	freed      bool // a stopped request ended: release memory
	lastFree   time.Time
	lastHeap   uint64 // the previous sample
	// The confirming GC: running, finished (not yet judged), and the heap
	// it left.
	gcRunning, gcDone bool
	gcHeap            uint64
	// The lowest live heap of the current and the previous liveWindow.
	liveCurMin, livePrevMin uint64
	liveWinAt               time.Time
	endCycle                uint64 // GC cycles completed when a watched request last ended
	killCycle               uint64 // … when a stopped request last ended
	dead                    uint64 // bytes that request may still leave on the heap (see deadAllowance)
	// The attribution of the GC cycle attrCycle, read at attrAt (see
	// attribution); wantAttr: the last check was suspicious, so the next
	// reads a fresh one before it takes mu.
	attr      map[uint32]int64
	attrCycle uint64
	attrOK    bool
	attrAt    time.Time
	wantAttr  atomic.Bool
	lastUnatt time.Time // the last "unattributed" log line
	st        WatchdogStats
	stop      chan struct{}
	wg        sync.WaitGroup // the loop and the confirming GC
	gcWG      sync.WaitGroup // the confirming GC alone (tests wait on it)
}

// watch is one watched request. base is the lowest heap seen since it
// started; the other fields are fixed.
type watch struct {
	w       *Watchdog
	app     string
	limit   int64
	seq     uint64
	start   time.Time
	stop    Stopper
	ended   bool   // guarded by Watchdog.mu
	base    uint64 // guarded by Watchdog.mu
	livePre uint64 // the lowest live heap (of the last GC) seen since it started; guarded by mu
	killed  bool   // guarded by Watchdog.mu
	tag     uint32 // the tag its VM runs under (RunTagged); 0 = none
}

// NewWatchdog makes a watchdog.
func NewWatchdog(o WatchdogOptions) *Watchdog {
	if o.Interval <= 0 {
		o.Interval = DefaultWatchInterval
	}
	defaultRead := o.ReadMem == nil
	if defaultRead {
		o.ReadMem = ReadMem
	}
	if o.GC == nil {
		o.GC = runtime.GC
	}
	if o.Release == nil {
		o.Release = debug.FreeOSMemory
	}
	if o.ReleaseInterval <= 0 {
		o.ReleaseInterval = DefaultReleaseInterval
	}
	if o.Attribute == nil {
		o.Attribute = HeapByTag
	}
	return &Watchdog{o: o, defaultRead: defaultRead, watched: map[*watch]struct{}{}, stop: make(chan struct{})}
}

var (
	processOnce sync.Once
	process     *Watchdog
)

// Process is the process's watchdog, shared by the host and the engines:
// the heap is one per process, so there must be one watchdog per process.
func Process() *Watchdog {
	processOnce.Do(func() { process = NewWatchdog(WatchdogOptions{}) })
	return process
}

// MemSample is what the watchdog reads of the Go heap.
type MemSample struct {
	// HeapObjects are the bytes of heap objects, live and not yet swept
	// (/memory/classes/heap/objects:bytes): it grows with every
	// allocation and drops as the GC sweeps.
	HeapObjects uint64
	// Live are the bytes the last GC cycle found reachable
	// (/gc/heap/live:bytes).
	Live uint64
	// Cycles counts completed GC cycles (/gc/cycles/total:gc-cycles).
	Cycles uint64
}

var memMetrics = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes", "/gc/cycles/total:gc-cycles"}

var samplePool = sync.Pool{New: func() any {
	s := make([]metrics.Sample, len(memMetrics))
	for i, n := range memMetrics {
		s[i].Name = n
	}
	return &s
}}

var cyclesPool = sync.Pool{New: func() any {
	return &[]metrics.Sample{{Name: memMetrics[2]}}
}}

// readCycles reads /gc/cycles/total:gc-cycles alone (a quarter of the cost
// of ReadMem).
func readCycles() uint64 {
	sp := cyclesPool.Get().(*[]metrics.Sample)
	defer cyclesPool.Put(sp)
	s := *sp
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// ReadMem samples the Go heap through runtime/metrics.
func ReadMem() MemSample {
	sp := samplePool.Get().(*[]metrics.Sample)
	defer samplePool.Put(sp)
	s := *sp
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return MemSample{HeapObjects: v(0), Live: v(1), Cycles: v(2)}
}

func (w *Watchdog) logger() *slog.Logger {
	if w.o.Logger != nil {
		return w.o.Logger
	}
	return slog.Default()
}

// Stopper is what the watchdog stops: a *Context, or a cancel func made
// one with StopFunc.
type Stopper interface {
	Stop(cause error)
}

// StopFunc adapts a context.CancelCauseFunc to Stopper.
type StopFunc context.CancelCauseFunc

// Stop calls f(cause).
func (f StopFunc) Stop(cause error) { f(cause) }

// Watch watches one request of app, whose memory limit is limit bytes, from
// now until the returned func is called (call it once the request has
// ended, VM released). The request must run with the returned context: the
// watchdog cancels it with a *MemoryError cause when the request is judged
// over its limit. limit <= 0, or a closed watchdog, watches nothing.
// The request path uses Begin with its Context instead, which costs less.
func (w *Watchdog) Watch(ctx context.Context, app string, limit int64) (context.Context, func()) {
	if limit <= 0 {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	wt := w.Begin(StopFunc(cancel), app, limit)
	return ctx, func() {
		wt.End()
		cancel(nil)
	}
}

// Watched is one request being watched (see Begin).
type Watched = watch

// Begin watches one request of app, whose memory limit is limit bytes, from
// now until End. When the request is judged over its limit the watchdog
// calls s.Stop with a *MemoryError (once, from its own goroutine). limit <=
// 0, or a closed watchdog, watches nothing (Begin returns nil, whose End
// does nothing).
func (w *Watchdog) Begin(s Stopper, app string, limit int64) *Watched {
	return w.BeginTagged(s, app, limit, 0)
}

// BeginTagged is Begin for a request whose VM runs under RunTagged(tag): the
// watchdog stops it only when the heap profile charges its VM with at
// least a quarter of its limit of live heap (see attribution), never for
// memory another VM holds. Requests watched without a tag (0) are judged
// by the old rule (the lowest heap base), and only while no tagged
// request runs.
func (w *Watchdog) BeginTagged(s Stopper, app string, limit int64, tag uint32) *Watched {
	if limit <= 0 {
		return nil
	}
	start := time.Now()
	wt := &watch{w: w, app: app, limit: limit, start: start, stop: s, tag: tag}
	ms := w.startSample(start)
	h := ms.HeapObjects
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.seq++
	wt.seq, wt.base, wt.livePre = w.seq, h, ms.Live
	w.lastHeap = h
	w.watched[wt] = struct{}{}
	if !w.running {
		w.running = true
		w.wg.Add(1)
		go w.loop()
	}
	w.mu.Unlock()
	return wt
}

// End ends the watch (call it once the request has ended, VM released).
// Calls after the first do nothing.
func (wt *watch) End() {
	if wt == nil {
		return
	}
	w := wt.w
	cycles := w.cycles()
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt.ended {
		return
	}
	wt.ended = true
	delete(w.watched, wt)
	w.endCycle = max(w.endCycle, cycles)
	if w.pending == wt {
		w.pending, w.freed = nil, true
		w.killCycle = w.endCycle
		// Its memory is garbage now, but on the heap until a GC that
		// began after this moment: up to its growth when stopped plus
		// the allocation that was in flight.
		w.dead = 3 * uint64(max(w.killGrowth, 0))
	}
}

// sampleReuse is how old a heap sample may be and still serve as a new
// request's starting point. Reading the heap costs about a quarter of a
// microsecond and a process-wide lock; a busy server starts a request every
// few tens of microseconds. Within this window the heap grows by what all
// requests allocate in it (well under a MiB on a busy server), which a
// request starting then may be blamed for: nothing next to a memory_limit.
const sampleReuse = time.Millisecond

type sampleAt struct {
	ms MemSample
	at int64 // nanotime
}

// startSample is the heap a request starts with: a fresh sample, or one
// taken within sampleReuse (only with the default ReadMem: a test's heap
// moves by hand).
func (w *Watchdog) startSample(t time.Time) MemSample {
	if !w.defaultRead {
		return w.o.ReadMem()
	}
	now := nanotime(t)
	if s := w.last.Load(); s != nil && now-s.at < int64(sampleReuse) {
		return s.ms
	}
	ms := w.o.ReadMem()
	w.last.Store(&sampleAt{ms: ms, at: now})
	return ms
}

// remember keeps a sample for startSample.
func (w *Watchdog) remember(ms MemSample) {
	if w.defaultRead {
		w.last.Store(&sampleAt{ms: ms, at: nanotime(time.Now())})
	}
}

// nanotime is t on a monotonic clock, in nanoseconds.
func nanotime(t time.Time) int64 { return int64(t.Sub(clockBase)) }

var clockBase = time.Now()

// cycles is the number of completed GC cycles.
func (w *Watchdog) cycles() uint64 {
	if w.o.ReadMem != nil && !w.defaultRead {
		return w.o.ReadMem().Cycles
	}
	return readCycles()
}

// Stats returns the counters.
func (w *Watchdog) Stats() WatchdogStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	st.Watching = len(w.watched)
	return st
}

// Close stops the sampling goroutine and waits for it. Requests watched
// then are no longer watched; later Watch calls watch nothing.
func (w *Watchdog) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// loop samples while any request is watched; it exits when none is (Watch
// starts it again) or on Close.
func (w *Watchdog) loop() {
	defer w.wg.Done()
	t := time.NewTicker(w.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			return
		case <-t.C:
		}
		if !w.check() {
			return
		}
	}
}

// check is one sample. It returns false (and marks the loop stopped) when
// nothing is watched any more.
//
// A request is stopped when the heap has grown past the budget (see lower)
// and one of these says the growth is not garbage:
//   - a full GC, started for the suspicion, has finished and the heap is
//     still past the budget (confirmed);
//   - the last GC cycle found that much live memory, and it began after the
//     last watched request ended (live);
//   - the growth passes three times the budget plus twice the live heap
//     the GC had found when the requests started: with every request
//     within its limit, the GC's pacing (GOGC=100) lets the heap reach
//     about twice (live + budget), so more than that is not garbage
//     (extreme: a fast attack is stopped without waiting for a GC, which
//     cannot finish before the attacker's current allocation does).
//
// The confirming GC runs in its own goroutine, so sampling goes on while it
// waits for the stop-the-world phases.
func (w *Watchdog) check() bool {
	ms := w.o.ReadMem()
	w.remember(ms)
	if w.wantAttr.Load() {
		w.refreshAttr(ms.Cycles)
	}
	h := ms.HeapObjects
	w.mu.Lock()
	release := w.freed && time.Since(w.lastFree) >= w.o.ReleaseInterval
	if release {
		w.freed, w.lastFree = false, time.Now()
	}
	if len(w.watched) == 0 && !release && !w.freed && !w.gcRunning {
		w.running = false
		w.gcDone = false
		w.mu.Unlock()
		return false
	}
	if ms.Cycles > 0 {
		// Like the bases, the live heap a request started with is lowered
		// to the lowest seen since: a previous attacker's memory that the
		// GC had not yet found dead is not a baseline.
		for wt := range w.watched {
			wt.livePre = min(wt.livePre, ms.Live)
		}
		w.noteLive(ms.Live)
	}
	how := ""
	if w.gcDone {
		// The confirming GC finished: judge with the heap it left.
		w.gcDone = false
		if w.lower(w.gcHeap, false) && !w.blocked(h) {
			how, h = "forced GC", max(h, w.gcHeap)
		} else {
			w.st.Cleared++
		}
	}
	suspect := w.lower(h, true) && !w.blocked(h)
	if !suspect && w.pending == nil {
		w.wantAttr.Store(false)
	}
	if how == "" && suspect {
		switch {
		case ms.Cycles >= w.endCycle+2 && w.liveOver(ms.Live, 0):
			how = "last GC"
		case w.liveOver(h, 2*uint64(w.budget())+2*w.livePre()+w.deadAllowance(ms.Cycles)):
			how = "extreme growth"
		case !w.gcRunning:
			w.gcRunning = true
			w.st.ForcedGCs++
			w.wg.Add(1)
			w.gcWG.Add(1)
			go w.confirm()
		}
	}
	var stops []stop
	unattributed := false
	switch {
	case w.pending != nil && !w.blocked(h):
		// Pressure: the heap kept growing after a stop by more than the
		// others' budget. The stopped request was not the only culprit
		// (or its last allocation is still in flight): stop every request
		// over its own limit.
		how = "pressure after a stop"
		stops, unattributed = w.choose(h, ms.Cycles, true, false)
	case how != "":
		stops, unattributed = w.choose(h, ms.Cycles, false, how == "extreme growth")
	}
	logUnatt := false
	if unattributed {
		w.st.Unattributed++
		if time.Since(w.lastUnatt) >= time.Second {
			w.lastUnatt, logUnatt = time.Now(), true
		}
		if how != "forced GC" && !w.gcRunning {
			// The profile may predate the growth: a forced GC refreshes
			// it, and its end is judged again.
			w.gcRunning = true
			w.st.ForcedGCs++
			w.wg.Add(1)
			w.gcWG.Add(1)
			go w.confirm()
		}
	}
	budgetNow, growthNow := w.budget(), w.growth(h)
	for _, st := range stops {
		st.wt.killed = true
		w.pending, w.killHeap, w.killGrowth = st.wt, h, st.growth
		w.st.Stopped++
	}
	w.mu.Unlock()
	if release {
		// The stopped request's memory is garbage now: give it back to
		// the OS so that RSS, not only the heap, comes down.
		w.o.Release()
	}
	if logUnatt {
		w.logger().Warn("memory watchdog: the heap is over the running requests' budget, but no running request's VM holds it; stopping none",
			"heap_growth", growthNow, "budget", budgetNow, "confirmed_by", how)
	}
	for _, st := range stops {
		v := st.wt
		err := &MemoryError{App: v.app, Limit: v.limit, Growth: st.growth, Budget: st.budget, Held: st.held}
		w.logger().Warn("memory watchdog: stopping a request over its memory limit", "app", v.app,
			"memory_limit", v.limit, "vm_heap", st.held, "heap_growth", st.growth, "budget", st.budget,
			"running_for", time.Since(v.start).Round(time.Millisecond), "confirmed_by", how)
		v.stop.Stop(err)
	}
	return true
}

// stop is a request check decided to stop.
type stop struct {
	wt                   *watch
	growth, budget, held int64
}

// attrFloor is the least live heap, as a fraction of its limit, the heap
// profile must charge to a request's VM for the request to be stopped.
const attrFloor = 4 // a quarter

// extremeFloor is the least live heap charged to a VM for its request to
// be stopped under extreme growth (see choose).
const extremeFloor = 1 << 20

// choose picks the requests to stop once the heap is judged over the
// budget (pressure: after a stop, the heap still growing). Called with mu
// held.
//
// Requests watched with a tag are chosen by attribution alone: among those
// whose VM the heap profile charges with at least a quarter of their
// limit (under extreme growth: 1 MiB), the one holding the most for its
// limit (pressure: every one holding more than its limit). A tagged request whose VM holds less is
// never stopped, whatever the heap does; if none qualifies, no one is
// (unattributed reports it). Requests watched without a tag are judged as
// before (the lowest base: the one that ran through the most growth), and
// only when no tagged request runs or is ending.
func (w *Watchdog) choose(h, cycles uint64, pressure, extreme bool) ([]stop, bool) {
	budget := w.budget()
	tagged := false
	for wt := range w.watched {
		// A stopped tagged request still ending counts: the growth may
		// be its allocation in flight, never an untagged start-up's.
		if wt.tag != 0 {
			tagged = true
			break
		}
	}
	if !tagged {
		if pressure {
			var stops []stop
			for wt := range w.watched {
				if !wt.killed && h > wt.base && int64(h-wt.base) > wt.limit {
					stops = append(stops, stop{wt: wt, growth: int64(h - wt.base), budget: budget})
				}
			}
			return stops, false
		}
		if v, growth, budget := w.victim(h); v != nil {
			return []stop{{wt: v, growth: growth, budget: budget}}, false
		}
		return nil, false
	}
	attr := w.attribution(cycles)
	var stops []stop
	var best *watch
	var bestHeld int64
	for wt := range w.watched {
		if wt.killed || wt.tag == 0 {
			continue
		}
		held := attr[wt.tag]
		floor := wt.limit / attrFloor
		if extreme {
			// More growth than garbage can explain, past the budget
			// many times: a fast attacker (a string doubling) whose
			// latest allocations the profile cannot show before its
			// next GC. Any VM the profile charges with a MiB may be it.
			floor = min(floor, extremeFloor)
		}
		if held < floor {
			continue
		}
		if pressure {
			if held > wt.limit {
				stops = append(stops, stop{wt: wt, growth: w.growthOf(wt, h), budget: budget, held: held})
			}
			continue
		}
		// The most held for its limit; the oldest on a tie.
		if best == nil || float64(held)/float64(wt.limit) > float64(bestHeld)/float64(best.limit) ||
			float64(held)/float64(wt.limit) == float64(bestHeld)/float64(best.limit) && wt.seq < best.seq {
			best, bestHeld = wt, held
		}
	}
	if best != nil {
		stops = append(stops, stop{wt: best, growth: w.growthOf(best, h), budget: budget, held: bestHeld})
	}
	return stops, len(stops) == 0
}

func (w *Watchdog) growthOf(wt *watch, h uint64) int64 {
	if h > wt.base {
		return int64(h - wt.base)
	}
	return 0
}

// growth is the heap's growth since the lowest base. Called with mu held.
func (w *Watchdog) growth(h uint64) int64 {
	first, minBase := true, uint64(0)
	for wt := range w.watched {
		if first || wt.base < minBase {
			minBase, first = wt.base, false
		}
	}
	if first || h < minBase {
		return 0
	}
	return int64(h - minBase)
}

// attribution is the live heap charged to each tag as of GC cycle cycles,
// computed at most once per cycle (the confirming GC computes it as it
// ends). Called with mu held.
//
// Reading the profile takes milliseconds, so it is read outside mu when it
// can be: check refreshes it before taking mu once a check has been
// suspicious (refreshAttr); only the first judgement reads it under mu.
func (w *Watchdog) attribution(cycles uint64) map[uint32]int64 {
	w.wantAttr.Store(true)
	if !w.attrOK {
		w.attr, w.attrCycle, w.attrOK, w.attrAt = w.o.Attribute(), cycles, true, time.Now()
	}
	return w.attr
}

// attrEvery is the least time between two reads of the profile.
const attrEvery = 50 * time.Millisecond

// refreshAttr reads the attribution for GC cycle cycles, without mu held,
// if the one held is older (and at least attrEvery old).
func (w *Watchdog) refreshAttr(cycles uint64) {
	w.mu.Lock()
	stale := !w.attrOK || w.attrCycle != cycles && time.Since(w.attrAt) >= attrEvery
	w.mu.Unlock()
	if !stale {
		return
	}
	attr := w.o.Attribute()
	w.mu.Lock()
	w.attr, w.attrCycle, w.attrOK, w.attrAt = attr, cycles, true, time.Now()
	w.mu.Unlock()
}

// confirm runs the confirming GC and records the heap it leaves.
func (w *Watchdog) confirm() {
	defer w.wg.Done()
	defer w.gcWG.Done()
	w.o.GC()
	ms := w.o.ReadMem()
	w.mu.Lock()
	tagged := false
	for wt := range w.watched {
		tagged = tagged || wt.tag != 0 && !wt.killed
	}
	w.mu.Unlock()
	if !tagged {
		w.mu.Lock()
		w.gcRunning, w.gcDone, w.gcHeap = false, true, ms.HeapObjects
		w.mu.Unlock()
		return
	}
	// The heap profile shows an allocation only once a GC cycle after its
	// own has completed (measured: after one forced GC a fresh 128 MiB
	// string was often not charged yet): a second collection brings the
	// growth that made the suspicion into it. Then the attribution,
	// outside the lock.
	w.o.GC()
	ms2 := w.o.ReadMem()
	attr := w.o.Attribute()
	w.mu.Lock()
	w.gcRunning, w.gcDone, w.gcHeap = false, true, ms.HeapObjects
	w.attr, w.attrCycle, w.attrOK, w.attrAt = attr, ms2.Cycles, true, time.Now()
	w.mu.Unlock()
}

// blocked reports whether a stopped request is still ending, so that its
// memory must not be blamed on another: until it ends, no other request is
// stopped, unless the heap grows past the kill by more than the others'
// budget (then check stops, under pressure, every request over its own
// limit). Called with mu held.
func (w *Watchdog) blocked(h uint64) bool {
	if w.pending == nil {
		return false
	}
	return !(h > w.killHeap && int64(h-w.killHeap) > w.budget())
}

// budget is the sum of the limits of the requests watched and not yet
// stopped. Called with mu held.
// deadAllowance is the garbage a stopped request that has ended may still
// leave on the heap: none once a GC cycle that began after it ended has
// completed. Called with mu held.
func (w *Watchdog) deadAllowance(cycles uint64) uint64 {
	if cycles >= w.killCycle+2 {
		return 0
	}
	return w.dead
}

// liveWindow is how long the lowest live heap seen is remembered.
const liveWindow = 5 * time.Second

// noteLive records a sample of the live heap in the current window; the
// lowest of this window and the previous one is a baseline that a
// previous attacker's memory (still live at the last GC before a new
// request started) does not inflate. Called with mu held.
func (w *Watchdog) noteLive(live uint64) {
	now := time.Now()
	if now.Sub(w.liveWinAt) > liveWindow {
		w.livePrevMin, w.liveCurMin, w.liveWinAt = w.liveCurMin, live, now
		if w.livePrevMin == 0 {
			w.livePrevMin = live
		}
	}
	if w.liveCurMin == 0 {
		w.liveCurMin = live
	}
	w.liveCurMin = min(w.liveCurMin, live)
}

// livePre is the live heap the last GC had found when the request with
// the lowest base started (a request that started later, while an attack
// grew, would count the attack itself as its starting point), or the
// lowest live heap of the last 5–10 s if lower. Called with mu held.
func (w *Watchdog) livePre() uint64 {
	base := w.livePre0()
	if w.liveCurMin > 0 || w.livePrevMin > 0 {
		base = min(base, max(min(w.liveCurMin, w.livePrevMin), 1))
	}
	return base
}

func (w *Watchdog) livePre0() uint64 {
	var low *watch
	for wt := range w.watched {
		if !wt.killed && (low == nil || wt.base < low.base || (wt.base == low.base && wt.seq < low.seq)) {
			low = wt
		}
	}
	if low == nil {
		return 0
	}
	return low.livePre
}

func (w *Watchdog) budget() int64 {
	var b int64
	for wt := range w.watched {
		if !wt.killed {
			b += wt.limit
		}
	}
	return b
}

// liveOver reports whether live is more than the budget plus slack above
// the lowest base. Called with mu held.
func (w *Watchdog) liveOver(live, slack uint64) bool {
	var minBase uint64
	var budget int64
	first := true
	for wt := range w.watched {
		if wt.killed {
			continue
		}
		budget += wt.limit
		if first || wt.base < minBase {
			minBase, first = wt.base, false
		}
	}
	return !first && live > minBase && int64(live-minBase-slack) > budget && live-minBase > slack
}

// lower lowers every watched request's base to h and reports whether the
// heap has grown past the budget: more, since the lowest base, than the
// sum of the limits of the requests watched (killed ones excluded). With
// early, a heap growing fast (by a quarter of the budget since the last
// sample) is suspect from half the budget on, so that the confirming GC
// starts one doubling sooner. Called with mu held.
func (w *Watchdog) lower(h uint64, early bool) bool {
	prev := w.lastHeap
	w.lastHeap = h
	var minBase uint64
	var budget int64
	first := true
	for wt := range w.watched {
		if h < wt.base {
			wt.base = h
		}
		if wt.killed {
			continue
		}
		budget += wt.limit
		if first || wt.base < minBase {
			minBase, first = wt.base, false
		}
	}
	if first {
		return false
	}
	growth := int64(h - minBase)
	if growth > budget {
		return true
	}
	return early && growth > budget/2 && prev < h && int64(h-prev) > budget/4
}

// victim picks the request to stop: the one that ran through the most heap
// growth (the lowest base), the oldest on a tie. Called with mu held, after
// lower reported the budget passed.
func (w *Watchdog) victim(h uint64) (*watch, int64, int64) {
	var v *watch
	var budget int64
	for wt := range w.watched {
		if wt.killed {
			continue
		}
		budget += wt.limit
		if v == nil || wt.base < v.base || (wt.base == v.base && wt.seq < v.seq) {
			v = wt
		}
	}
	if v == nil {
		return nil, 0, 0
	}
	return v, int64(h - v.base), budget
}
