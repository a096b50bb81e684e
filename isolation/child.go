package isolation

// This file holds one child process: its private directory and config,
// the command that starts it with its identity and limits, the wait for
// its first FastCGI answer, its stop, and why it ended.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/callwire"
)

// child is one fcgihost process serving a unit.
type child struct {
	gen     int
	dir     string // private directory: config, socket
	sock    string
	cmd     *exec.Cmd
	pid     int
	client  *fcgi.Client
	started time.Time
	ident   identity
	cg      *unitCgroup // nil: rlimits
	oomBase int64       // the cgroup's oom_kill count before the start
	memory  int64       // the memory budget
	out     *relay
	token   string // the secret a call carries (callwire.ParamToken)

	exited chan struct{}    // closed once the process is reaped
	state  *os.ProcessState // set before exited is closed
	reason atomic.Pointer[string]

	// inflight counts requests on this child. Add is only called while the
	// child is its Supervisor's current one (under Supervisor.mu), so a
	// Wait after it stopped being current waits for the last of them.
	inflight sync.WaitGroup
	busy     atomic.Int64
	served   atomic.Int64
	stopping atomic.Bool // the supervisor stopped it on purpose
	// recycling is set once a recycle of this child was asked for.
	recycling atomic.Bool
}

// errExited is returned when a child ends before it is ready.
var errExited = errors.New("child exited during start")

// startChild starts one child of s and waits until it answers FastCGI.
// Called by the Supervisor's loop goroutine only.
func (s *Supervisor) startChild(ctx context.Context, gen int) (*child, error) {
	sp := s.spec
	dir := filepath.Join(s.m.rtDir, fmt.Sprintf("%d.%d", s.id, gen))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("child dir: %w", err)
	}
	c := &child{gen: gen, dir: dir, sock: filepath.Join(dir, "fcgi.sock"), ident: sp.ident,
		memory: sp.set.MemoryLimit, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if len(c.sock) > 100 {
		return nil, fmt.Errorf("socket path %s is too long for a unix socket; set a shorter runtime dir", c.sock)
	}
	emptyApps := filepath.Join(dir, "apps")
	if err := os.Mkdir(emptyApps, 0o700); err != nil {
		return nil, fmt.Errorf("child dir: %w", err)
	}
	cfg, err := childConfig(s.m.o.Config, sp, c.sock, emptyApps)
	if err != nil {
		return nil, err
	}
	// The child's config file is the tenant's to read: with Redis, it gets
	// a user of the unit's own, never the host's credential.
	if cfg.KV, err = unitKV(ctx, cfg.KV, sp, s.log); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "fcgihost.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return nil, fmt.Errorf("child config: %w", err)
	}
	if err := s.prepareDataDir(); err != nil {
		return nil, err
	}
	if sp.ident.drop {
		for _, p := range []string{dir, emptyApps, cfgPath} {
			if err := os.Chown(p, int(sp.ident.uid), int(sp.ident.gid)); err != nil {
				return nil, fmt.Errorf("child dir: %w", err)
			}
		}
	}

	env := append([]string{}, sp.env...)
	c.token = newToken()
	env = append(env, callwire.EnvToken+"="+c.token)
	if c.memory > 0 {
		env = append(env, "GOMEMLIMIT="+strconv.FormatInt(c.memory*9/10, 10))
	}
	var cgFile *os.File
	if s.cg != nil {
		c.cg = s.cg
		c.oomBase = s.cg.oomKills()
		if cgFile, err = s.cg.open(); err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", s.cg.dir, err)
		}
		defer cgFile.Close()
	} else if c.memory > 0 {
		env = append(env, envMemory+"="+strconv.FormatInt(c.memory, 10))
	}
	log := s.log.With("gen", gen)
	c.out = newRelay(s.m.log, slog.LevelWarn)
	start := func(ns []string, cgFile *os.File) error {
		cmd := exec.Command(s.m.o.Executable, "serve", "--config", cfgPath)
		cmd.Dir = sp.dir
		cmd.Env = env
		if cgFile == nil && c.memory > 0 && !slices.Contains(env, envMemory+"="+strconv.FormatInt(c.memory, 10)) {
			cmd.Env = append(slices.Clip(env), envMemory+"="+strconv.FormatInt(c.memory, 10))
		}
		cmd.Stdout = newRelay(s.m.log.With("unit", sp.name), slog.LevelDebug)
		cmd.Stderr = c.out
		attr, err := sysProcAttr(sp.ident, ns, cgFile)
		if err != nil {
			return err
		}
		cmd.SysProcAttr = attr
		if err := cmd.Start(); err != nil {
			return err
		}
		c.cmd = cmd
		return nil
	}
	ns := sp.ns
	if len(ns) > 0 && !sp.ident.drop {
		ns = nil // namespaces need root (the children are not given a user namespace)
	}
	err = start(ns, cgFile)
	if err != nil && len(ns) > 0 {
		log.Warn("namespaces unavailable here; starting the child without them", "namespaces", ns, "err", err)
		ns = nil
		err = start(nil, cgFile)
	}
	moveLater := false
	if err != nil && cgFile != nil {
		// clone3 with CLONE_INTO_CGROUP needs Linux 5.7: start the child
		// bounded by rlimits, then move it into its cgroup.
		log.Warn("cannot start the child inside its cgroup; moving it after the start", "err", err)
		err = start(ns, nil)
		moveLater = err == nil
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.m.o.Executable, err)
	}
	if moveLater {
		if err := writeFile(filepath.Join(c.cg.dir, "cgroup.procs"), strconv.Itoa(c.cmd.Process.Pid)); err != nil {
			log.Warn("child not in its cgroup; bounded by rlimits only", "err", err)
		}
	}
	c.pid = c.cmd.Process.Pid
	c.started = time.Now()
	c.out.setLogger(s.m.log.With("child_pid", c.pid))
	go func() {
		c.cmd.Wait()
		c.state = c.cmd.ProcessState
		c.out.flush()
		close(c.exited)
	}()
	c.client = &fcgi.Client{Addr: "unix:" + c.sock, KeepConn: true, MaxIdle: 64}
	timeout := s.m.o.StartTimeout
	if t := sp.set.Timeout; t > timeout {
		timeout = t
	}
	if err := c.waitReady(ctx, timeout); err != nil {
		c.kill()
		<-c.exited
		c.client.Close()
		return nil, fmt.Errorf("%w (%s)", err, c.exitReason())
	}
	ok = true
	return c, nil
}

// prepareDataDir makes the unit's data_dir, owned by its user.
func (s *Supervisor) prepareDataDir() error {
	dd := s.spec.dataDir
	parent := filepath.Dir(dd)
	if err := os.MkdirAll(parent, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.Mkdir(dd, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("data dir: %w", err)
	}
	if s.spec.ident.drop {
		if err := os.Chown(dd, int(s.spec.ident.uid), int(s.spec.ident.gid)); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	return nil
}

// waitReady waits for the child's socket, then for its first FastCGI
// answer (the child listens before it compiles its apps and answers once
// they are loaded).
func (c *child) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		select {
		case <-c.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := 5 * time.Millisecond
	for {
		conn, err := net.DialTimeout("unix", c.sock, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-ctx.Done():
			return c.startErr(ctx, timeout)
		case <-time.After(wait):
		}
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
	if _, err := c.client.GetValues(ctx, "FCGI_MPXS_CONNS"); err != nil {
		if ctx.Err() != nil {
			return c.startErr(ctx, timeout)
		}
		return fmt.Errorf("child's first FastCGI answer: %w", err)
	}
	return nil
}

func (c *child) startErr(ctx context.Context, timeout time.Duration) error {
	select {
	case <-c.exited:
		return errExited
	default:
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("child not ready after %s", timeout)
	}
	return ctx.Err()
}

// terminate sends SIGTERM and waits up to grace for the child to exit,
// then kills it.
func (c *child) terminate(grace time.Duration) {
	c.stopping.Store(true)
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		c.kill()
		<-c.exited
	}
}

func (c *child) kill() {
	c.stopping.Store(true)
	c.cmd.Process.Kill()
}

// dead reports whether the process has ended.
func (c *child) dead() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// exitReason says how the child ended: the kernel's OOM kill of its
// cgroup, a signal, an exit status, and the runtime's own words when it
// ran out of memory or crashed.
func (c *child) exitReason() string {
	if p := c.reason.Load(); p != nil {
		return *p
	}
	if c.state == nil {
		return "running"
	}
	var r string
	ws, _ := c.state.Sys().(syscall.WaitStatus)
	switch {
	case c.cg != nil && c.cg.oomKills() > c.oomBase:
		r = fmt.Sprintf("killed by the kernel: out of memory (cgroup memory.max %s)", config.FormatSize(c.memory))
	case ws.Signaled():
		r = "killed by signal " + ws.Signal().String()
	default:
		r = "exit status " + strconv.Itoa(ws.ExitStatus())
	}
	notable := c.out.Notable()
	oom := false
	for _, l := range notable {
		if outOfMemory(l) {
			oom = true
		}
	}
	switch {
	case oom && c.cg == nil:
		r += fmt.Sprintf(": out of memory (the kernel refused more than memory_limit %s: RLIMIT_DATA)", config.FormatSize(c.memory))
	case oom:
		r += ": out of memory"
	case len(notable) > 0:
		r += ": " + notable[0]
	default:
		if t := c.out.Tail(); len(t) > 0 {
			r += ": " + t[len(t)-1]
		}
	}
	c.reason.Store(&r)
	return r
}

// rss is the child's resident size in bytes.
func (c *child) rss() int64 { return rssOf(c.pid) }

// cleanup closes the client and removes the child's directory.
func (c *child) cleanup() {
	c.client.Close()
	os.RemoveAll(c.dir)
}

// newToken returns a fresh random secret for a child's calls.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
