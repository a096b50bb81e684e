// Package server assembles a running fcgihost from a config.Config: the
// engines, the app registry and its pools, the key-value store, outbound
// fetch, the file watcher and the Host that answers requests. It is the
// library face of fcgihost: a Go program embeds it (server.New, then
// Handler() as an http.Handler, or ServeFCGI on a listener) exactly as the
// fcgihost command does; cmd/fcgihost only parses flags, opens listeners
// and handles signals.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/fetch"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/isolation"
	"github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/script"
	"github.com/fcgihost/fcgihost/watch"
)

// Options are what the config file does not say.
type Options struct {
	Logger    *slog.Logger
	AccessLog *slog.Logger
	// DocRootFallback: started by the web server on fd 0 with no roots,
	// SCRIPT_FILENAME may name a file under the DOCUMENT_ROOT sent.
	DocRootFallback bool
	// Engines overrides the engines (default: JavaScript and Lua).
	Engines []script.Engine
	// StatusAggregate, if set, completes each status report with the
	// other workers' figures (a master's worker: docs/processes.md).
	StatusAggregate func(*host.StatusReport)
	// OnStuck and TestHook are the Host's (see host.Host).
	OnStuck  func(what string)
	TestHook func(appPath string)
	// Modules are Go modules every app may require (docs/embedding.md);
	// New validates them.
	Modules []*script.Module
	// AllowNoHandler lets an app export functions without a request
	// handler: it can then only be called (Call), not requested.
	AllowNoHandler bool
}

// Server is a running fcgihost. Its handler is swapped whole on Reload.
type Server struct {
	opts Options
	log  *slog.Logger

	cur atomic.Pointer[instance]

	reloadMu sync.Mutex // serialises Reload

	mu       sync.Mutex // guards store, watching, stop, closed and swaps of cur
	store    *lazyStore
	watching []string // the watched roots
	closed   bool
	wg       sync.WaitGroup     // the watcher loop
	stop     context.CancelFunc // stops the watcher loop; nil when not watching

	front host.Frontend // the FastCGI side, for the status page
}

// instance is one config generation: its registry and host.
type instance struct {
	cfg  *config.Config
	reg  *registry.Registry
	host *host.Host

	active  atomic.Int64  // requests being answered by this generation
	retired atomic.Bool   // replaced by Reload: signal idle when active drops to 0
	idle    chan struct{} // gets a value when a retired generation's last request ends
}

// enter returns the current generation with one more request counted on
// it; the caller calls leave when the request is done. A generation that
// Reload has replaced takes no new request, so once its count is zero it
// can be closed without failing anyone.
func (s *Server) enter() *instance {
	for {
		in := s.cur.Load()
		in.active.Add(1)
		if s.cur.Load() == in {
			return in
		}
		in.leave() // replaced meanwhile: use the new one
	}
}

func (in *instance) leave() {
	if in.active.Add(-1) == 0 && in.retired.Load() {
		select {
		case in.idle <- struct{}{}:
		default:
		}
	}
}

// drain waits until no request is being answered by in (which must no
// longer be current), or until ctx ends.
func (in *instance) drain(ctx context.Context) error {
	in.retired.Store(true)
	for in.active.Load() > 0 {
		select {
		case <-in.idle:
		case <-ctx.Done():
			return fmt.Errorf("%d requests still running on the previous configuration: %w", in.active.Load(), ctx.Err())
		}
	}
	return nil
}

// New starts the apps of cfg (compiling each and preloading its VMs) and,
// if cfg.Watch, watches their files.
func New(cfg *config.Config, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Engines == nil {
		o.Engines = []script.Engine{js.New(), lua.New()}
	}
	if err := script.ValidateModules(o.Modules); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger}
	s.store = &lazyStore{url: cfg.KV, dir: cfg.DataDir, log: o.Logger}
	in, err := s.build(cfg)
	if err != nil {
		return nil, err
	}
	s.cur.Store(in)
	if cfg.Watch {
		if err := s.startWatch(in); err != nil {
			s.log.Error("file watching is off", "err", err)
		}
	}
	return s, nil
}

func (s *Server) build(cfg *config.Config) (*instance, error) {
	settings := func(name string) registry.Settings {
		a := cfg.AppConfig(name)
		return registry.Settings{
			Pool: pool.Options{
				Workers:      a.Workers,
				MaxRequests:  a.MaxRequests,
				QueueSize:    a.QueueSize,
				QueueTimeout: queueTimeout(a.QueueTimeout),
				StartTimeout: a.Timeout,
			},
			Limits:                a.Limits(),
			Debug:                 a.Debug,
			IdleTimeout:           a.IdleTimeout,
			AllowInternalRedirect: a.AllowInternalRedirect,
			Slowlog:               a.Slowlog,
			Isolation:             a.Isolation,
			User:                  a.User,
			Group:                 a.Group,
			MaxRSS:                a.MaxRSS,
			Env:                   processAppEnv(a.Env),
		}
	}
	// Apps with isolation = "process" run in child processes (the
	// registry closes the manager with itself).
	iso, err := isolation.NewManager(isolation.Options{Config: cfg, Logger: s.log})
	if err != nil {
		return nil, err
	}
	services := func(name string, _ registry.Settings) (script.KV, script.Fetcher) {
		a := cfg.AppConfig(name)
		return s.store.namespace(name, kv.Quota{MaxKeys: a.KVMaxKeys, MaxBytes: a.KVMaxBytes}),
			fetch.New(fetch.Options{Allow: a.FetchAllow, Timeout: a.Timeout})
	}
	reg, err := registry.New(registry.Options{
		AppsDir:         appsDir(cfg),
		Roots:           cfg.Roots,
		Only:            cfg.OnlyApps,
		DocRootFallback: s.opts.DocRootFallback,
		Engines:         s.opts.Engines,
		Settings:        settings,
		Services:        services,
		Backends:        iso,
		Logger:          s.log,
		Modules:         s.opts.Modules,
		AllowNoHandler:  s.opts.AllowNoHandler,
	})
	if err != nil {
		iso.Close(context.Background())
		return nil, err
	}
	h := &host.Host{
		Registry:     reg,
		Logger:       s.log,
		AccessLog:    s.opts.AccessLog,
		StatusPath:   cfg.StatusPath,
		PingPath:     cfg.PingPath,
		Fallback:     cfg.Fallback,
		PingResponse: cfg.PingResponse,
		StatusAllow:  cfg.StatusAllow,
		Frontend:     &s.front,
		Aggregate:    s.opts.StatusAggregate,
		OnStuck:      s.opts.OnStuck,
		TestHook:     s.opts.TestHook,
	}
	if prev := s.cur.Load(); prev != nil {
		h.Inherit(prev.host)
	}
	h.Status = host.NewStatusHandler(h)
	h.Start()
	return &instance{cfg: cfg, reg: reg, host: h, idle: make(chan struct{}, 1)}, nil
}

// rootsCheck is how often the watch loop compares the watched directories
// with the registry's: a root directory matching a glob after the start
// (a new site) is watched once it has been found.
const rootsCheck = 5 * time.Second

func (s *Server) startWatch(in *instance) error {
	roots := watchRoots(in.reg)
	var w *watch.Watcher // nil while there is nothing to watch (no apps dir, no roots yet)
	if len(roots) > 0 {
		var err error
		if w, err = watch.New(watch.Options{Roots: roots, Logger: s.log}); err != nil {
			return fmt.Errorf("watch %v: %w", roots, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stop, s.watching = cancel, roots
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { // the loop owns its current watcher
			if w != nil {
				w.Close()
			}
		}()
		t := time.NewTicker(rootsCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				reg := s.cur.Load().reg
				now := watchRoots(reg)
				if slices.Equal(now, roots) {
					continue
				}
				roots = now // also on failure: retried when they change again
				var nw *watch.Watcher
				if len(now) > 0 {
					var err error
					if nw, err = watch.New(watch.Options{Roots: now, Logger: s.log}); err != nil {
						s.log.Error("watch the new root directories", "roots", now, "err", err)
						continue
					}
				}
				if w != nil {
					w.Close()
				}
				w = nw
				s.mu.Lock()
				s.watching = now
				s.mu.Unlock()
				s.log.Info("watching new root directories", "roots", now)
				reg.Rescan() // changes made before the new watcher saw them
			case ev, ok := <-events(w):
				if !ok {
					return
				}
				reg := s.cur.Load().reg
				if ev.Rescan {
					reg.Rescan()
				}
				if len(ev.Paths) > 0 {
					reg.Changed(ev.Paths)
				}
			}
		}
	}()
	return nil
}

// events is w's channel, or nil (never ready) when there is no watcher.
func events(w *watch.Watcher) <-chan watch.Event {
	if w == nil {
		return nil
	}
	return w.Events()
}

// Host returns the Host answering requests now (it changes on Reload).
func (s *Server) Host() *host.Host { return s.cur.Load().host }

// Registry returns the current app registry.
func (s *Server) Registry() *registry.Registry { return s.cur.Load().reg }

// Config returns the config in force.
func (s *Server) Config() *config.Config { return s.cur.Load().cfg }

// Handler returns an http.Handler serving the apps (the development
// listener, or a Go program embedding fcgihost). It follows Reload.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := s.enter()
		defer in.leave()
		in.host.ServeHTTP(w, r)
	})
}

// Call calls the function fn that app exports with args, on the current
// generation, under the app's pool, limits and timeout (host.Host.Call;
// docs/embedding.md). A Reload waits for calls in flight as for requests.
func (s *Server) Call(ctx context.Context, app, fn string, args []any) (any, error) {
	in := s.enter()
	defer in.leave()
	return in.host.Call(ctx, app, fn, args)
}

// Serve answers one request on the current host (used by the FastCGI
// adapter).
func (s *Server) Serve(ctx context.Context, x *host.Exchange) {
	in := s.enter()
	defer in.leave()
	in.host.Serve(ctx, x)
}

// Reload re-reads everything with cfg: a new registry compiles every app
// and starts its VMs while the old generation keeps serving; then new
// requests go to the new generation, and Reload waits (until ctx ends) for
// the requests in flight on the old one before closing its pools, so no
// request fails. If building fails, the old generation keeps serving and
// the error is returned. The watcher is kept when the watched directories
// did not change. Listener addresses, logging and the key-value store are
// not changed by Reload. Reloads are serialised.
func (s *Server) Reload(ctx context.Context, cfg *config.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	in, err := s.build(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		in.reg.Close(ctx)
		return errors.New("reload: server closed")
	}
	old := s.cur.Swap(in)
	s.mu.Unlock()
	s.log.Info("configuration reloaded", "apps", len(in.reg.Apps()))

	roots := watchRoots(in.reg)
	s.mu.Lock()
	watching, same := s.stop != nil, slices.Equal(s.watching, roots)
	s.mu.Unlock()
	switch {
	case cfg.Watch && watching && same:
		// The watcher feeds whichever registry is current.
	case cfg.Watch:
		s.stopWatch()
		if err := s.startWatch(in); err != nil {
			s.log.Error("file watching is off", "err", err)
		}
	default:
		s.stopWatch()
	}
	if cfg.Watch {
		// A change seen while the new registry was being built went to
		// the old one: look again (a no-op for unchanged apps).
		in.reg.Rescan()
	}
	derr := old.drain(ctx)
	if derr != nil {
		s.log.Warn("closing the previous configuration's pools with requests in flight", "err", derr)
	}
	return old.reg.Close(ctx)
}

// watchRoots are the directories watched for reg: its apps dir and roots.
func watchRoots(reg *registry.Registry) []string {
	roots := append([]string(nil), reg.RootDirs()...)
	if d := reg.AppsDir(); d != "" {
		roots = append([]string{d}, roots...)
	}
	return roots
}

func (s *Server) stopWatch() {
	s.mu.Lock()
	stop := s.stop
	s.stop, s.watching = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		s.wg.Wait() // the loop closes its watcher
	}
}

// Close stops watching and closes every pool, letting requests in flight
// finish until ctx is done.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stopWatch()
	err := s.cur.Load().reg.Close(ctx)
	return errors.Join(err, s.store.close())
}

// ServeFCGI answers one FastCGI request on the current host; Server is an
// fcgi.Handler.
func (s *Server) ServeFCGI(w fcgi.ResponseWriter, r *fcgi.Request) {
	in := s.enter()
	defer in.leave()
	if isCall(r) {
		in.serveCall(w, r)
		return
	}
	host.Serve(in.host, w, r)
}

// NewFCGIServer returns an fcgi.Server for s with the limits of cfg
// (max_conns, max_reqs, allowed_clients and FCGI_WEB_SERVER_ADDRS).
func (s *Server) NewFCGIServer(cfg *config.Config) *fcgi.Server {
	allowed := append([]string(nil), cfg.AllowedClients...)
	allowed = append(allowed, fcgi.AllowedClientsFromEnv()...)
	fs := &fcgi.Server{
		Handler:        s,
		Logger:         s.log,
		MaxConns:       cfg.MaxConns,
		MaxReqs:        cfg.MaxReqs,
		MaxParamsBytes: 1 << 20,
		AllowedClients: allowed,
	}
	s.front.SetServer(fs)
	return fs
}

// WatchListener adds a FastCGI listener whose accept queue the status page
// reports (listen_queue, max_listen_queue).
func (s *Server) WatchListener(l net.Listener) { s.front.AddListener(l) }

// SetGateway shows an SCGI or uwsgi server's counters on the status page
// under proto ("gateways" in docs/observability.md).
func (s *Server) SetGateway(proto string, report func() host.GatewayReport) {
	s.front.SetGateway(proto, report)
}

// queueTimeout maps the config's queue_timeout (0 = do not wait) to the
// pool's (0 = default, negative = do not wait).
func queueTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
