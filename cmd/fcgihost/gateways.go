package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

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
