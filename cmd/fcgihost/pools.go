package main

// This file holds the master's [pool.NAME] pools (docs/processes.md,
// "Pools"): each has its own sockets, opened by the master, its own
// workers running as its user with a config limited to its apps or roots,
// written by the master into a directory the pool's user can read.

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/prefork"
)

// poolRun is one running pool.
type poolRun struct {
	pool      config.Pool
	mst       *prefork.Master
	dir       string // holds the workers' config
	cfgPath   string
	cred      *syscall.Credential
	listeners []net.Listener
	files     []*os.File
	limits    prefork.Limiter
}

func (m *Main) startPool(cfg *config.Config, name, exe string, log *slog.Logger, logOut io.Writer) (*poolRun, error) {
	pl := cfg.Pools[name]
	pr := &poolRun{pool: pl}
	ok := false
	defer func() {
		if !ok {
			pr.close()
		}
	}()
	if pl.User != "" || pl.Group != "" {
		if os.Geteuid() != 0 {
			log.Warn("pool user and group are ignored: the master does not run as root", "pool", name, "user", pl.User, "group", pl.Group)
		} else {
			cred, err := lookupCredential(pl.User, pl.Group)
			if err != nil {
				return nil, err
			}
			pr.cred = cred
		}
	}
	dir, err := os.MkdirTemp("", "fcgihost-pool-"+name+"-")
	if err != nil {
		return nil, err
	}
	pr.dir = dir
	pr.cfgPath = filepath.Join(dir, "fcgihost.toml")
	if err := pr.writeConfig(cfg, name); err != nil {
		return nil, err
	}
	mode := pl.SocketMode
	if mode == 0 {
		mode = cfg.SocketMode
	}
	uid, gid, err := socketOwner(pl.SocketOwner, pl.SocketGroup)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", name, err)
	}
	for _, a := range pl.Listen {
		l, err := fcgi.Listen(a, mode)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		pr.listeners = append(pr.listeners, l)
		if ul, ok := l.(*net.UnixListener); ok && (uid >= 0 || gid >= 0) {
			if p := ul.Addr().String(); p != "" && p[0] != '@' {
				if err := os.Chown(p, uid, gid); err != nil {
					return nil, fmt.Errorf("pool %s: socket %s: %w", name, p, err)
				}
			}
		}
		f, err := l.(interface{ File() (*os.File, error) }).File()
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", a, err)
		}
		pr.files = append(pr.files, f)
		log.Info("FastCGI listening", "pool", name, "addr", l.Addr().String())
		fmt.Fprintf(m.Stdout, "FastCGI on %s (pool %s)\n", displayAddr(l.Addr()), name)
	}
	if pr.limits, err = memoryLimiter(pl.MemoryLimit, log); err != nil {
		return nil, err
	}
	pcfg, _ := cfg.ForPool(name)
	pc := prefork.Config{
		Name:        name,
		Exe:         exe,
		Args:        []string{"__worker", "-", "--config", pr.cfgPath},
		Dir:         "/",
		FCGI:        pr.files,
		Processes:   pl.Processes,
		MemoryLimit: pl.MemoryLimit,
		MaxRSS:      pl.MaxRSS,
		MaxRequests: pl.MaxRequests,
		Grace:       cfg.GracePeriod,
		StuckAfter:  stuckAfter(pcfg),
		Credential:  pr.cred,
		Limits:      pr.limits,
		Log:         log,
		// The pool's workers log to their standard error (they may not
		// be able to open the master's files): into the master's log.
		Stderr: logOut,
	}
	if len(pl.Env) > 0 {
		pc.Env = poolEnv(pl.Env)
	}
	pr.mst = prefork.New(pc)
	ok = true
	return pr, nil
}

// writeConfig writes the configuration of the pool's workers: the pool's
// apps or roots alone, absolute paths, logs to standard error.
func (pr *poolRun) writeConfig(cfg *config.Config, name string) error {
	pcfg, err := cfg.ForPool(name)
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if p == "" || p == "-" {
			return p
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	pcfg.Apps, pcfg.DataDir = abs(pcfg.Apps), abs(pcfg.DataDir)
	if pcfg.Apps == "" {
		// No apps dir: an empty one of the pool's own.
		empty := filepath.Join(pr.dir, "no-apps")
		os.MkdirAll(empty, 0o755)
		pcfg.Apps = empty
	}
	for i, r := range pcfg.Roots {
		if !filepath.IsAbs(r) {
			pcfg.Roots[i] = abs(r)
		}
	}
	pcfg.LogFile = ""
	if pcfg.AccessLog != "" {
		pcfg.AccessLog = "-"
	}
	pcfg.Listen = nil
	pcfg.Processes = 0
	tmp := pr.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(pcfg.String()), 0o600); err != nil {
		return err
	}
	if pr.cred != nil {
		os.Chown(pr.dir, int(pr.cred.Uid), int(pr.cred.Gid))
		os.Chown(tmp, int(pr.cred.Uid), int(pr.cred.Gid))
	}
	return os.Rename(tmp, pr.cfgPath)
}

// reload applies a SIGHUP's configuration to the pool: its workers reload
// in place when only the apps' settings changed, else they are replaced.
func (pr *poolRun) reload(ncfg *config.Config, name string, log *slog.Logger) {
	npl, ok := ncfg.Pools[name]
	if !ok {
		log.Warn("SIGHUP: removing a pool takes a restart; it keeps serving", "pool", name)
		return
	}
	if err := pr.writeConfig(ncfg, name); err != nil {
		log.Error("SIGHUP: pool config", "pool", name, "err", err)
		return
	}
	if !slices.Equal(npl.Listen, pr.pool.Listen) || npl.User != pr.pool.User || npl.Group != pr.pool.Group || npl.Processes != pr.pool.Processes ||
		npl.SocketMode != pr.pool.SocketMode || npl.SocketOwner != pr.pool.SocketOwner || npl.SocketGroup != pr.pool.SocketGroup {
		log.Warn("SIGHUP: a change of a pool's listen, socket_mode, socket_owner, socket_group, user, group or processes takes a restart", "pool", name)
	}
	same := npl.MemoryLimit == pr.pool.MemoryLimit && npl.MaxRSS == pr.pool.MaxRSS && npl.MaxRequests == pr.pool.MaxRequests &&
		reflect.DeepEqual(npl.Env, pr.pool.Env)
	if same {
		pr.mst.Signal(syscall.SIGHUP)
		return
	}
	pr.pool.MaxRSS, pr.pool.MaxRequests = npl.MaxRSS, npl.MaxRequests
	pcfg, _ := ncfg.ForPool(name)
	pr.mst.SetLimits(npl.MaxRSS, npl.MaxRequests, ncfg.GracePeriod, stuckAfter(pcfg))
	pr.mst.Reload(nil, func(ok, failed int) {
		log.Info("configuration reloaded", "pool", name, "workers", ok, "failed", failed)
	})
}

func (pr *poolRun) close() {
	for _, l := range pr.listeners {
		l.Close()
	}
	for _, f := range pr.files {
		f.Close()
	}
	if c, ok := pr.limits.(interface{ Close() }); ok {
		c.Close()
	}
	if pr.dir != "" {
		os.RemoveAll(pr.dir)
	}
}

// lookupCredential resolves a pool's user and group (the group defaults
// to the user's); root is refused.
func lookupCredential(userName, groupName string) (*syscall.Credential, error) {
	if userName == "" {
		return nil, fmt.Errorf("a pool with a group needs a user")
	}
	u, err := user.Lookup(userName)
	if err != nil {
		if u, err = user.LookupId(userName); err != nil {
			return nil, fmt.Errorf("user %q: %w", userName, err)
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			if g, err = user.LookupGroupId(groupName); err != nil {
				return nil, fmt.Errorf("group %q: %w", groupName, err)
			}
		}
		gid, _ = strconv.ParseUint(g.Gid, 10, 32)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %q is root: a pool never runs as root", userName)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// socketOwner resolves a pool's socket_owner and socket_group (names or
// ids) to the ids os.Chown takes; -1 leaves one unchanged.
func socketOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			if u, err = user.LookupId(owner); err != nil {
				return 0, 0, fmt.Errorf("socket_owner %q: %w", owner, err)
			}
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return 0, 0, fmt.Errorf("socket_group %q: %w", group, err)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// poolEnv is a pool's environment from its env key: "NAME" passes the
// master's value, "NAME=VALUE" sets one.
func poolEnv(names []string) []string {
	env := []string{}
	for _, e := range names {
		if strings.Contains(e, "=") {
			env = append(env, e)
		} else if v, ok := os.LookupEnv(e); ok {
			env = append(env, e+"="+v)
		}
	}
	return env
}
