package prefork

import (
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock runs timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d, running every timer that falls due, in
// order of their times.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *fakeTimer
		for i, t := range c.timers {
			if t.stopped {
				continue
			}
			if !t.at.After(end) {
				due = t
				c.timers = append(c.timers[:i:i], c.timers[i+1:]...)
			}
			break
		}
		if due == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		due.stopped = true
		if due.at.After(c.now) {
			c.now = due.at
		}
		c.mu.Unlock()
		due.f()
	}
}

type fakeProc struct {
	pid        int
	slot       int
	terminated bool
	killed     bool
}

func (p *fakeProc) PID() int       { return p.pid }
func (p *fakeProc) Terminate()     { p.terminated = true }
func (p *fakeProc) Kill()          { p.killed = true }
func (p *fakeProc) String() string { return "" }

type fakeSpawner struct {
	mu    sync.Mutex
	next  int
	procs []*fakeProc
	fail  error
}

func (f *fakeSpawner) Spawn(slot, gen int) (Proc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	f.next++
	p := &fakeProc{pid: 1000 + f.next, slot: slot}
	f.procs = append(f.procs, p)
	return p, nil
}

func (f *fakeSpawner) last() *fakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[len(f.procs)-1]
}

func (f *fakeSpawner) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.procs)
}

var testOpts = Options{Processes: 2, StartTimeout: 10 * time.Second, Grace: 5 * time.Second,
	StableAfter: 3 * time.Second, BackoffMin: 100 * time.Millisecond, BackoffMax: 2 * time.Second}

func newTest(t *testing.T, o Options) (*Supervisor, *fakeSpawner, *fakeClock) {
	t.Helper()
	sp, clk := &fakeSpawner{}, newFakeClock()
	s := NewSupervisor("test", o, sp, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return s, sp, clk
}

func states(s *Supervisor) map[int]WState {
	ws, _ := s.Snapshot()
	out := map[int]WState{}
	for _, w := range ws {
		out[w.PID] = w.State
	}
	return out
}

func TestSupervisor_SpawnReady(t *testing.T) {
	s, sp, _ := newTest(t, testOpts)
	s.Start()
	if sp.count() != 2 {
		t.Fatalf("spawned %d workers, want 2", sp.count())
	}
	for _, p := range sp.procs {
		if st := states(s)[p.pid]; st != WStarting {
			t.Fatalf("worker %d is %s before Ready, want starting", p.pid, st)
		}
		s.Ready(p)
		if st := states(s)[p.pid]; st != WReady {
			t.Fatalf("worker %d is %s after Ready, want ready", p.pid, st)
		}
	}
}

func TestSupervisor_CrashRestartsAtOnceThenBacksOff(t *testing.T) {
	s, sp, clk := newTest(t, testOpts)
	s.Start()
	for _, p := range sp.procs {
		s.Ready(p)
	}
	// A worker that served long enough dies: replaced at once.
	clk.Advance(10 * time.Second)
	victim := sp.procs[0]
	s.Exited(victim, "killed by signal killed")
	if sp.count() != 3 {
		t.Fatalf("after a crash %d spawns, want 3 (a replacement at once)", sp.count())
	}
	repl := sp.last()
	if repl.slot != victim.slot {
		t.Fatalf("replacement in slot %d, want %d", repl.slot, victim.slot)
	}
	// It dies at once too: the second failure in a row waits BackoffMin.
	s.Exited(repl, "exit status 2")
	if sp.count() != 3 {
		t.Fatalf("second quick failure restarted at once (%d spawns)", sp.count())
	}
	_, slots := s.Snapshot()
	if len(slots) != 1 || slots[0].Failures != 2 || slots[0].LastExit != "exit status 2" {
		t.Fatalf("slots in backoff: %+v", slots)
	}
	clk.Advance(testOpts.BackoffMin - time.Millisecond)
	if sp.count() != 3 {
		t.Fatal("restarted before the backoff ended")
	}
	clk.Advance(time.Millisecond)
	if sp.count() != 4 {
		t.Fatalf("not restarted when the backoff ended (%d spawns)", sp.count())
	}
	// The third failure in a row doubles the wait.
	s.Exited(sp.last(), "exit status 2")
	clk.Advance(2*testOpts.BackoffMin - time.Millisecond)
	if sp.count() != 4 {
		t.Fatal("restarted before the doubled backoff ended")
	}
	clk.Advance(time.Millisecond)
	if sp.count() != 5 {
		t.Fatal("not restarted after the doubled backoff")
	}
	// A worker that lives StableAfter resets the run of failures.
	p := sp.last()
	s.Ready(p)
	clk.Advance(testOpts.StableAfter)
	s.Stable()
	s.Exited(p, "killed by signal killed")
	if sp.count() != 6 {
		t.Fatal("a crash after a stable run was not replaced at once")
	}
	// The other slot was never touched.
	if st := states(s)[sp.procs[1].pid]; st != WReady {
		t.Fatalf("the other worker is %s", st)
	}
}

func TestSupervisor_BackoffCapped(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 0, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond, 6: 1600 * time.Millisecond, 7: 2 * time.Second, 50: 2 * time.Second} {
		if got := backoffDelay(n, 100*time.Millisecond, 2*time.Second); got != want {
			t.Errorf("backoffDelay(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestSupervisor_SpawnErrorBacksOff(t *testing.T) {
	o := testOpts
	o.Processes = 1
	s, sp, clk := newTest(t, o)
	sp.fail = errors.New("exec: no such file")
	s.Start()
	_, slots := s.Snapshot()
	// The first failure retries at once and fails again; the second
	// waits.
	if len(slots) != 1 || slots[0].Failures != 2 || slots[0].RetryAt == nil {
		t.Fatalf("after two failed spawns: %+v", slots)
	}
	sp.fail = nil
	clk.Advance(o.BackoffMax)
	if sp.count() != 1 {
		t.Fatalf("no worker started once spawning works again (%d)", sp.count())
	}
}

func TestSupervisor_StartTimeoutKills(t *testing.T) {
	o := testOpts
	o.Processes = 1
	s, sp, clk := newTest(t, o)
	s.Start()
	p := sp.last()
	clk.Advance(o.StartTimeout)
	if !p.killed {
		t.Fatal("a worker not ready within StartTimeout was not killed")
	}
	s.Exited(p, "killed by signal killed")
	ws, slots := s.Snapshot()
	if len(ws) != 1 || sp.count() != 2 {
		t.Fatalf("not replaced: workers %+v slots %+v", ws, slots)
	}
}

func TestSupervisor_RetireStuck(t *testing.T) {
	s, sp, clk := newTest(t, testOpts)
	s.Start()
	for _, p := range sp.procs {
		s.Ready(p)
	}
	stuck := sp.procs[0]
	s.Retire(stuck, "request stuck past its timeout", false)
	if !stuck.terminated {
		t.Fatal("a stuck worker was not told to stop")
	}
	if sp.count() != 3 || sp.last().slot != stuck.slot {
		t.Fatal("no replacement started at once for a stuck worker")
	}
	if st := states(s)[stuck.pid]; st != WRetiring {
		t.Fatalf("stuck worker is %s, want retiring", st)
	}
	if !s.Replacing(stuck) || s.Replacing(sp.procs[1]) {
		t.Fatal("Replacing does not tell the retiring worker from the serving one")
	}
	s.Retire(stuck, "again", false) // no second replacement
	if sp.count() != 3 {
		t.Fatal("retiring twice started two replacements")
	}
	clk.Advance(testOpts.Grace - time.Millisecond)
	if stuck.killed {
		t.Fatal("killed before the grace period ended")
	}
	clk.Advance(time.Millisecond)
	if !stuck.killed {
		t.Fatal("not killed at the end of the grace period")
	}
	s.Exited(stuck, "killed by signal killed")
	// A retired worker's death is no failure: nothing else is spawned.
	if sp.count() != 3 {
		t.Fatal("the end of a retired worker started another")
	}
	_, slots := s.Snapshot()
	if len(slots) != 0 {
		t.Fatalf("slots in backoff after a retirement: %+v", slots)
	}
}

func TestSupervisor_GracefulReload(t *testing.T) {
	s, sp, clk := newTest(t, testOpts)
	s.Start()
	old := append([]*fakeProc(nil), sp.procs...)
	for _, p := range old {
		s.Ready(p)
	}
	type result struct{ ok, failed int }
	res := make(chan result, 1)
	s.Reload(func(ok, failed int) { res <- result{ok, failed} })
	if sp.count() != 4 {
		t.Fatalf("reload spawned %d, want 2 more", sp.count()-2)
	}
	for _, p := range old {
		if p.terminated {
			t.Fatal("an old worker was stopped before its replacement was ready")
		}
	}
	// The first replacement is ready: only the worker it replaces stops.
	s.Ready(sp.procs[2])
	if !old[0].terminated || old[1].terminated {
		t.Fatalf("after one replacement: old0 stopped=%v old1 stopped=%v", old[0].terminated, old[1].terminated)
	}
	// The second replacement dies before it is ready: its old worker
	// keeps serving.
	s.Exited(sp.procs[3], "exit status 1: config: bad key")
	if old[1].terminated {
		t.Fatal("the old worker was stopped although its replacement failed")
	}
	if s.Replacing(old[1]) {
		t.Fatal("a worker whose replacement failed still counts as being replaced: it would never be retired again")
	}
	if st := states(s)[old[1].pid]; st != WReady {
		t.Fatalf("old worker is %s, want ready", st)
	}
	if r := <-res; r.ok != 1 || r.failed != 1 {
		t.Fatalf("reload done with %d ready, %d failed; want 1 and 1", r.ok, r.failed)
	}
	s.Exited(old[0], "exit status 0")
	clk.Advance(time.Minute)
	if old[1].killed {
		t.Fatal("a serving worker was killed")
	}
}

func TestSupervisor_Drain(t *testing.T) {
	s, sp, clk := newTest(t, testOpts)
	s.Start()
	s.Ready(sp.procs[0]) // the other is still starting
	s.Exited(sp.procs[0], "killed by signal killed")
	s.Ready(sp.last())
	s.Drain()
	for _, p := range s.Procs() {
		if !p.(*fakeProc).terminated {
			t.Fatalf("worker %d not told to stop on drain", p.PID())
		}
	}
	n := sp.count()
	select {
	case <-s.Done():
		t.Fatal("done before the workers exited")
	default:
	}
	procs := s.Procs()
	s.Exited(procs[0], "exit status 0")
	if sp.count() != n {
		t.Fatal("a worker ending during a drain was replaced")
	}
	clk.Advance(testOpts.Grace)
	if !procs[1].(*fakeProc).killed {
		t.Fatal("a worker still running after the grace period was not killed")
	}
	s.Exited(procs[1], "killed by signal killed")
	select {
	case <-s.Done():
	default:
		t.Fatal("not done after every worker exited")
	}
}

func TestSupervisor_GracefulRetireMaxRequests(t *testing.T) {
	o := testOpts
	o.Processes = 1
	s, sp, _ := newTest(t, o)
	s.Start()
	p := sp.last()
	s.Ready(p)
	s.Retire(p, "served process_max_requests", true)
	if p.terminated {
		t.Fatal("a graceful retirement stopped the worker before its replacement was ready")
	}
	s.Ready(sp.last())
	if !p.terminated {
		t.Fatal("old worker not stopped once its replacement was ready")
	}
}
