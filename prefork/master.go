// Package prefork is fcgihost's process model (docs/processes.md): the
// master that holds the listening sockets and never runs a script, and the
// worker processes — the same binary — that inherit those sockets and
// accept on them directly, as nginx's and PHP-FPM's workers do.
//
// The Master spawns Options.Processes workers through a Supervisor (the
// state machine of supervisor.go). A worker reports "ready" on a pipe once
// it accepts; it records each request it serves in a slot table shared
// with the master (slots.go), so that when a worker dies the master logs
// what it was running, and a request stuck past its time (a native call
// that does not return) gets its worker retired: told to stop accepting
// and finish its other requests, then killed after the grace period, while
// a fresh worker takes its place. A worker that dies for any reason is
// replaced at once; only a crash loop backs off. Connections that arrive
// meanwhile wait in the listening socket's backlog.
package prefork

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config says how a master runs its workers.
type Config struct {
	// Name names the pool in logs and the status page.
	Name string
	// Exe and Args are the worker's program and its arguments (Args[0]
	// is not the program name).
	Exe  string
	Args []string
	// Env is the workers' environment; nil = the master's, without
	// systemd's LISTEN_* variables.
	Env []string
	// Dir is the workers' working directory ("" = the master's).
	Dir string
	// FCGI are the FastCGI listening sockets and HTTP the development
	// HTTP one (nil if none); every worker inherits them.
	FCGI []*os.File
	HTTP *os.File
	// SCGI and UWSGI are the listening sockets of those gateways.
	SCGI, UWSGI []*os.File
	// Processes is the number of workers.
	Processes int
	// MemoryLimit is each worker's kernel-enforced memory limit (0 =
	// none); MaxRSS and MaxRequests replace a worker past them (0 = off).
	MemoryLimit int64
	MaxRSS      int64
	MaxRequests int
	// Grace is how long a retiring worker may finish its requests.
	Grace time.Duration
	// StuckAfter is how long a request may run before its worker is
	// retired (the longest timeout of the apps, plus a margin).
	StuckAfter time.Duration
	// Credential runs the workers as another user (nil = as the master).
	Credential *syscall.Credential
	// Limits puts each worker under a memory limit (nil = none).
	Limits Limiter
	// Stderr receives the workers' output (their log when it goes to
	// stderr, and a runtime crash's trace).
	Stderr io.Writer
	Log    *slog.Logger
	// CheckEvery is the period of the stuck, max_rss and max_requests
	// checks (default 250ms).
	CheckEvery time.Duration
	// Supervisor tunes restarts.
	Supervisor Options
}

// Limiter applies a memory limit to each worker: Prepare before the
// start (a cgroup v2 descriptor for clone, rlimit environment), Attach
// right after it (a cgroup v1 join) — the worker waits for Attach before
// it loads anything — and OOMKilled/Release after its end.
type Limiter interface {
	// Kind is "cgroup v2", "cgroup v1" or "rlimit".
	Kind() string
	New(name string) (Limit, error)
}

// Limit is one worker's limit.
type Limit interface {
	Prepare(cmd *exec.Cmd) error
	Attach(pid int) error
	OOMKills() int64
	MemoryCurrent() int64
	Release()
}

// Master runs one pool's workers.
type Master struct {
	c   Config
	sup *Supervisor
	log *slog.Logger

	outMu sync.Mutex // one worker output line at a time

	mu    sync.Mutex
	procs map[*proc]struct{}
	seq   atomic.Int64

	stateMu sync.Mutex
	runDir  string // private: the state file and the workers' report sockets
	started time.Time

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns a Master; Start spawns its workers.
func New(c Config) *Master {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = 250 * time.Millisecond
	}
	if c.Env == nil {
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "LISTEN_") {
				c.Env = append(c.Env, e)
			}
		}
	}
	m := &Master{c: c, log: c.Log, procs: map[*proc]struct{}{}, stop: make(chan struct{}), started: time.Now()}
	if d, err := os.MkdirTemp("", "fcgihost-master-"); err == nil {
		os.Chmod(d, 0o711) // workers of another user reach their sockets by name
		if cr := c.Credential; cr != nil {
			// The workers make their report sockets in it.
			os.Chown(d, int(cr.Uid), int(cr.Gid))
			os.Chmod(d, 0o755)
		}
		m.runDir = d
	} else {
		c.Log.Warn("no run directory: the status page shows one worker's figures", "err", err)
	}
	o := c.Supervisor
	o.Processes = c.Processes
	if o.Grace == 0 {
		o.Grace = c.Grace
	}
	m.sup = NewSupervisor(c.Name, o, m, nil, c.Log)
	return m
}

// Start spawns the workers and the periodic checks.
func (m *Master) Start() {
	m.sup.Start()
	m.writeState()
	m.wg.Add(1)
	go m.checks()
}

// Reload replaces every worker gracefully, with args as the new workers'
// arguments (nil = the same); done is called as Supervisor.Reload says.
func (m *Master) Reload(args []string, done func(ok, failed int)) {
	if args != nil {
		m.mu.Lock()
		m.c.Args = args
		m.mu.Unlock()
	}
	m.sup.Reload(done)
	m.writeState()
}

// SetLimits changes the recycling limits, the grace period and the stuck
// threshold (a SIGHUP's new configuration); the memory limit of workers
// started from now on stays the one the master started with.
func (m *Master) SetLimits(maxRSS int64, maxRequests int, grace, stuckAfter time.Duration) {
	m.mu.Lock()
	m.c.MaxRSS, m.c.MaxRequests, m.c.StuckAfter = maxRSS, maxRequests, stuckAfter
	m.mu.Unlock()
	m.sup.SetGrace(grace)
}

// ReopenLogs sends SIGUSR1 to every ready worker and waits, up to
// timeout, until each has said it reopened its logs; it returns how many
// did.
func (m *Master) ReopenLogs(timeout time.Duration) int {
	var chans []chan struct{}
	for _, pp := range m.sup.Procs() {
		p := pp.(*proc)
		ch := make(chan struct{}, 1)
		p.mu.Lock()
		if !p.ready.Load() {
			// A worker still starting may have opened the old file and
			// cannot take the signal yet: it gets it when it is ready.
			p.reopenPending = true
			p.mu.Unlock()
			continue
		}
		p.reopened = append(p.reopened, ch)
		p.mu.Unlock()
		chans = append(chans, ch)
		p.signal(syscall.SIGUSR1)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	n := 0
	for _, ch := range chans {
		select {
		case <-ch:
			n++
		case <-t.C:
			return n
		}
	}
	return n
}

// Signal sends sig to every worker.
func (m *Master) Signal(sig syscall.Signal) {
	for _, p := range m.sup.Procs() {
		p.(*proc).signal(sig)
	}
}

// Drain stops every worker (each finishes its requests within the grace
// period, then is killed) and returns once all have exited.
func (m *Master) Drain() {
	m.sup.Drain()
	<-m.sup.Done()
	m.stopOnce.Do(func() { close(m.stop) })
	m.wg.Wait()
	if m.runDir != "" {
		os.RemoveAll(m.runDir)
	}
}

// LimitKind says how each worker's memory is bounded ("" = not).
func (m *Master) LimitKind() string {
	if m.c.Limits == nil {
		return ""
	}
	return m.c.Limits.Kind()
}

// Supervisor returns the master's supervisor (for the status page).
func (m *Master) Supervisor() *Supervisor { return m.sup }

// checks runs the periodic checks until Drain.
func (m *Master) checks() {
	defer m.wg.Done()
	t := time.NewTicker(m.c.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.sup.Stable()
		m.writeState()
		for _, pp := range m.sup.Procs() {
			p := pp.(*proc)
			if !p.ready.Load() || m.sup.Replacing(p) {
				continue
			}
			if why := m.retireWhy(p); why != "" {
				graceful := !strings.HasPrefix(why, "request stuck")
				m.sup.Retire(p, why, graceful)
				m.writeState()
			}
		}
	}
}

// retireWhy says why p must be replaced now, or "".
func (m *Master) retireWhy(p *proc) string {
	m.mu.Lock()
	stuck, maxReq, maxRSS := m.c.StuckAfter, m.c.MaxRequests, m.c.MaxRSS
	m.mu.Unlock()
	if stuck > 0 {
		now := time.Now()
		for _, r := range p.tab.running() {
			if d := now.Sub(r.Started); d > stuck {
				return fmt.Sprintf("request stuck for %s (past its timeout): %s", d.Round(time.Millisecond), r.What)
			}
		}
	}
	if max := maxReq; max > 0 && p.tab.requests() >= uint64(max) {
		return fmt.Sprintf("served process_max_requests (%d)", max)
	}
	if max := maxRSS; max > 0 {
		if rss := RSS(p.pid); rss > max {
			return fmt.Sprintf("resident size %d bytes passed process_max_rss %d", rss, max)
		}
	}
	return ""
}

// proc is one worker process.
type proc struct {
	m       *Master
	slot    int
	cmd     *exec.Cmd
	pid     int
	tab     *table
	out     *outRelay
	lim     Limit
	oomBase int64
	started time.Time
	ready   atomic.Bool

	mu       sync.Mutex
	reopened []chan struct{} // ReopenLogs waiting for "reopened"
	// reopenPending: ReopenLogs came while the worker was starting; it
	// gets SIGUSR1 once ready (ready is set under mu for this).
	reopenPending bool
	exited        chan struct{}
}

func (p *proc) PID() int { return p.pid }

func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(sig)
	}
}

func (p *proc) Terminate() { p.signal(syscall.SIGTERM) }
func (p *proc) Kill()      { p.signal(syscall.SIGKILL) }

// Spawn starts one worker (the Supervisor's Spawner).
func (m *Master) Spawn(slot, gen int) (Proc, error) {
	m.mu.Lock()
	args := m.c.Args
	m.mu.Unlock()
	tf, err := newTableFile()
	if err != nil {
		return nil, err
	}
	defer tf.Close()
	tab, err := mapTable(tf, false)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			tab.close()
		}
	}()
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("worker control pipe: %w", err)
	}
	defer ctlW.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		return nil, fmt.Errorf("worker output pipe: %w", err)
	}
	defer outW.Close()

	cmd := exec.Command(m.c.Exe, args...)
	cmd.Dir = m.c.Dir
	cmd.Stdout = nil
	cmd.Stderr = outW
	var extra []*os.File
	fd := func(f *os.File) string {
		extra = append(extra, f)
		return strconv.Itoa(2 + len(extra))
	}
	var spec []string
	var fcgiFDs []string
	for _, f := range m.c.FCGI {
		fcgiFDs = append(fcgiFDs, fd(f))
	}
	spec = append(spec, "fcgi="+strings.Join(fcgiFDs, ","))
	for _, g := range []struct {
		name  string
		files []*os.File
	}{{"scgi", m.c.SCGI}, {"uwsgi", m.c.UWSGI}} {
		if len(g.files) == 0 {
			continue
		}
		var fds []string
		for _, f := range g.files {
			fds = append(fds, fd(f))
		}
		spec = append(spec, g.name+"="+strings.Join(fds, ","))
	}
	if m.c.HTTP != nil {
		spec = append(spec, "http="+fd(m.c.HTTP))
	}
	spec = append(spec, "ctl="+fd(ctlW), "table="+fd(tf), "slot="+strconv.Itoa(slot))
	if m.runDir != "" {
		spec = append(spec, "rt="+m.runDir)
	}
	var lim Limit
	var gateW *os.File
	if m.c.Limits != nil {
		lim, err = m.c.Limits.New(fmt.Sprintf("%s-%d", m.c.Name, m.seq.Add(1)))
		if err != nil {
			m.log.Warn("no memory limit for this worker", "pool", m.c.Name, "err", err)
			lim = nil
		}
	}
	if lim != nil {
		gateR, w, err := os.Pipe()
		if err != nil {
			lim.Release()
			ctlR.Close()
			outR.Close()
			return nil, fmt.Errorf("worker gate pipe: %w", err)
		}
		defer gateR.Close()
		gateW = w
		spec = append(spec, "gate="+fd(gateR))
	}
	cmd.ExtraFiles = extra
	cmd.Env = append(append([]string(nil), m.c.Env...), EnvWorker+"="+strings.Join(spec, ";"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: m.c.Credential}
	fail := func(err error) (Proc, error) {
		if lim != nil {
			lim.Release()
		}
		if gateW != nil {
			gateW.Close()
		}
		ctlR.Close()
		outR.Close()
		return nil, err
	}
	if lim != nil {
		if err := lim.Prepare(cmd); err != nil {
			return fail(err)
		}
	}
	p := &proc{m: m, slot: slot, cmd: cmd, tab: tab, lim: lim, started: time.Now(), exited: make(chan struct{})}
	if lim != nil {
		p.oomBase = lim.OOMKills()
	}
	p.out = &outRelay{m: m, done: make(chan struct{})}
	p.out.dying = p.Kill
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start worker: %w", err))
	}
	p.pid = cmd.Process.Pid
	if gateW != nil {
		err := lim.Attach(p.pid)
		if err != nil {
			m.log.Error("could not put the worker under its memory limit; stopping it", "pid", p.pid, "err", err)
			cmd.Process.Kill()
		} else {
			gateW.Write([]byte{1})
		}
		gateW.Close()
	}
	ok = true
	m.mu.Lock()
	m.procs[p] = struct{}{}
	m.mu.Unlock()
	m.wg.Add(3)
	go func() { defer m.wg.Done(); p.out.copy(outR); outR.Close() }()
	go func() { defer m.wg.Done(); p.control(ctlR) }()
	go func() { defer m.wg.Done(); p.wait() }()
	return p, nil
}

// control reads the worker's messages until it exits.
func (p *proc) control(r *os.File) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "ready":
			p.mu.Lock()
			p.ready.Store(true)
			reopen := p.reopenPending
			p.reopenPending = false
			p.mu.Unlock()
			if reopen {
				p.signal(syscall.SIGUSR1)
			}
			p.m.log.Info("worker ready", "pool", p.m.c.Name, "pid", p.pid, "slot", p.slot, "took", time.Since(p.started).Round(time.Millisecond))
			p.m.sup.Ready(p)
			p.m.writeState()
		case "reopened":
			p.mu.Lock()
			waiting := p.reopened
			p.reopened = nil
			p.mu.Unlock()
			for _, ch := range waiting {
				ch <- struct{}{}
			}
		case "retire":
			p.m.sup.Retire(p, arg, true)
			p.m.writeState()
		}
	}
}

// wait reaps the worker and reports how it ended.
func (p *proc) wait() {
	running := func() []Running { return p.tab.running() }
	err := p.cmd.Wait()
	close(p.exited)
	select { // a grandchild may hold the pipe open
	case <-p.out.done:
	case <-time.After(time.Second):
	}
	reason := p.exitReason(err, running())
	p.tab.close()
	if p.lim != nil {
		p.lim.Release()
	}
	p.m.mu.Lock()
	delete(p.m.procs, p)
	p.m.mu.Unlock()
	p.m.sup.Exited(p, reason)
	p.m.writeState()
}

func (p *proc) exitReason(err error, running []Running) string {
	var r string
	st := p.cmd.ProcessState
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case st == nil:
		r = "wait: " + fmt.Sprint(err)
	case p.lim != nil && p.lim.OOMKills() > p.oomBase:
		r = fmt.Sprintf("killed by the kernel: out of memory (%s limit %d bytes", p.m.c.Limits.Kind(), p.m.c.MemoryLimit)
		if fc, ok := p.lim.(interface{ FailCount() int64 }); ok && fc.FailCount() > 0 {
			r += fmt.Sprintf(", memory.failcnt %d", fc.FailCount())
		}
		r += ")"
	case ws.Signaled():
		r = "killed by signal " + ws.Signal().String()
	default:
		r = "exit status " + strconv.Itoa(ws.ExitStatus())
	}
	if n := p.out.notable(); n != "" {
		r += ": " + n
	}
	if len(running) > 0 {
		now := time.Now()
		var parts []string
		for _, x := range running {
			parts = append(parts, fmt.Sprintf("%s for %s", x.What, now.Sub(x.Started).Round(time.Millisecond)))
		}
		r += "; running: " + strings.Join(parts, ", ")
	}
	return r
}

// outRelay copies a worker's output to the master's stderr, a line at a
// time, and keeps the first line that says why it died.
type outRelay struct {
	m     *Master
	dying func() // kills the worker once it has begun to crash
	mu    sync.Mutex
	note  string
	done  chan struct{}
}

// crashTraceTime is how long a crashing worker may write its trace before
// the master kills it (docs/processes.md).
const crashTraceTime = 250 * time.Millisecond

// notableLine reports whether a line of a worker's output says why it
// died: a Go runtime fatal error, a panic, an out-of-memory.
func notableLine(l string) bool {
	for _, p := range []string{"fatal error:", "panic:", "runtime: out of memory", "runtime: goroutine stack exceeds", "fcgihost:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

func (o *outRelay) copy(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			o.m.outMu.Lock()
			o.m.c.Stderr.Write(line)
			o.m.outMu.Unlock()
			if s := strings.TrimSpace(string(line)); notableLine(s) {
				o.mu.Lock()
				first := o.note == ""
				if first {
					o.note = s
				}
				o.mu.Unlock()
				if first && o.dying != nil && (strings.HasPrefix(s, "fatal error:") || strings.HasPrefix(s, "panic:")) {
					// The Go runtime is writing its last trace with the
					// world stopped: the worker accepts nothing more but
					// holds its connections until it exits. Let the
					// crashing goroutine's stack out, then end it.
					time.AfterFunc(crashTraceTime, o.dying)
				}
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	close(o.done)
}

func (o *outRelay) notable() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.note
}

// RSS is the resident size of process pid in bytes (0 if unknown).
func RSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}
