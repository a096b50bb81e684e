package isolation

// This file holds the Supervisor: the loop goroutine that owns a unit's
// children (start, restart with backoff, crash loop, recycling, stop) and
// the state the requests and the status page read.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/config"
)

// State is a unit's state.
type State string

// The states of a unit.
const (
	StateStarting State = "starting" // a child is starting; requests wait
	StateRunning  State = "running"  // a child serves
	StateBackoff  State = "backoff"  // the child died; requests get 503 until the restart
	StateFailed   State = "failed"   // crash loop: CrashLoop failures in a row; still retried
	StateStopped  State = "stopped"  // closed
)

// Stats are one unit's figures, for the status page.
type Stats struct {
	// Name is the unit: the app's name, or the root directory.
	Name  string `json:"name"`
	State State  `json:"state"`
	// PID is the serving child's process id (0 when none runs).
	PID int `json:"pid"`
	// UID and GID are the child's user and group.
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	User string `json:"user"`
	// RSSBytes is the child's resident size at the last sample.
	RSSBytes int64 `json:"rss_bytes"`
	// CgroupBytes is the cgroup's memory.current (0 without a cgroup).
	CgroupBytes int64 `json:"cgroup_bytes,omitempty"`
	// MemoryLimit and MaxRSS are the configured limits; Limit says how
	// memory_limit is enforced: "cgroup" or "rlimit".
	MemoryLimit int64      `json:"memory_limit"`
	MaxRSS      int64      `json:"max_rss"`
	Limit       string     `json:"limit"`
	Started     *time.Time `json:"started"`
	// Requests is the number served by the current child, InFlight the
	// number it serves now.
	Requests int64 `json:"requests"`
	InFlight int64 `json:"in_flight"`
	// Restarts counts children that died or failed to start; Recycles
	// counts children replaced for max_requests or max_rss; Failures is
	// the current run of failures in a row.
	Restarts int `json:"restarts"`
	Recycles int `json:"recycles"`
	Failures int `json:"failures"`
	// LastExit says how the last child that died ended.
	LastExit     string     `json:"last_exit,omitempty"`
	LastExitTime *time.Time `json:"last_exit_time,omitempty"`
	// RetryAt is when a unit in backoff or failed starts its next child.
	RetryAt *time.Time `json:"retry_at,omitempty"`
}

// Errors of a request that reached no child.
var (
	errStopped  = errors.New("isolated app stopped")
	errNotReady = errors.New("isolated app's process did not become ready in time")
)

// UnavailableError is the error of a request that arrives while its unit
// waits to restart its child.
type UnavailableError struct {
	State    State
	LastExit string
	RetryIn  time.Duration
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("isolated app %s (last exit: %s); next start in %s", e.State, e.LastExit, e.RetryIn.Round(time.Millisecond))
}

// Supervisor owns the children of one unit. Its loop goroutine (run) is
// the only one that starts or stops children; requests read the current
// child under mu.
type Supervisor struct {
	m    *Manager
	spec *spec
	id   int
	log  *slog.Logger
	cg   *unitCgroup // nil: rlimits

	recycle chan recycleReq
	// lastRefusedLog rate-limits the log of refused requests (unix nanos).
	lastRefusedLog atomic.Int64
	ctx            context.Context
	cancel         context.CancelFunc
	done           chan struct{}  // closed when run returns
	wg             sync.WaitGroup // retirements and cleanups started by run

	mu         sync.Mutex // guards the fields below
	cur        *child
	state      State
	crashLoop  bool
	wake       chan struct{} // closed and replaced when cur or state changes
	closeCtx   context.Context
	restarts   int
	recycles   int
	failures   int
	lastExit   string
	lastExitAt time.Time
	retryAt    time.Time
	rss        int64
}

type recycleReq struct {
	c   *child
	why string
}

func newSupervisor(m *Manager, sp *spec, id int) (*Supervisor, error) {
	s := &Supervisor{m: m, spec: sp, id: id, log: m.log.With("isolated", sp.name),
		recycle: make(chan recycleReq, 1), done: make(chan struct{}),
		state: StateStarting, wake: make(chan struct{})}
	limit := "rlimit"
	if cg := m.cgroups(); cg != nil && sp.set.MemoryLimit > 0 {
		u, err := cg.unit(fmt.Sprintf("%d-%s", unitSeq.Add(1), safeName(sp.name)), sp.set.MemoryLimit, m.o.PidsMax)
		if err != nil {
			s.log.Warn("no cgroup for this app; its child is bounded by rlimits", "err", err)
		} else {
			s.cg, limit = u, "cgroup"
		}
	}
	if sp.ident.fallback != "" {
		s.log.Warn("running the isolated app as nobody", "why", sp.ident.fallback, "user", sp.ident.String())
	}
	if !sp.ident.drop && (sp.set.User != "" || sp.set.Group != "") {
		s.log.Warn("user and group are ignored: the host does not run as root", "user", sp.set.User, "group", sp.set.Group)
	}
	s.log.Info("process isolation", "user", sp.ident.String(), "dir", sp.dir, "memory_limit", config.FormatSize(sp.set.MemoryLimit),
		"limit", limit, "max_rss", sp.set.MaxRSS, "max_requests", sp.set.MaxRequests, "namespaces", sp.ns)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// run is the loop goroutine: it keeps one child serving until Close.
func (s *Supervisor) run() {
	defer close(s.done)
	tick := time.NewTicker(s.m.o.CheckEvery)
	defer tick.Stop()
	var cur *child
	gen := 0
	for {
		if cur == nil {
			s.setState(StateStarting)
			gen++
			t0 := time.Now()
			c, err := s.startChild(s.ctx, gen)
			if err != nil {
				if s.ctx.Err() != nil {
					s.stop(nil)
					return
				}
				s.died(0, "did not start: "+err.Error(), 0)
				if !s.backoff() {
					s.stop(nil)
					return
				}
				continue
			}
			cur = c
			s.publish(c)
			s.log.Info("child started", "pid", c.pid, "user", c.ident.String(), "took", time.Since(t0).Round(time.Millisecond))
		}
		select {
		case <-s.ctx.Done():
			s.stop(cur)
			return
		case <-cur.exited:
			dead := cur
			cur = nil
			s.publish(nil)
			s.died(dead.pid, dead.exitReason(), time.Since(dead.started))
			s.wg.Add(1)
			go func() {
				// Its requests fail at once (the connection closes).
				defer s.wg.Done()
				dead.inflight.Wait()
				dead.cleanup()
			}()
			if !s.backoff() {
				s.stop(nil)
				return
			}
		case r := <-s.recycle:
			if r.c != cur {
				continue
			}
			gen++
			t0 := time.Now()
			c, err := s.startChild(s.ctx, gen)
			if err != nil {
				if s.ctx.Err() != nil {
					s.stop(cur)
					return
				}
				s.log.Error("recycle: the new child did not start; the old one keeps serving", "why", r.why, "err", err)
				cur.recycling.Store(false)
				continue
			}
			old := cur
			cur = c
			s.mu.Lock()
			s.recycles++
			s.mu.Unlock()
			s.publish(c)
			s.log.Info("child recycled", "why", r.why, "old_pid", old.pid, "pid", c.pid, "served", old.served.Load(), "took", time.Since(t0).Round(time.Millisecond))
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.retire(old, context.Background(), "recycled")
			}()
		case <-tick.C:
			s.check(cur)
		}
	}
}

// publish makes c the current child (nil: none).
func (s *Supervisor) publish(c *child) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = c
	if c != nil {
		s.state = StateRunning
		s.rss = 0
	}
	s.signal()
}

func (s *Supervisor) setState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	s.signal()
}

// signal wakes the requests waiting for a child. Called with mu held.
func (s *Supervisor) signal() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// died records a child that ended (pid 0: one that did not start) and
// schedules the next start.
func (s *Supervisor) died(pid int, reason string, uptime time.Duration) {
	o := s.m.o
	s.mu.Lock()
	s.restarts++
	if uptime >= o.StableAfter {
		s.failures = 1
	} else {
		s.failures++
	}
	delay := backoffDelay(s.failures, o.BackoffMin, o.BackoffMax)
	now := time.Now()
	s.retryAt = now.Add(delay)
	s.lastExit, s.lastExitAt = reason, now
	enterLoop := !s.crashLoop && s.failures >= o.CrashLoop
	if enterLoop {
		s.crashLoop = true
	}
	s.state = StateBackoff
	restarts, failures := s.restarts, s.failures
	s.signal()
	s.mu.Unlock()
	if pid != 0 {
		s.log.Error("child died; restarting", "pid", pid, "reason", reason, "uptime", uptime.Round(time.Millisecond),
			"restarts", restarts, "failures_in_a_row", failures, "retry_in", delay)
	} else {
		s.log.Error("child failed to start", "reason", reason, "restarts", restarts, "failures_in_a_row", failures, "retry_in", delay)
	}
	if enterLoop {
		s.log.Error("crash loop: isolated app marked failed; still retrying with backoff", "failures_in_a_row", failures,
			"last_exit", reason, "max_backoff", o.BackoffMax)
	}
}

// backoffDelay is the wait before the next start after n failures in a
// row: min, 2·min, 4·min, … up to max.
func backoffDelay(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// backoff waits until the next start; false if the Supervisor closed.
func (s *Supervisor) backoff() bool {
	s.mu.Lock()
	d := time.Until(s.retryAt)
	s.mu.Unlock()
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// check samples the child's resident size, resets the failure count of a
// child that has lived StableAfter, and asks for a recycle past max_rss.
func (s *Supervisor) check(c *child) {
	rss := c.rss()
	s.mu.Lock()
	s.rss = rss
	recovered := false
	if s.failures > 0 && time.Since(c.started) >= s.m.o.StableAfter {
		recovered = s.crashLoop
		s.failures, s.crashLoop = 0, false
	}
	s.mu.Unlock()
	if recovered {
		s.log.Info("isolated app recovered from its crash loop", "pid", c.pid)
	}
	if max := s.spec.set.MaxRSS; max > 0 && rss > max {
		s.requestRecycle(c, fmt.Sprintf("resident size %s passed max_rss %s", config.FormatSize(rss), config.FormatSize(max)))
	}
}

// requestRecycle asks the loop to replace c (once per child).
func (s *Supervisor) requestRecycle(c *child, why string) {
	if c.recycling.Swap(true) {
		return
	}
	select {
	case s.recycle <- recycleReq{c: c, why: why}:
	default:
		c.recycling.Store(false) // a request for another child is pending
	}
}

// retire stops a child that is no longer current: its requests in flight
// finish (until ctx ends), then SIGTERM, then SIGKILL after StopTimeout.
func (s *Supervisor) retire(c *child, ctx context.Context, why string) {
	drained := make(chan struct{})
	go func() {
		c.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		s.log.Warn("requests still running on a stopping child are cut", "pid", c.pid, "in_flight", c.busy.Load())
	}
	c.terminate(s.m.o.StopTimeout)
	<-drained // the process is gone: its requests have failed by now
	c.cleanup()
	s.log.Info("child stopped", "pid", c.pid, "why", why, "served", c.served.Load())
}

// stop ends the loop: the current child (if any) is retired within the
// context given to Close, then the loop's other work is waited for.
func (s *Supervisor) stop(cur *child) {
	s.mu.Lock()
	s.cur = nil
	s.state = StateStopped
	s.signal()
	ctx := s.closeCtx
	s.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	if cur != nil {
		s.retire(cur, ctx, "shutdown")
	}
	s.wg.Wait()
	if s.cg != nil {
		s.cg.remove()
	}
}

// acquire returns the current child for one request, waiting while one
// starts (up to StartTimeout or ctx) or while the loop notices that the
// current one died. The caller must release it.
func (s *Supervisor) acquire(ctx context.Context) (*child, error) {
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		if c := s.cur; c != nil && !c.dead() {
			c.inflight.Add(1)
			c.busy.Add(1)
			s.mu.Unlock()
			return c, nil
		}
		st, wake := s.state, s.wake
		var uerr error
		if st == StateBackoff {
			ls := StateBackoff
			if s.crashLoop {
				ls = StateFailed
			}
			uerr = &UnavailableError{State: ls, LastExit: s.lastExit, RetryIn: time.Until(s.retryAt)}
		}
		s.mu.Unlock()
		switch st {
		case StateStopped:
			return nil, errStopped
		case StateBackoff:
			return nil, uerr
		}
		if timeout == nil {
			t := time.NewTimer(s.m.o.StartTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-wake:
		case <-timeout:
			return nil, errNotReady
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release ends one request on c; the max_requests-th asks for a recycle.
func (s *Supervisor) release(c *child) {
	c.busy.Add(-1)
	n := c.served.Add(1)
	if max := s.spec.set.MaxRequests; max > 0 && n >= int64(max) {
		s.requestRecycle(c, fmt.Sprintf("served max_requests (%d)", max))
	}
	c.inflight.Done()
}

// Stats returns the unit's figures now.
func (s *Supervisor) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Name: s.spec.name, State: s.state, UID: s.spec.ident.uid, GID: s.spec.ident.gid, User: s.spec.ident.String(),
		MemoryLimit: s.spec.set.MemoryLimit, MaxRSS: s.spec.set.MaxRSS, Limit: "rlimit",
		Restarts: s.restarts, Recycles: s.recycles, Failures: s.failures, LastExit: s.lastExit, RSSBytes: s.rss,
	}
	if s.crashLoop && s.state != StateRunning && s.state != StateStopped {
		st.State = StateFailed
	}
	if s.cg != nil {
		st.Limit = "cgroup"
		st.CgroupBytes = s.cg.memoryCurrent()
	}
	if c := s.cur; c != nil {
		st.PID = c.pid
		t := c.started.UTC()
		st.Started = &t
		st.Requests, st.InFlight = c.served.Load(), c.busy.Load()
		if st.RSSBytes == 0 {
			st.RSSBytes = c.rss()
		}
	}
	if !s.lastExitAt.IsZero() {
		t := s.lastExitAt.UTC()
		st.LastExitTime = &t
	}
	if s.state == StateBackoff {
		t := s.retryAt.UTC()
		st.RetryAt = &t
	}
	return st
}

// Close stops the unit: requests in flight may finish until ctx ends, then
// the child gets SIGTERM and, StopTimeout later, SIGKILL. It returns once
// every child has exited.
func (s *Supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closeCtx == nil {
		s.closeCtx = ctx
	}
	s.mu.Unlock()
	s.cancel()
	<-s.done
	return nil
}
