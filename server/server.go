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
	"sync"
	"sync/atomic"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/fetch"
	"github.com/fcgihost/fcgihost/host"
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
}

// Server is a running fcgihost. Its handler is swapped whole on Reload.
type Server struct {
	opts Options
	log  *slog.Logger

	cur atomic.Pointer[instance]

	mu      sync.Mutex // guards store, watcher, closed
	store   *lazyStore
	watcher *watch.Watcher
	closed  bool
	wg      sync.WaitGroup // the watcher loop
	stop    context.CancelFunc

	front host.Frontend // the FastCGI side, for the status page
}

// instance is one config generation: its registry and host.
type instance struct {
	cfg  *config.Config
	reg  *registry.Registry
	host *host.Host
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
				QueueTimeout: a.QueueTimeout,
				StartTimeout: a.Timeout,
			},
			Limits:      a.Limits(),
			Debug:       a.Debug,
			IdleTimeout: a.IdleTimeout,
			Slowlog:     a.Slowlog,
		}
	}
	services := func(name string, _ registry.Settings) (script.KV, script.Fetcher) {
		a := cfg.AppConfig(name)
		return s.store.namespace(name, kv.Quota{MaxKeys: a.KVMaxKeys, MaxBytes: a.KVMaxBytes}),
			fetch.New(fetch.Options{Allow: a.FetchAllow, Timeout: a.Timeout})
	}
	reg, err := registry.New(registry.Options{
		AppsDir:         cfg.Apps,
		Roots:           cfg.Roots,
		DocRootFallback: s.opts.DocRootFallback,
		Engines:         s.opts.Engines,
		Settings:        settings,
		Services:        services,
		Logger:          s.log,
	})
	if err != nil {
		return nil, err
	}
	h := &host.Host{
		Registry:     reg,
		Logger:       s.log,
		AccessLog:    s.opts.AccessLog,
		StatusPath:   cfg.StatusPath,
		PingPath:     cfg.PingPath,
		PingResponse: cfg.PingResponse,
		StatusAllow:  cfg.StatusAllow,
		MaxParams:    1 << 20,
		Frontend:     &s.front,
	}
	if prev := s.cur.Load(); prev != nil {
		h.Inherit(prev.host)
	}
	h.Status = host.NewStatusHandler(h)
	h.Start()
	return &instance{cfg: cfg, reg: reg, host: h}, nil
}

func (s *Server) startWatch(in *instance) error {
	roots := append([]string(nil), in.reg.RootDirs()...)
	if d := in.reg.AppsDir(); d != "" {
		roots = append([]string{d}, roots...)
	}
	w, err := watch.New(watch.Options{Roots: roots, Logger: s.log})
	if err != nil {
		return fmt.Errorf("watch %v: %w", roots, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.watcher, s.stop = w, cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events():
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
		s.cur.Load().host.ServeHTTP(w, r)
	})
}

// Serve answers one request on the current host (used by the FastCGI
// adapter).
func (s *Server) Serve(ctx context.Context, x *host.Exchange) {
	s.cur.Load().host.Serve(ctx, x)
}

// Reload re-reads everything with cfg: a new registry compiles every app
// (old pools keep serving until the new one is ready), then the new host
// takes new requests and the old registry closes once its requests finish.
// Listener addresses are not changed by Reload.
func (s *Server) Reload(ctx context.Context, cfg *config.Config) error {
	in, err := s.build(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	old := s.cur.Swap(in)
	s.log.Info("configuration reloaded", "apps", len(in.reg.Apps()))
	s.mu.Lock()
	w := s.watcher
	s.mu.Unlock()
	if w != nil {
		s.stopWatch()
	}
	if cfg.Watch {
		if err := s.startWatch(in); err != nil {
			s.log.Error("file watching is off", "err", err)
		}
	}
	return old.reg.Close(ctx)
}

func (s *Server) stopWatch() {
	s.mu.Lock()
	w, stop := s.watcher, s.stop
	s.watcher, s.stop = nil, nil
	s.mu.Unlock()
	if w != nil {
		stop()
		w.Close()
		s.wg.Wait()
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
	host.Serve(s.cur.Load().host, w, r)
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
