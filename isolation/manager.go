package isolation

// This file holds the Manager: the registry's Backends, one Supervisor per
// isolated unit, the runtime directory and the cgroup parent they share.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/registry"
)

// Options configure a Manager. Zero fields take the defaults named.
type Options struct {
	// Config is the host's configuration: each child's config is made from
	// it, and each unit's settings (memory_limit, max_rss, max_requests,
	// user, group, env, namespaces, timeout, queue_timeout) are read from
	// it. Required.
	Config *config.Config
	// Executable is the fcgihost binary children run (default
	// os.Executable()).
	Executable string
	// RuntimeDir is the directory under which a private directory for the
	// children's sockets and configs is made (default os.TempDir()).
	RuntimeDir string
	// Logger receives the supervisors' lines and the children's own log
	// lines (default slog.Default()).
	Logger *slog.Logger

	// BackoffMin and BackoffMax bound the wait before a dead child is
	// restarted: BackoffMin after the first failure, doubling with each
	// failure in a row (defaults 100ms and 30s).
	BackoffMin, BackoffMax time.Duration
	// CrashLoop is the number of failures in a row after which a unit is
	// marked failed (default 5). A failure is a child that does not start,
	// or that dies within StableAfter of its start.
	CrashLoop int
	// StableAfter is how long a child must live for its unit's failure
	// count to reset (default 10s).
	StableAfter time.Duration
	// CheckEvery is how often a child's resident size is sampled (default
	// 1s).
	CheckEvery time.Duration
	// StartTimeout bounds a child's start, from exec to its first FastCGI
	// answer (default 30s, or the app's timeout if longer).
	StartTimeout time.Duration
	// StopTimeout is how long a child may take to exit after SIGTERM
	// before it is killed (default 10s).
	StopTimeout time.Duration
	// PidsMax is pids.max of a unit's cgroup (default 256).
	PidsMax int64
	// Cgroups is "auto" (default: use cgroup v2 where it is writable) or
	// "off" (rlimits only).
	Cgroups string
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.CrashLoop <= 0 {
		o.CrashLoop = 5
	}
	if o.StableAfter <= 0 {
		o.StableAfter = 10 * time.Second
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.PidsMax <= 0 {
		o.PidsMax = 256
	}
	if o.Cgroups == "" {
		o.Cgroups = "auto"
	}
}

// ErrClosed is returned by Backend after Close.
var ErrClosed = errors.New("isolation: manager closed")

// Manager makes and owns the Supervisors of one host configuration. It
// implements registry.Backends. Safe for concurrent use.
type Manager struct {
	o   Options
	log *slog.Logger

	mu     sync.Mutex // guards the fields below
	units  map[string]*unit
	rtDir  string // private runtime directory, made on first use
	seq    int
	closed bool

	cgOnce sync.Once
	cg     *cgroupParent // nil: no cgroups
	cgUsed bool          // acquireCgroups was called (released on Close)
}

// The cgroup parent of the tenants' cgroups is one per process, shared by
// the Managers of successive configurations (SIGHUP), and removed when the
// last of them closes.
var sharedCgroups struct {
	mu    sync.Mutex
	users int
	cg    *cgroupParent
	err   error
}

// unitSeq numbers unit cgroups across Managers.
var unitSeq atomic.Int64

func acquireCgroups() (cg *cgroupParent, fresh bool, err error) {
	sharedCgroups.mu.Lock()
	defer sharedCgroups.mu.Unlock()
	if sharedCgroups.users == 0 {
		sharedCgroups.cg, sharedCgroups.err = setupCgroups()
		fresh = true
	}
	sharedCgroups.users++
	return sharedCgroups.cg, fresh, sharedCgroups.err
}

func releaseCgroups() {
	sharedCgroups.mu.Lock()
	defer sharedCgroups.mu.Unlock()
	sharedCgroups.users--
	if sharedCgroups.users == 0 && sharedCgroups.cg != nil {
		sharedCgroups.cg.remove()
		sharedCgroups.cg = nil
	}
}

// unit is one Supervisor and the number of Handles on it.
type unit struct {
	sup  *Supervisor
	refs int
}

var _ registry.Backends = (*Manager)(nil)

// NewManager returns a Manager. It starts nothing until Backend is
// called.
func NewManager(o Options) (*Manager, error) {
	if o.Config == nil {
		return nil, errors.New("isolation: Options.Config is required")
	}
	o.defaults()
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("isolation: find the fcgihost binary: %w", err)
		}
		o.Executable = exe
	}
	return &Manager{o: o, log: o.Logger, units: map[string]*unit{}}, nil
}

// Backend returns the Backend of a process-isolated app, starting its
// unit's Supervisor (and so its child) if it is not running yet. Apps of
// one root that share their unit settings share one child.
func (m *Manager) Backend(a *registry.App) (registry.Backend, error) {
	sp, err := m.specFor(a)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	u := m.units[sp.key]
	if u == nil {
		if err := m.ensureRuntimeDir(); err != nil {
			return nil, err
		}
		m.seq++
		sup, err := newSupervisor(m, sp, m.seq)
		if err != nil {
			return nil, err
		}
		u = &unit{sup: sup}
		m.units[sp.key] = u
	}
	u.refs++
	return &Handle{m: m, key: sp.key, sup: u.sup}, nil
}

func (m *Manager) ensureRuntimeDir() error {
	if m.rtDir != "" {
		return nil
	}
	d, err := os.MkdirTemp(m.o.RuntimeDir, "fcgihost-iso-")
	if err != nil {
		return fmt.Errorf("isolation: runtime dir: %w", err)
	}
	// Children running as other users must reach their own subdirectory.
	if err := os.Chmod(d, 0o711); err != nil {
		os.RemoveAll(d)
		return fmt.Errorf("isolation: runtime dir: %w", err)
	}
	m.rtDir = d
	return nil
}

// cgroups returns the cgroup parent of the tenants' cgroups, setting it up
// on first use; nil when cgroup v2 is not usable here.
func (m *Manager) cgroups() *cgroupParent {
	m.cgOnce.Do(func() {
		if m.o.Cgroups == "off" {
			return
		}
		m.cgUsed = true
		cg, fresh, err := acquireCgroups()
		if err != nil {
			if fresh {
				m.log.Info("process isolation: no cgroup v2 memory controller; children are bounded by rlimits", "reason", err.Error())
			}
			return
		}
		if fresh {
			m.log.Info("process isolation: per-tenant cgroups", "dir", cg.dir)
		}
		m.cg = cg
	})
	return m.cg
}

// release drops one Handle of a unit, stopping its Supervisor with the
// last.
func (m *Manager) release(ctx context.Context, key string, sup *Supervisor) error {
	m.mu.Lock()
	u := m.units[key]
	if u == nil || u.sup != sup {
		m.mu.Unlock()
		return nil
	}
	u.refs--
	if u.refs > 0 {
		m.mu.Unlock()
		return nil
	}
	delete(m.units, key)
	m.mu.Unlock()
	return sup.Close(ctx)
}

// Stats returns the figures of every running unit, sorted by name.
func (m *Manager) Stats() []Stats {
	m.mu.Lock()
	sups := make([]*Supervisor, 0, len(m.units))
	for _, u := range m.units {
		sups = append(sups, u.sup)
	}
	m.mu.Unlock()
	out := make([]Stats, 0, len(sups))
	for _, s := range sups {
		out = append(out, s.Stats())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close stops every Supervisor (requests in flight may finish until ctx
// ends) and removes the runtime directory and the cgroups.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	units := m.units
	m.units = map[string]*unit{}
	rt := m.rtDir
	m.mu.Unlock()
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for _, u := range units {
		wg.Add(1)
		go func(s *Supervisor) {
			defer wg.Done()
			if err := s.Close(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}(u.sup)
	}
	wg.Wait()
	m.cgOnce.Do(func() {}) // no setup after Close
	if m.cgUsed {
		releaseCgroups()
	}
	if rt != "" {
		if err := os.RemoveAll(rt); err != nil {
			errs = append(errs, fmt.Errorf("isolation: remove %s: %w", rt, err))
		}
	}
	return errors.Join(errs...)
}

// Handle is one app's Backend: a reference to its unit's Supervisor.
type Handle struct {
	m    *Manager
	key  string
	sup  *Supervisor
	once sync.Once
}

var _ registry.Backend = (*Handle)(nil)

// Supervisor returns the Supervisor serving the app.
func (h *Handle) Supervisor() *Supervisor { return h.sup }

// Stats returns the figures of the app's child (for the status page).
func (h *Handle) Stats() Stats { return h.sup.Stats() }

// Close releases the Handle; the last Handle of a unit stops its child.
func (h *Handle) Close(ctx context.Context) error {
	var err error
	h.once.Do(func() { err = h.m.release(ctx, h.key, h.sup) })
	return err
}

// safeName turns a unit name into a file name.
func safeName(name string) string {
	b := []byte(filepath.Clean(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	s := string(b)
	for len(s) > 0 && (s[0] == '_' || s[0] == '.') {
		s = s[1:]
	}
	if len(s) > 80 {
		s = s[len(s)-80:]
	}
	if s == "" {
		s = "unit"
	}
	return s
}
