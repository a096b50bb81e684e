package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/internal/oneconn"
	"github.com/fcgihost/fcgihost/prefork"
	"github.com/fcgihost/fcgihost/server"
)

// Default listeners when neither flags nor the config name any.
const (
	defaultListen = "127.0.0.1:9000"
	defaultHTTP   = "127.0.0.1:8080"
)

// serve runs `fcgihost serve`. inherited is the FastCGI listener passed on
// fd 0 by the web server (nil if none). With processes > 0 this process is
// the master of docs/processes.md; with 0 it serves alone.
func (m *Main) serve(ctx context.Context, args []string, inherited net.Listener) error {
	flags, cfg, err := m.loadServe(args, inherited != nil)
	if err != nil {
		var le *loadError
		if errors.As(err, &le) {
			if inherited != nil {
				// Started by the web server: answer 500 with the cause
				// on FCGI_STDERR rather than exit (docs/troubleshooting.md).
				return m.serveBroken(ctx, inherited, le.err)
			}
			return &exitError{code: 2, err: le.err}
		}
		return err
	}
	if cfg.Processes > 0 || len(cfg.Pools) > 0 {
		return m.master(ctx, args, flags, cfg, inherited)
	}
	return m.serveOne(ctx, flags, cfg, inherited != nil, inherited, nil)
}

// worker runs the hidden `fcgihost __worker MODE SERVE-ARGS...` a master
// starts: MODE is "fd0" when the master was started on fd 0 by a web
// server, else "-".
func (m *Main) worker(ctx context.Context, args []string) error {
	if len(args) == 0 || !prefork.IsWorker() {
		fmt.Fprintf(m.Stderr, "fcgihost: unknown command %q\n\n%s", "__worker", usage)
		return &exitError{code: 2}
	}
	w, err := prefork.FromEnv()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	fd0 := args[0] == "fd0"
	flags, cfg, err := m.loadServe(args[1:], fd0)
	if err != nil {
		var le *loadError
		if errors.As(err, &le) {
			return &exitError{code: 2, err: le.err}
		}
		return err
	}
	if len(cfg.Pools) > 0 {
		// A worker of the default pool: every app no pool claims.
		leaveOutPoolApps(cfg)
	}
	return m.serveOne(ctx, flags, cfg, fd0, nil, w)
}

// leaveOutPoolApps limits cfg to the apps of its apps dir that no pool
// claims (the apps there now: one added later is served after a reload).
func leaveOutPoolApps(cfg *config.Config) {
	claimed := cfg.PoolApps()
	var keep []string
	for _, a := range listApps(cfg.Apps) {
		if slices.Contains(claimed, a) {
			continue
		}
		if len(cfg.OnlyApps) > 0 && !slices.Contains(cfg.OnlyApps, a) {
			continue
		}
		keep = append(keep, a)
	}
	if len(keep) == 0 {
		cfg.Apps, cfg.OnlyApps = "", nil
	} else {
		cfg.OnlyApps = keep
	}
	cfg.Pools = nil
}

// loadServe parses the serve flags and loads the configuration. fd0 says
// that a web server started the process with the listener on fd 0.
func (m *Main) loadServe(args []string, fd0 bool) (*config.Flags, *config.Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags := config.BindFlags(fs)
	if err := m.parseFlags(fs, serveUsage, args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, m.usageError("serve", "unexpected argument "+fs.Arg(0)+" (serve takes only flags)")
	}
	flags.EnvFileOptional = fd0
	cfg, err := flags.Load()
	if err != nil {
		return nil, nil, &loadError{err: err}
	}
	if fd0 && cfg.Apps == config.DefaultApps {
		// Started by the web server (mod_fcgid, lighttpd bin-path) in the
		// script's directory: no ./apps there means no apps dir, and the
		// scripts come from the DOCUMENT_ROOT (docs/reference.md §2).
		if _, err := os.Stat(cfg.Apps); errors.Is(err, os.ErrNotExist) {
			cfg.Apps = ""
		}
	}
	return flags, cfg, nil
}

// openListeners opens the gateway listeners — fd 0 from the web server,
// systemd's (SCGI or uwsgi by their FileDescriptorName), the named ones
// (with their protocol prefix), or the development defaults — and the HTTP
// one (nil if none). An inherited socket speaks FastCGI unless a listen
// address names it: "scgi:fd:0", "uwsgi:fd:3" (docs/reference.md,
// "Gateways").
func openListeners(cfg *config.Config, flags *config.Flags, inherited net.Listener) ([]gwListener, net.Listener, error) {
	var fls []gwListener
	httpAddr := cfg.HTTP
	// fdIndex maps an inherited descriptor to its entry in fls.
	fdIndex := map[int]int{}
	switch {
	case inherited != nil:
		fdIndex[0] = len(fls)
		fls = append(fls, gwListener{protoFCGI, inherited})
	default:
		protos := systemdProtos()
		sd, err := fcgi.SystemdListeners()
		if err != nil {
			return nil, nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		for i, l := range sd {
			p := protoFCGI
			if i < len(protos) {
				p = protos[i]
			}
			fdIndex[3+i] = len(fls)
			fls = append(fls, gwListener{p, l})
		}
	}
	closeAll := func() {
		for _, l := range fls {
			if l.Listener != inherited { // serveBroken may still answer on fd 0
				l.Close()
			}
		}
	}
	var listen []string
	named := map[int]string{}
	for _, a := range cfg.Listen {
		proto, addr := config.SplitProto(a)
		fd, ok, err := config.ParseFD(addr)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listen %s: %w", a, err)
		}
		if !ok {
			listen = append(listen, a)
			continue
		}
		i, have := fdIndex[fd]
		if !have {
			closeAll()
			if fd == 0 {
				return nil, nil, fmt.Errorf("listen %s: fd 0 is not a listening socket (a web server, spawn-fcgi or systemd's StandardInput=socket passes one)", a)
			}
			return nil, nil, fmt.Errorf("listen %s: systemd passed no socket on fd %d (LISTEN_FDS)", a, fd)
		}
		if prev, dup := named[fd]; dup {
			closeAll()
			return nil, nil, fmt.Errorf("listen %s: fd %d is already named by %s", a, fd, prev)
		}
		named[fd] = a
		fls[i].proto = proto
	}
	if len(fls) == 0 && len(listen) == 0 && httpAddr == "" && !flags.ListenersGiven() {
		listen, httpAddr = []string{defaultListen}, defaultHTTP
	}
	for _, a := range listen {
		proto, addr := config.SplitProto(a)
		l, err := fcgi.Listen(addr, cfg.SocketMode)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listen %s: %w", a, err)
		}
		fls = append(fls, gwListener{proto, l})
	}
	var hl net.Listener
	if httpAddr != "" {
		var err error
		if hl, err = net.Listen("tcp", httpAddr); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("http listen %s: %w", httpAddr, err)
		}
	}
	return fls, hl, nil
}

// serveOne serves in this process: alone (w nil), or as a master's worker
// on the listeners it inherited (w).
func (m *Main) serveOne(ctx context.Context, flags *config.Flags, cfg *config.Config, fd0 bool, inherited net.Listener, w *prefork.Worker) error {
	// Catch the signals before anything starts: SIGHUP's and SIGUSR1's
	// default action would kill the process (a logrotate run during the
	// start). Those that arrive while the apps compile wait in sigs.
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
	if msg, ok := missingConfigMessage(flags); ok && w == nil {
		log.Warn(msg, "file", flags.Missing())
	}
	var access *server.LogFile
	opts := server.Options{Logger: log, DocRootFallback: fd0 && len(cfg.Roots) == 0}
	if w != nil {
		opts.StatusAggregate = w.Aggregate
		// A script call stuck past its deadline was answered (504); the
		// worker asks to be retired, which ends the call with the process
		// (docs/processes.md, "Stuck requests").
		opts.OnStuck = func(what string) { w.Retire("request stuck past its deadline: " + what) }
		opts.TestHook = w.ScriptHook()
	} else if os.Getenv(prefork.EnvTestHooks) == "1" {
		opts.TestHook = prefork.ScriptTestHook
	}
	if cfg.AccessLog != "" {
		if access, err = server.OpenLogFile(cfg.AccessLog); err != nil {
			return err
		}
		defer access.Close()
		opts.AccessLog = server.NewAccessLogger(cfg, access)
	}

	var fls []gwListener
	var hl net.Listener
	if w != nil {
		for _, l := range w.FCGI {
			fls = append(fls, gwListener{protoFCGI, l})
		}
		for _, l := range w.SCGI {
			fls = append(fls, gwListener{protoSCGI, l})
		}
		for _, l := range w.UWSGI {
			fls = append(fls, gwListener{protoUWSGI, l})
		}
		hl = w.HTTP
	} else if fls, hl, err = openListeners(cfg, flags, inherited); err != nil {
		if inherited != nil {
			return m.serveBroken(ctx, inherited, err)
		}
		return err
	}
	closeAll := func() {
		for _, l := range fls {
			l.Close()
		}
		if hl != nil {
			hl.Close()
		}
	}
	stdout := m.Stdout
	if w != nil || inherited != nil { // under mod_fcgid/lighttpd stdout is the web server's log
		stdout = io.Discard
	}

	start := time.Now()
	srv, err := server.New(cfg, opts)
	if err != nil {
		if inherited != nil {
			return m.serveBroken(ctx, inherited, err)
		}
		closeAll()
		return err
	}
	apps := srv.Registry().Apps()
	log.Info("fcgihost started", "apps", len(apps), "dir", srv.Registry().AppsDir(), "took", time.Since(start).Round(time.Millisecond), "pid", os.Getpid())

	if w != nil {
		defer w.ServeReports(func() *host.StatusReport { return srv.Host().Report() })()
	}
	fsrv := srv.NewFCGIServer(cfg)
	fsrv.Handler = w.WrapFCGI(fsrv.Handler)
	fronts := newFrontEnds(len(fls) + 1)
	gateways := map[string]*oneconn.Server{}
	for _, l := range fls {
		label := protoLabel(l.proto)
		log.Info(label+" listening", "addr", l.Addr().String())
		fmt.Fprintf(stdout, "%s on %s\n", label, displayAddr(l.Addr()))
		if l.proto == protoFCGI {
			srv.WatchListener(l.Listener)
			fronts.serve("fastcgi", fsrv, fcgi.ErrServerClosed, l.Listener)
			continue
		}
		g := gateways[l.proto]
		if g == nil {
			g = newGateway(l.proto, srv, cfg, log, w)
			gateways[l.proto] = g
			n := 0
			for _, o := range fls {
				if o.proto == l.proto {
					n++
				}
			}
			srv.SetGateway(l.proto, func() host.GatewayReport {
				st := g.Stats()
				return host.GatewayReport{Listeners: n, Connections: st.Accepted, ActiveConns: st.ActiveConns, Requests: st.Requests, BadHeaders: st.Bad}
			})
		}
		fronts.serve(l.proto, g, oneconn.ErrServerClosed, l.Listener)
	}
	if hl != nil {
		// The read limits of the FastCGI side, and max_conns (see
		// host.DevHTTPOptions and docs/sandbox.md).
		hs := host.NewDevHTTPServer(w.WrapHTTP(srv.Handler()), host.DevHTTPOptions{MaxConns: cfg.MaxConns, Logger: log})
		base := "http://" + hl.Addr().String()
		fmt.Fprintf(stdout, "HTTP on %s\n", base)
		for _, a := range apps {
			if a.Kind == 0 || a.Kind == 1 { // apps of the apps dir; a folder app's URL ends with "/"
				slash := ""
				if a.Kind == 1 {
					slash = "/"
				}
				fmt.Fprintf(stdout, "  %s/%s%s\n", base, a.Name, slash)
			}
		}
		fronts.serve("http", hs, http.ErrServerClosed, hl)
	}

	w.Ready()

	// SIGHUP reloads run one at a time in their own goroutine, so that a
	// reload waiting for slow requests of the old configuration never
	// delays a SIGTERM; SIGHUPs arriving meanwhile are coalesced.
	hup := make(chan struct{}, 1)
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for range hup {
			ncfg, err := flags.Load()
			if err != nil {
				log.Error("SIGHUP: bad configuration; keeping the old one", "err", err)
				continue
			}
			ctx, cancel := context.WithTimeout(rctx, ncfg.GracePeriod+time.Second)
			if err := srv.Reload(ctx, ncfg); err != nil {
				log.Error("SIGHUP: reload", "err", err)
			}
			cancel()
		}
	}()

	var runErr error
	skip := false // the signal that started the drain is still to come on sigs
loop:
	for {
		select {
		case <-ctx.Done():
			// main's signal.NotifyContext saw SIGTERM or SIGINT (the
			// cause names it): that same signal is, or soon will be, in
			// sigs too and must not count as a second one.
			skip = context.Cause(ctx) != ctx.Err()
			log.Info("shutting down", "cause", context.Cause(ctx).Error(), "grace_period", srv.Config().GracePeriod)
			break loop
		case err := <-fronts.errc:
			runErr = err
			break loop
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				select {
				case hup <- struct{}{}:
				default: // one is pending already
				}
			case syscall.SIGUSR1:
				if err := logOut.Reopen(); err != nil {
					log.Error("SIGUSR1: reopen log", "err", err)
				}
				if access != nil {
					if err := access.Reopen(); err != nil {
						log.Error("SIGUSR1: reopen access log", "err", err)
					}
				}
				log.Info("log files reopened")
				w.Reopened()
			default:
				log.Info("shutting down", "signal", sig.String(), "grace_period", srv.Config().GracePeriod)
				break loop
			}
		}
	}
	// Drain: stop accepting, let requests finish within the grace period
	// (of the configuration in force); a second SIGTERM or SIGINT exits at
	// once.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		for {
			select {
			case <-stopped:
				return
			case sig := <-sigs:
				if sig != syscall.SIGTERM && sig != syscall.SIGINT {
					continue
				}
				if skip {
					skip = false
					continue
				}
				if w != nil {
					// A worker drains until its master kills it: a signal
					// sent to the whole process group (Ctrl-C in a
					// terminal, kill -TERM -PGID) reaches it as well as the
					// master's own SIGTERM, and only the master's second
					// signal ends the drain (docs/processes.md, "Signals").
					continue
				}
				log.Warn("second signal: exiting now", "signal", sig.String())
				os.Exit(1)
			}
		}
	}()
	close(hup)
	rcancel() // a reload in progress stops waiting for the old configuration
	rwg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), srv.Config().GracePeriod)
	defer cancel()
	fronts.shutdown(sctx, log)
	srv.Close(sctx)
	log.Info("stopped")
	return runErr
}

func displayAddr(a net.Addr) string {
	if a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return a.String()
}

// loadError is a configuration that cannot be loaded (as opposed to bad
// flags): started by a web server, fcgihost reports it per request.
type loadError struct{ err error }

func (e *loadError) Error() string { return e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }
