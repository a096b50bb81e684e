package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/server"
)

// Default listeners when neither flags nor the config name any.
const (
	defaultListen = "127.0.0.1:9000"
	defaultHTTP   = "127.0.0.1:8080"
)

// serve runs `fcgihost serve`. inherited is the FastCGI listener passed on
// fd 0 by the web server (nil if none).
func (m *Main) serve(ctx context.Context, args []string, inherited net.Listener) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	flags := config.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	cfg, err := flags.Load()
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	logOut, err := server.OpenLogFile(cfg.LogFile)
	if err != nil {
		return err
	}
	defer logOut.Close()
	log := server.NewLogger(cfg, logOut)
	slog.SetDefault(log)
	var access *server.LogFile
	opts := server.Options{Logger: log, DocRootFallback: inherited != nil && len(cfg.Roots) == 0}
	if cfg.AccessLog != "" {
		if access, err = server.OpenLogFile(cfg.AccessLog); err != nil {
			return err
		}
		defer access.Close()
		opts.AccessLog = server.NewAccessLogger(cfg, access)
	}

	// Listeners: fd 0 from the web server, systemd's, the named ones, or the
	// development defaults.
	var fls []net.Listener
	httpAddr := cfg.HTTP
	switch {
	case inherited != nil:
		fls = append(fls, inherited)
	default:
		sd, err := fcgi.SystemdListeners()
		if err != nil {
			return fmt.Errorf("systemd socket activation: %w", err)
		}
		fls = append(fls, sd...)
	}
	listen := cfg.Listen
	if len(fls) == 0 && len(listen) == 0 && httpAddr == "" && !flags.ListenersGiven() {
		listen, httpAddr = []string{defaultListen}, defaultHTTP
	}
	closeAll := func() {
		for _, l := range fls {
			l.Close()
		}
	}
	for _, a := range listen {
		l, err := fcgi.Listen(a, cfg.SocketMode)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s: %w", a, err)
		}
		fls = append(fls, l)
	}
	var hl net.Listener
	if httpAddr != "" {
		if hl, err = net.Listen("tcp", httpAddr); err != nil {
			closeAll()
			return fmt.Errorf("http listen %s: %w", httpAddr, err)
		}
	}

	start := time.Now()
	srv, err := server.New(cfg, opts)
	if err != nil {
		closeAll()
		return err
	}
	apps := srv.Registry().Apps()
	log.Info("fcgihost started", "apps", len(apps), "dir", srv.Registry().AppsDir(), "took", time.Since(start).Round(time.Millisecond), "pid", os.Getpid())

	fsrv := srv.NewFCGIServer(cfg)
	var wg sync.WaitGroup
	errc := make(chan error, len(fls)+1)
	for _, l := range fls {
		log.Info("FastCGI listening", "addr", l.Addr().String())
		fmt.Fprintf(m.Stdout, "FastCGI on %s\n", displayAddr(l.Addr()))
		srv.WatchListener(l)
		wg.Add(1)
		go func(l net.Listener) {
			defer wg.Done()
			if err := fsrv.Serve(l); err != nil && !errors.Is(err, fcgi.ErrServerClosed) {
				errc <- fmt.Errorf("fastcgi %s: %w", l.Addr(), err)
			}
		}(l)
	}
	var hs *http.Server
	if hl != nil {
		hs = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		base := "http://" + hl.Addr().String()
		fmt.Fprintf(m.Stdout, "HTTP on %s\n", base)
		for _, a := range apps {
			if a.Kind == 0 || a.Kind == 1 { // apps of the apps dir
				fmt.Fprintf(m.Stdout, "  %s/%s\n", base, a.Name)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http %s: %w", hl.Addr(), err)
			}
		}()
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				ncfg, err := flags.Load()
				if err != nil {
					log.Error("SIGHUP: bad configuration; keeping the old one", "err", err)
					continue
				}
				rctx, cancel := context.WithTimeout(context.Background(), ncfg.GracePeriod+time.Second)
				if err := srv.Reload(rctx, ncfg); err != nil {
					log.Error("SIGHUP: reload", "err", err)
				}
				cancel()
			case syscall.SIGUSR1:
				logOut.Reopen()
				if access != nil {
					access.Reopen()
				}
				log.Info("log files reopened")
			default:
				log.Info("shutting down", "signal", sig.String(), "grace_period", cfg.GracePeriod)
				break loop
			}
		}
	}
	// Drain: stop accepting, let requests finish within the grace period; a
	// second signal exits at once.
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGTERM || sig == syscall.SIGINT {
				log.Warn("second signal: exiting now")
				os.Exit(1)
			}
		}
	}()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.GracePeriod)
	defer cancel()
	if hs != nil {
		hs.Shutdown(sctx)
	}
	if err := fsrv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at the end of the grace period were cancelled", "err", err)
	}
	wg.Wait()
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
