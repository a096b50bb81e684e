package main

// This file holds the master of `fcgihost serve` with processes > 0
// (docs/processes.md): it opens the listeners, starts the workers (this
// binary's hidden __worker command) that inherit them, and turns signals
// into the workers' replacement (SIGHUP), log reopening (SIGUSR1) and
// drain (SIGTERM, SIGINT). It never loads a script.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/prefork"
	"github.com/fcgihost/fcgihost/server"
)

// stuckMargin is how long past queue_timeout plus timeout a request may run
// before its worker is retired as stuck (docs/processes.md).
const stuckMargin = 5 * time.Second

func (m *Main) master(ctx context.Context, args []string, flags *config.Flags, cfg *config.Config, inherited net.Listener) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	logOut, err := server.OpenLogFile(cfg.LogFile)
	if err != nil {
		return err
	}
	defer logOut.Close()
	log := server.NewLogger(cfg, logOut)
	slog.SetDefault(log)
	if msg, ok := missingConfigMessage(flags); ok {
		// Said once, by the master (its workers load the same flags).
		log.Warn(msg, "file", flags.Missing())
	}

	var listeners []net.Listener
	var closers []func()
	closeListeners := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	defer closeListeners()
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	fileOf := func(l net.Listener) (*os.File, error) {
		fl, ok := l.(interface{ File() (*os.File, error) })
		if !ok {
			return nil, fmt.Errorf("listener %s cannot be passed to a worker", l.Addr())
		}
		f, err := fl.File()
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Addr(), err)
		}
		files = append(files, f)
		return f, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("master: this program's path: %w", err)
	}
	var msts []*prefork.Master
	var mainMst *prefork.Master
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	// The default pool: the top-level listeners and every app no pool
	// claims. With pools and processes = 0 it runs only when a listener
	// was named or inherited.
	if cfg.Processes > 0 || len(cfg.Pools) == 0 || inherited != nil || len(cfg.Listen) > 0 || cfg.HTTP != "" || flags.ListenersGiven() {
		pc := prefork.Config{
			Name:        "main",
			Exe:         exe,
			Args:        append([]string{"__worker", "-"}, args...),
			Processes:   max(cfg.Processes, 1),
			MemoryLimit: cfg.ProcessMemoryLimit,
			MaxRSS:      cfg.ProcessMaxRSS,
			MaxRequests: cfg.ProcessMaxRequests,
			Grace:       cfg.GracePeriod,
			StuckAfter:  stuckAfter(cfg),
			Log:         log,
			Stderr:      m.Stderr,
		}
		if inherited != nil {
			pc.Args[1] = "fd0"
		}
		fls, hl, err := openListeners(cfg, flags, inherited)
		if err != nil {
			return err
		}
		for _, l := range fls {
			listeners = append(listeners, l.Listener)
		}
		if hl != nil {
			listeners = append(listeners, hl)
		}
		for _, l := range fls {
			f, err := fileOf(l.Listener)
			if err != nil {
				return err
			}
			switch l.proto {
			case protoSCGI:
				pc.SCGI = append(pc.SCGI, f)
			case protoUWSGI:
				pc.UWSGI = append(pc.UWSGI, f)
			default:
				pc.FCGI = append(pc.FCGI, f)
			}
			label := protoLabel(l.proto)
			log.Info(label+" listening", "addr", l.Addr().String())
			if inherited == nil {
				fmt.Fprintf(m.Stdout, "%s on %s\n", label, displayAddr(l.Addr()))
			}
		}
		if hl != nil {
			if pc.HTTP, err = fileOf(hl); err != nil {
				return err
			}
			base := "http://" + hl.Addr().String()
			fmt.Fprintf(m.Stdout, "HTTP on %s\n", base)
			for _, name := range listApps(cfg.Apps) {
				slash := "" // a folder app's URL ends with "/", as one process prints it
				if st, err := os.Stat(filepath.Join(cfg.Apps, name)); err == nil && st.IsDir() {
					slash = "/"
				}
				fmt.Fprintf(m.Stdout, "  %s/%s%s\n", base, name, slash)
			}
		}
		if pc.Limits, err = memoryLimiter(cfg.ProcessMemoryLimit, log); err != nil {
			return err
		}
		if c, ok := pc.Limits.(interface{ Close() }); ok {
			closers = append(closers, c.Close)
		}
		mainMst = prefork.New(pc)
		msts = append(msts, mainMst)
	}
	pools := map[string]*poolRun{}
	for _, name := range cfg.PoolNames() {
		pr, err := m.startPool(cfg, name, exe, log, logOut)
		if err != nil {
			return fmt.Errorf("pool %s: %w", name, err)
		}
		pools[name] = pr
		closers = append(closers, pr.close)
		listeners = append(listeners, pr.listeners...)
		files = append(files, pr.files...)
		msts = append(msts, pr.mst)
	}
	for _, mst := range msts {
		mst.Start()
	}
	log.Info("fcgihost master started", "pid", os.Getpid(), "processes", cfg.Processes, "pools", len(cfg.Pools), "memory_limit", cfg.ProcessMemoryLimit, "limit", limitKind(msts))

	// skip: the signal that started the drain is still to come on sigs
	// (main's signal.NotifyContext saw it first) and must not count as a
	// second one.
	drain := func(skip bool, why ...any) error {
		log.Info("shutting down", append(why, "grace_period", cfg.GracePeriod)...)
		// New connections are refused from now on (the workers close
		// their copies as they drain).
		closeListeners()
		for _, f := range files {
			f.Close()
		}
		files = nil
		done := make(chan struct{})
		go func() {
			var wg sync.WaitGroup
			for _, mst := range msts {
				wg.Add(1)
				go func() { defer wg.Done(); mst.Drain() }()
			}
			wg.Wait()
			close(done)
		}()
		for {
			select {
			case <-done:
				log.Info("stopped")
				return nil
			case sig := <-sigs:
				if sig != syscall.SIGTERM && sig != syscall.SIGINT {
					if sig == syscall.SIGUSR1 {
						for _, mst := range msts {
							mst.Signal(syscall.SIGUSR1)
						}
					}
					continue
				}
				if skip {
					skip = false
					continue
				}
				log.Warn("second signal: exiting now", "signal", sig.String())
				for _, mst := range msts {
					mst.Signal(syscall.SIGKILL)
				}
				os.Exit(1)
			}
		}
	}

	for {
		select {
		case <-ctx.Done():
			return drain(context.Cause(ctx) != ctx.Err(), "cause", context.Cause(ctx).Error())
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				ncfg, err := flags.Load()
				if err != nil {
					log.Error("SIGHUP: bad configuration; keeping the old one", "err", err)
					continue
				}
				if ncfg.Processes != cfg.Processes {
					log.Warn("SIGHUP: a change of processes takes a restart; keeping", "processes", cfg.Processes)
				}
				for name, pr := range pools {
					pr.reload(ncfg, name, log)
				}
				if mainMst == nil {
					cfg = ncfg
					continue
				}
				if sameProcessKeys(cfg, ncfg) {
					// Each worker reloads in place, as a single process
					// does: requests on its connections go on, none is
					// refused.
					log.Info("SIGHUP: the workers reload the configuration")
					mainMst.Signal(syscall.SIGHUP)
					cfg = ncfg
					continue
				}
				ncfg.Processes = cfg.Processes
				cfg = ncfg
				mainMst.SetLimits(cfg.ProcessMaxRSS, cfg.ProcessMaxRequests, cfg.GracePeriod, stuckAfter(cfg))
				log.Info("SIGHUP: replacing the workers with the new configuration")
				mainMst.Reload(nil, func(ok, failed int) {
					if ok == 0 && failed > 0 {
						log.Error("SIGHUP: no new worker started; the old ones keep serving", "failed", failed)
						return
					}
					log.Info("configuration reloaded", "workers", ok, "failed", failed)
				})
			case syscall.SIGUSR1:
				// The workers first: once the master says "reopened",
				// every process writes to the new files.
				n := 0
				for _, mst := range msts {
					n += mst.ReopenLogs(5 * time.Second)
				}
				if err := logOut.Reopen(); err != nil {
					log.Error("SIGUSR1: reopen log", "err", err)
				}
				log.Info("log files reopened", "workers", n)
			default:
				return drain(false, "signal", sig.String())
			}
		}
	}
}

// limitKind says how the workers' memory is bounded.
func limitKind(msts []*prefork.Master) string {
	for _, m := range msts {
		if k := m.LimitKind(); k != "" {
			return k
		}
	}
	return "none"
}

// sameProcessKeys reports whether a and b agree on the keys that shape the
// worker processes (a change of one replaces the workers on SIGHUP).
func sameProcessKeys(a, b *config.Config) bool {
	return a.ProcessMemoryLimit == b.ProcessMemoryLimit && a.ProcessMaxRSS == b.ProcessMaxRSS &&
		a.ProcessMaxRequests == b.ProcessMaxRequests && a.GracePeriod == b.GracePeriod && stuckAfter(a) == stuckAfter(b)
}

// stuckAfter is how long a request may run in a worker before the worker
// is retired as stuck: the longest queue_timeout plus the longest timeout
// of any app, plus stuckMargin.
func stuckAfter(cfg *config.Config) time.Duration {
	q, t := cfg.Defaults.QueueTimeout, cfg.Defaults.Timeout
	for name := range cfg.AppOverrides {
		a := cfg.AppConfig(name)
		q, t = max(q, a.QueueTimeout), max(t, a.Timeout)
	}
	return q + t + stuckMargin
}

// listApps names the apps of the apps dir (NAME.js, NAME.lua, NAME/index.*)
// without loading them, for the development listing.
func listApps(dir string) []string {
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			for _, idx := range []string{"index.js", "index.lua", "index.mjs", "index.ts"} {
				if st, err := os.Stat(filepath.Join(dir, name, idx)); err == nil && st.Mode().IsRegular() {
					add(name)
					break
				}
			}
			continue
		}
		if ext := filepath.Ext(name); ext == ".js" || ext == ".lua" || ext == ".mjs" || ext == ".ts" {
			app := strings.TrimSuffix(name, ext)
			if seen[app] {
				// NAME.js and NAME.lua: the second is named by its file
				// name, as the registry does.
				app = name
			}
			add(app)
		}
	}
	sort.Strings(out)
	return out
}
