package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/internal/oneconn"
	"github.com/fcgihost/fcgihost/prefork"
	"github.com/fcgihost/fcgihost/scgi"
	"github.com/fcgihost/fcgihost/server"
	"github.com/fcgihost/fcgihost/uwsgi"
)

// The gateway protocols a listener speaks (docs/reference.md, "Gateways").
const (
	protoFCGI  = "fcgi"
	protoSCGI  = "scgi"
	protoUWSGI = "uwsgi"
)

// gwListener is a listener and the protocol it speaks.
type gwListener struct {
	proto string
	net.Listener
}

// protoLabel names a protocol in messages.
func protoLabel(p string) string {
	switch p {
	case protoSCGI:
		return "SCGI"
	case protoUWSGI:
		return "uwsgi"
	}
	return "FastCGI"
}

// systemdProtos returns the protocol of each systemd socket from
// LISTEN_FDNAMES (FileDescriptorName=scgi or uwsgi; anything else is
// FastCGI). It must run before fcgi.SystemdListeners unsets the variable.
func systemdProtos() []string {
	names := os.Getenv("LISTEN_FDNAMES")
	if names == "" {
		return nil
	}
	var ps []string
	for _, n := range strings.Split(names, ":") {
		switch n {
		case protoSCGI, protoUWSGI:
			ps = append(ps, n)
		default:
			ps = append(ps, protoFCGI)
		}
	}
	return ps
}

// newGateway returns the server of an SCGI or uwsgi listener: it serves
// on srv's current host, and with w records each request in the worker's
// slot table.
func newGateway(proto string, srv *server.Server, cfg *config.Config, log *slog.Logger, w *prefork.Worker) *oneconn.Server {
	serve := func(ctx context.Context, x *host.Exchange) {
		defer w.Begin(x.Params)()
		srv.Serve(ctx, x)
	}
	var g *oneconn.Server
	if proto == protoSCGI {
		g = scgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, out io.Writer) {
			host.ServeSCGI(serve, ctx, p, body, out)
		}, scgi.Limits{})
	} else {
		g = uwsgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, out io.Writer) {
			host.ServeUWSGI(serve, ctx, p, body, out)
		}, uwsgi.Limits{})
	}
	g.Logger = log
	g.MaxConns = cfg.MaxConns
	return g
}

// frontEnd is the server of one gateway protocol — FastCGI, SCGI, uwsgi or
// the development HTTP listener: it serves any number of listeners and
// shuts down gracefully.
type frontEnd interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// frontEnds owns the running gateways: it serves each listener in a
// goroutine of its own, reports the first failure on errc, and stops them
// all together.
type frontEnds struct {
	wg   sync.WaitGroup
	errc chan error
	mu   sync.Mutex
	list []*namedFront
}

type namedFront struct {
	name   string
	s      frontEnd
	closed error // what Serve returns after Shutdown
}

// newFrontEnds returns a manager for at most n listeners.
func newFrontEnds(n int) *frontEnds { return &frontEnds{errc: make(chan error, n)} }

// serve serves l with s (named name in errors; closed is s's "server
// closed" error).
func (f *frontEnds) serve(name string, s frontEnd, closed error, l net.Listener) {
	f.mu.Lock()
	if !slices.ContainsFunc(f.list, func(n *namedFront) bool { return n.s == s }) {
		f.list = append(f.list, &namedFront{name: name, s: s, closed: closed})
	}
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := s.Serve(l); err != nil && !errors.Is(err, closed) {
			select {
			case f.errc <- fmt.Errorf("%s %s: %w", name, l.Addr(), err):
			default:
			}
		}
	}()
}

// shutdown stops every gateway at once: each stops accepting and lets its
// requests finish until ctx ends, then cancels them.
func (f *frontEnds) shutdown(ctx context.Context, log *slog.Logger) {
	f.mu.Lock()
	list := slices.Clone(f.list)
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.s.Shutdown(ctx); err != nil {
				if c, ok := n.s.(interface{ Close() error }); ok {
					c.Close()
				}
				log.Warn("requests still running at the end of the grace period were cancelled", "gateway", n.name, "err", err)
			}
		}()
	}
	wg.Wait()
	f.wg.Wait()
}
