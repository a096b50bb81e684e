package prefork

// This file holds the Supervisor: the state machine that keeps a pool's
// worker slots filled. It starts nothing itself: a Spawner starts a
// process and the process's owner reports back (Ready, Exited). Every
// method runs under one mutex and timers come from a Clock, so the unit
// tests drive it step by step on a fake clock.

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Proc is one worker process as the Supervisor sees it.
type Proc interface {
	PID() int
	// Terminate asks the worker to stop accepting, finish its requests
	// and exit (SIGTERM).
	Terminate()
	// Kill ends it now (SIGKILL).
	Kill()
}

// Spawner starts worker processes. Spawn must not call back into the
// Supervisor before it returns; the process reports Ready and Exited
// later, from its own goroutines.
type Spawner interface {
	Spawn(slot, gen int) (Proc, error)
}

// Clock is the time source; tests use a fake one.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a Clock's timer.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// RealClock is the system clock.
var RealClock Clock = realClock{}

// WState is a worker's state.
type WState string

// The states of a worker.
const (
	WStarting WState = "starting" // spawned, not ready yet
	WReady    WState = "ready"    // accepting
	WRetiring WState = "retiring" // told to stop; killed after the grace period
	WExited   WState = "exited"
)

// Options tune a Supervisor.
type Options struct {
	// Processes is the number of worker slots.
	Processes int
	// StartTimeout bounds a worker's start, from spawn to Ready; a worker
	// not ready by then is killed and counts as a failure.
	StartTimeout time.Duration
	// Grace is how long a retiring worker may finish its requests before
	// it is killed.
	Grace time.Duration
	// StableAfter is how long a worker must live for its death not to
	// count towards a crash loop.
	StableAfter time.Duration
	// BackoffMin and BackoffMax bound the wait before restarting a slot in
	// a crash loop: the first failure in a row restarts at once, the
	// second after BackoffMin, doubling up to BackoffMax.
	BackoffMin, BackoffMax time.Duration
}

func (o Options) withDefaults() Options {
	if o.Processes <= 0 {
		o.Processes = 1
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.StableAfter <= 0 {
		o.StableAfter = 5 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 10 * time.Second
	}
	return o
}

// worker is one process in the Supervisor's books.
type worker struct {
	slot, gen int
	proc      Proc
	state     WState
	started   time.Time
	readyAt   time.Time
	why       string // why it is retiring
	timer     Timer  // start timeout or kill-after-grace
	// replaces is the worker this one takes over from once ready (a
	// graceful replacement); nil for a plain start.
	replaces *worker
}

// slot is one of the pool's Processes places.
type slot struct {
	cur      *worker // the serving (or starting) worker; nil in backoff
	pending  *worker // a replacement being started while cur serves
	failures int     // failures in a row
	restarts int
	lastExit string
	lastAt   time.Time
	retryAt  time.Time
	retry    Timer
}

// Supervisor keeps Processes workers running: it restarts a dead worker at
// once (with backoff only in a crash loop), retires workers on request
// (stuck, too big, reload) by starting a replacement first, and drains.
type Supervisor struct {
	name  string
	o     Options
	sp    Spawner
	clock Clock
	log   *slog.Logger

	mu       sync.Mutex
	slots    []*slot
	workers  map[Proc]*worker // every live process, any state
	gen      int
	draining bool
	done     chan struct{} // closed when draining and no process is left
	// reload tracks the replacements of the last Reload: cb is called
	// once each of them is ready or has failed.
	reload struct {
		cb         func(ok, failed int)
		pending    map[*worker]bool
		ok, failed int
	}
	doneOnce sync.Once
}

// NewSupervisor returns a Supervisor; Start spawns its workers.
func NewSupervisor(name string, o Options, sp Spawner, clock Clock, log *slog.Logger) *Supervisor {
	o = o.withDefaults()
	if clock == nil {
		clock = RealClock
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Supervisor{name: name, o: o, sp: sp, clock: clock, log: log,
		workers: map[Proc]*worker{}, done: make(chan struct{})}
	for range o.Processes {
		s.slots = append(s.slots, &slot{})
	}
	return s
}

// Start spawns a worker in every slot.
func (s *Supervisor) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.slots {
		s.spawnLocked(i, nil)
	}
}

// spawnLocked starts a worker in slot i; with replaces set, it is a
// graceful replacement of that worker.
func (s *Supervisor) spawnLocked(i int, replaces *worker) {
	sl := s.slots[i]
	if s.draining {
		return
	}
	s.gen++
	p, err := s.sp.Spawn(i, s.gen)
	now := s.clock.Now()
	if err != nil {
		if replaces != nil {
			s.log.Error("could not start a replacement worker; the old one keeps serving", "pool", s.name, "slot", i, "err", err)
			return
		}
		s.failLocked(i, fmt.Sprintf("did not start: %v", err), 0)
		return
	}
	w := &worker{slot: i, gen: s.gen, proc: p, state: WStarting, started: now, replaces: replaces}
	s.workers[p] = w
	w.timer = s.clock.AfterFunc(s.o.StartTimeout, func() { s.startTimedOut(p) })
	if replaces != nil {
		sl.pending = w
	} else {
		sl.cur = w
	}
}

func (s *Supervisor) startTimedOut(p Proc) {
	s.mu.Lock()
	w := s.workers[p]
	if w == nil || w.state != WStarting {
		s.mu.Unlock()
		return
	}
	w.why = "not ready within the start timeout"
	s.mu.Unlock()
	s.log.Error("worker did not become ready in time; killing it", "pool", s.name, "pid", p.PID(), "start_timeout", s.o.StartTimeout)
	p.Kill()
}

// Ready records that p accepts connections. A replacement that becomes
// ready retires the worker it replaces.
func (s *Supervisor) Ready(p Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[p]
	if w == nil || w.state != WStarting {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.state, w.readyAt = WReady, s.clock.Now()
	s.reloadDoneLocked(w, true)
	sl := s.slots[w.slot]
	if sl.pending == w {
		old := w.replaces
		sl.pending, sl.cur = nil, w
		w.replaces = nil
		if old != nil && old.state != WExited {
			s.retireLocked(old, old.why)
		}
	}
	if s.draining {
		s.retireLocked(w, "shutdown")
	}
}

// Retire replaces p: a new worker is started in its slot, and p is told to
// stop accepting and finish its requests, and is killed after the grace
// period. With graceful set (a reload, max_requests), p keeps serving until
// its replacement is ready; else (a stuck request) p stops at once.
func (s *Supervisor) Retire(p Proc, why string, graceful bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[p]
	if w == nil || w.state == WRetiring || w.state == WExited {
		return
	}
	sl := s.slots[w.slot]
	if sl.cur != w || sl.pending != nil {
		return // already being replaced
	}
	w.why = why
	s.log.Info("retiring worker", "pool", s.name, "pid", p.PID(), "why", why)
	if graceful && w.state == WReady && !s.draining {
		s.spawnLocked(w.slot, w)
		if sl.pending != nil {
			return
		}
		// The replacement did not start: p keeps serving.
		return
	}
	s.retireLocked(w, why)
	sl.cur = nil
	s.spawnLocked(w.slot, nil)
}

// SetGrace changes the grace period of retirements from now on.
func (s *Supervisor) SetGrace(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Grace = d
}

// Replacing reports whether p is retiring or a replacement for it is
// starting (so it needs no other retirement).
func (s *Supervisor) Replacing(p Proc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[p]
	if w == nil || w.state == WRetiring || w.state == WExited {
		return true
	}
	sl := s.slots[w.slot]
	return sl.cur != w || sl.pending != nil
}

// Reload replaces every worker gracefully (SIGHUP). done (if not nil) is
// called, on its own goroutine, once every replacement is ready or has
// failed, with their counts; a later Reload calls the earlier one's done
// at once, counting the replacements still starting as failed.
func (s *Supervisor) Reload(done func(ok, failed int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := &s.reload; r.cb != nil {
		cb, ok, failed := r.cb, r.ok, r.failed+len(r.pending)
		go cb(ok, failed)
	}
	s.reload.cb, s.reload.pending, s.reload.ok, s.reload.failed = done, map[*worker]bool{}, 0, 0
	defer s.reloadCheckLocked()
	for i, sl := range s.slots {
		if sl.pending != nil && sl.pending.state == WStarting {
			// A replacement of the previous configuration is starting:
			// retire it too, and start one of this configuration.
			old := sl.pending
			sl.pending = nil
			s.retireLocked(old, "reload")
		}
		switch {
		case sl.cur == nil:
			// In backoff: the retry starts a worker of the new config.
		case sl.cur.state == WReady:
			sl.cur.why = "reload"
			s.spawnLocked(i, sl.cur)
			if sl.pending != nil {
				s.reload.pending[sl.pending] = true
			} else {
				s.reload.failed++
			}
		default:
			// Still starting with the old configuration: replace it now.
			old := sl.cur
			sl.cur = nil
			s.retireLocked(old, "reload")
			s.spawnLocked(i, nil)
			if sl.cur != nil {
				s.reload.pending[sl.cur] = true
			}
		}
	}
}

// reloadDoneLocked counts w (ready or failed) for the current Reload.
func (s *Supervisor) reloadDoneLocked(w *worker, ok bool) {
	r := &s.reload
	if !r.pending[w] {
		return
	}
	delete(r.pending, w)
	if ok {
		r.ok++
	} else {
		r.failed++
	}
	s.reloadCheckLocked()
}

func (s *Supervisor) reloadCheckLocked() {
	r := &s.reload
	if r.cb == nil || len(r.pending) > 0 {
		return
	}
	cb, ok, failed := r.cb, r.ok, r.failed
	r.cb = nil
	go cb(ok, failed)
}

// retireLocked tells w to stop and arms its kill timer.
func (s *Supervisor) retireLocked(w *worker, why string) {
	if w.state == WRetiring || w.state == WExited {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.state, w.why = WRetiring, why
	p := w.proc
	p.Terminate()
	w.timer = s.clock.AfterFunc(s.o.Grace, func() { s.graceOver(p) })
}

func (s *Supervisor) graceOver(p Proc) {
	s.mu.Lock()
	w := s.workers[p]
	if w == nil || w.state != WRetiring {
		s.mu.Unlock()
		return
	}
	why := w.why
	s.mu.Unlock()
	s.log.Warn("worker still running at the end of the grace period; killing it", "pool", s.name, "pid", p.PID(), "why", why, "grace", s.o.Grace)
	p.Kill()
}

// Exited records that p ended, reason says how (and what it was running).
func (s *Supervisor) Exited(p Proc, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[p]
	if w == nil {
		return
	}
	delete(s.workers, p)
	if w.timer != nil {
		w.timer.Stop()
	}
	prev := w.state
	w.state = WExited
	s.reloadDoneLocked(w, false)
	sl := s.slots[w.slot]
	now := s.clock.Now()
	switch {
	case sl.pending == w:
		// A replacement died before it was ready: the old worker keeps
		// serving.
		sl.pending = nil
		sl.restarts++
		sl.lastExit, sl.lastAt = reason, now
		s.log.Error("replacement worker died before it was ready; the old one keeps serving", "pool", s.name, "pid", p.PID(), "reason", reason)
		if old := w.replaces; old != nil {
			old.why = ""
		}
	case sl.cur == w && prev != WRetiring:
		sl.cur = nil
		if s.draining {
			break
		}
		if w.why != "" && prev == WStarting {
			reason = w.why + "; " + reason
		}
		s.failLocked(w.slot, reason, now.Sub(w.started))
	default:
		// A retired worker ended, as asked.
		s.log.Info("worker stopped", "pool", s.name, "pid", p.PID(), "why", w.why, "exit", reason)
		if sl.cur == w {
			sl.cur = nil
		}
	}
	s.checkDoneLocked()
}

// failLocked records a failure of slot i and schedules its restart: at once
// after a worker that lived StableAfter, with backoff in a crash loop.
func (s *Supervisor) failLocked(i int, reason string, uptime time.Duration) {
	sl := s.slots[i]
	sl.restarts++
	if uptime >= s.o.StableAfter {
		sl.failures = 1
	} else {
		sl.failures++
	}
	now := s.clock.Now()
	sl.lastExit, sl.lastAt = reason, now
	delay := backoffDelay(sl.failures, s.o.BackoffMin, s.o.BackoffMax)
	s.log.Error("worker died; replacing it", "pool", s.name, "slot", i, "reason", reason,
		"uptime", uptime.Round(time.Millisecond), "restarts", sl.restarts, "failures_in_a_row", sl.failures, "retry_in", delay)
	if delay == 0 {
		s.spawnLocked(i, nil)
		return
	}
	sl.retryAt = now.Add(delay)
	sl.retry = s.clock.AfterFunc(delay, func() { s.retrySlot(i) })
}

func (s *Supervisor) retrySlot(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[i]
	sl.retry = nil
	sl.retryAt = time.Time{}
	if sl.cur == nil && !s.draining {
		s.spawnLocked(i, nil)
	}
}

// backoffDelay is the wait before restart after n failures in a row: none
// after the first, then min, 2·min, … up to max.
func backoffDelay(n int, min, max time.Duration) time.Duration {
	if n <= 1 {
		return 0
	}
	d := min
	for i := 2; i < n && d < max; i++ {
		d *= 2
	}
	return minDur(d, max)
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// Stable resets the failure count of slots whose worker has lived
// StableAfter (called from the master's periodic check).
func (s *Supervisor) Stable() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, sl := range s.slots {
		if w := sl.cur; w != nil && w.state == WReady && now.Sub(w.started) >= s.o.StableAfter {
			sl.failures = 0
		}
	}
}

// Drain stops every worker: each is told to finish its requests and
// killed after the grace period. Done is closed once all have exited.
func (s *Supervisor) Drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
	for _, sl := range s.slots {
		if sl.retry != nil {
			sl.retry.Stop()
			sl.retry = nil
		}
		sl.retryAt = time.Time{}
	}
	for _, w := range s.workers {
		s.retireLocked(w, "shutdown")
	}
	s.checkDoneLocked()
}

func (s *Supervisor) checkDoneLocked() {
	if s.draining && len(s.workers) == 0 {
		s.doneOnce.Do(func() { close(s.done) })
	}
}

// Done is closed when a drain has ended every worker.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Procs returns the live processes (any state).
func (s *Supervisor) Procs() []Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Proc, 0, len(s.workers))
	for p := range s.workers {
		out = append(out, p)
	}
	return out
}

// WorkerInfo is one worker's line of the status page.
type WorkerInfo struct {
	Slot     int       `json:"slot"`
	PID      int       `json:"pid"`
	State    WState    `json:"state"`
	Started  time.Time `json:"started"`
	UptimeS  int64     `json:"uptime_s"`
	Why      string    `json:"retiring_why,omitempty"`
	Restarts int       `json:"restarts"`
	LastExit string    `json:"last_exit,omitempty"`
	// LastExitTime is when the slot's previous worker ended.
	LastExitTime *time.Time `json:"last_exit_time,omitempty"`
}

// SlotInfo is one slot with no running worker (backoff).
type SlotInfo struct {
	Slot     int        `json:"slot"`
	Restarts int        `json:"restarts"`
	Failures int        `json:"failures_in_a_row"`
	LastExit string     `json:"last_exit,omitempty"`
	RetryAt  *time.Time `json:"retry_at,omitempty"`
}

// Snapshot lists the workers (by slot, then start) and the slots waiting
// to restart.
func (s *Supervisor) Snapshot() ([]WorkerInfo, []SlotInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var ws []WorkerInfo
	for _, w := range s.workers {
		sl := s.slots[w.slot]
		wi := WorkerInfo{Slot: w.slot, PID: w.proc.PID(), State: w.state, Started: w.started.UTC(),
			UptimeS: int64(now.Sub(w.started).Seconds()), Restarts: sl.restarts, LastExit: sl.lastExit}
		if w.state == WRetiring {
			wi.Why = w.why
		}
		if !sl.lastAt.IsZero() {
			t := sl.lastAt.UTC()
			wi.LastExitTime = &t
		}
		ws = append(ws, wi)
	}
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].Slot != ws[j].Slot {
			return ws[i].Slot < ws[j].Slot
		}
		return ws[i].Started.Before(ws[j].Started)
	})
	var ss []SlotInfo
	for i, sl := range s.slots {
		if sl.cur == nil && !sl.retryAt.IsZero() {
			t := sl.retryAt.UTC()
			ss = append(ss, SlotInfo{Slot: i, Restarts: sl.restarts, Failures: sl.failures, LastExit: sl.lastExit, RetryAt: &t})
		}
	}
	return ws, ss
}
