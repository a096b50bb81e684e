// This file holds the Server: its configuration and defaults, the accept
// loop with the connection limits and the client allowlist, statistics and
// graceful shutdown. The connection loop is in conn.go, the request in
// request.go.

package fcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Sentinel errors. A request's Context is cancelled with one of the first
// three as its cause (context.Cause), and its Stdin returns it.
var (
	// ErrRequestAborted: the web server sent FCGI_ABORT_REQUEST.
	ErrRequestAborted = errors.New("fcgi: request aborted by the web server")
	// ErrConnClosed: the connection to the web server was lost or closed.
	ErrConnClosed = errors.New("fcgi: connection closed")
	// ErrServerClosed: Serve after Shutdown, or requests cancelled when a
	// Shutdown's context expired.
	ErrServerClosed = errors.New("fcgi: server closed")
	// ErrRequestDone: a write to the ResponseWriter after the handler
	// returned.
	ErrRequestDone = errors.New("fcgi: write after the handler returned")
	// ErrRequestDetached: the request was answered and ended by Detach
	// while its handler still ran; the handler's context is cancelled with
	// it and its later writes and reads return it.
	ErrRequestDetached = errors.New("fcgi: request detached from its handler")
)

// Role is the FastCGI role of a request (FastCGI 1.0 §6).
type Role uint16

// The roles of FastCGI 1.0.
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleResponder:
		return "responder"
	case RoleAuthorizer:
		return "authorizer"
	case RoleFilter:
		return "filter"
	}
	return fmt.Sprintf("role %d", uint16(r))
}

// Request is one FastCGI request as the handler sees it.
type Request struct {
	ID       uint16
	Role     Role
	KeepConn bool
	// Params holds every param as sent (FCGI_APACHE_ROLE included when
	// mod_fcgid sends it). Later duplicates win. The map is valid until the
	// handler returns: the server clears it and reuses it for a later
	// request (copy what must outlive the handler; the strings themselves
	// stay valid).
	Params map[string]string
	// Stdin is the body as it streams in. Read returns io.EOF at its end,
	// ErrRequestAborted after FCGI_ABORT_REQUEST and ErrConnClosed when
	// the connection is lost. An Authorizer request has an empty Stdin.
	Stdin io.Reader
	// RemoteAddr and LocalAddr are those of the connection (for unix
	// sockets whatever the kernel reports).
	RemoteAddr, LocalAddr net.Addr

	ctx context.Context
}

// Context is cancelled on FCGI_ABORT_REQUEST (cause ErrRequestAborted),
// loss of the connection (ErrConnClosed) or when a Shutdown's context
// expires (ErrServerClosed); context.Cause tells which. It is also
// cancelled, with cause context.Canceled, once the handler has returned.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// ApacheRole is mod_fcgid's FCGI_APACHE_ROLE param (AUTHENTICATOR,
// AUTHORIZER or ACCESS_CHECKER for an Authorizer request), or "".
func (r *Request) ApacheRole() string { return r.Params["FCGI_APACHE_ROLE"] }

// ResponseWriter is where a handler writes its answer. It is not safe for
// concurrent use and must not be used after the handler returns.
type ResponseWriter interface {
	// Write appends to FCGI_STDOUT: the raw CGI response (header lines, a
	// blank line, the body). Output is buffered and sent in records of at
	// most 65535 bytes; the rest goes out with FCGI_END_REQUEST when the
	// handler returns. After an abort Write returns ErrRequestAborted.
	io.Writer
	// Stderr returns a writer to FCGI_STDERR (the web server's error log).
	// Each Write is sent at once.
	Stderr() io.Writer
}

// Flusher is implemented by the server's ResponseWriter: Flush sends the
// buffered FCGI_STDOUT data now instead of at the end of the request.
type Flusher interface {
	Flush() error
}

// Detacher is implemented by the server's ResponseWriter. Detach may be
// called from any goroutine while the handler still runs — typically by
// its owner's watchdog when the handler is stuck in a call that ignores
// its context — and ends the request at once: when no FCGI_STDOUT has gone
// out yet, out (a whole CGI response, or nil) is sent; then the streams
// end and FCGI_END_REQUEST is sent, so the web server has its answer and
// the request id is free. The request stops counting towards MaxReqs and
// the connection's requests, and Shutdown no longer waits for it. The
// handler is not stopped: its context is cancelled (cause
// ErrRequestDetached), its Stdin fails, and whatever it writes afterwards
// goes nowhere (Write returns ErrRequestDetached). Its goroutine, if it
// never returns, is the caller's to deal with (fcgihost retires the
// process: docs/processes.md). Detach waits for a write of the handler
// that is in progress, and reports false, doing nothing, when the handler
// has returned already (its own answer goes out) or the request was
// detached before.
type Detacher interface {
	Detach(out []byte) bool
}

// Handler answers FastCGI requests.
type Handler interface {
	ServeFCGI(w ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeFCGI calls f(w, r).
func (f HandlerFunc) ServeFCGI(w ResponseWriter, r *Request) { f(w, r) }

// Defaults of the Server's limits.
const (
	DefaultMaxConns       = 1024
	DefaultMaxReqs        = 1024
	DefaultMaxReqsPerConn = 256
	DefaultMaxParamsBytes = 1 << 20
	DefaultMaxParams      = 4096
	DefaultStdinBuffer    = 256 << 10
	DefaultReadTimeout    = 60 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
	// lingerTimeout bounds how long a connection being closed keeps
	// reading (and discarding) what the web server still sends, so that
	// the web server reads the whole answer instead of a reset.
	lingerTimeout = 5 * time.Second
)

// Server serves FastCGI connections. Set the fields before the first call
// to Serve or ServeConn and do not change them afterwards. A zero field
// takes the default named in its comment.
type Server struct {
	Handler Handler
	// Logger receives one line per rejected connection or request, per
	// broken connection and per panic. Nil: slog.Default().
	Logger *slog.Logger
	// MaxConns is the number of connections served at once, reported as
	// FCGI_MAX_CONNS; a connection beyond it is closed at accept with a
	// log line. Default DefaultMaxConns (1024).
	MaxConns int
	// MaxReqs is the number of requests in progress at once over all
	// connections, reported as FCGI_MAX_REQS; a request beyond it gets
	// FCGI_OVERLOADED. Default DefaultMaxReqs (1024).
	MaxReqs int
	// MaxReqsPerConn is the number of requests in progress at once on one
	// connection. A request beyond it gets FCGI_OVERLOADED, or
	// FCGI_CANT_MPX_CONN when MaxReqsPerConn is 1 (then FCGI_MPXS_CONNS is
	// reported as 0). Default DefaultMaxReqsPerConn (256).
	MaxReqsPerConn int
	// MaxParamsBytes bounds the encoded FCGI_PARAMS stream of a request;
	// MaxParams bounds its number of pairs. A request over either is
	// answered "Status: 431" without calling the handler. Defaults 1 MiB
	// and 4096.
	MaxParamsBytes int
	MaxParams      int
	// StdinBuffer is how much of a request's body is held in memory ahead
	// of the handler's reads. Beyond it the reading of the connection
	// pauses when the request is the only one on its connection (TCP
	// backpressure, stalling nothing else); when other requests share the
	// connection the body spills to an unlinked temporary file in SpillDir
	// instead, so none of them stalls. Default 256 KiB.
	StdinBuffer int
	// SpillDir is where bodies spill; "" is os.TempDir().
	SpillDir string
	// ReadTimeout bounds the receipt of a request: its params must be
	// complete within ReadTimeout of its FCGI_BEGIN_REQUEST, and while a
	// handler waits for body data the connection must deliver a record at
	// least every ReadTimeout. Past it the connection is closed. Default
	// 60s; negative: none.
	ReadTimeout time.Duration
	// IdleTimeout closes a connection that has had no request in progress
	// for this long. Default 2m; negative: none.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the connection; past it the
	// connection is closed. Zero or negative: none.
	WriteTimeout time.Duration
	// AllowedClients lists the IP addresses (or CIDR prefixes) that may
	// connect over TCP, like FCGI_WEB_SERVER_ADDRS (see
	// AllowedClientsFromEnv) and PHP-FPM's listen.allowed_clients; other
	// TCP connections are closed at accept. Empty: all. Unix-socket
	// connections are not filtered (file permissions guard them).
	AllowedClients []string

	initOnce sync.Once
	initErr  error
	cfg      config
	allow    []netip.Prefix
	logger   *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	drained   chan struct{} // closed when shutting down and no conns are left
	shutdown  atomic.Bool

	accepted   atomic.Uint64
	rejected   atomic.Uint64
	activeConn atomic.Int64
	activeReqs atomic.Int64
	requests   atomic.Uint64
	refused    atomic.Uint64
	detached   atomic.Uint64

	rejectLog rateLog // connections closed at accept
	refuseLog rateLog // requests refused for load

	workers workers // the goroutines that run handlers
}

// config holds the effective limits.
type config struct {
	maxConns, maxReqs, maxReqsPerConn int
	maxParamsBytes, maxParams         int
	stdinBuffer                       int
	spillDir                          string
	readTimeout, idleTimeout          time.Duration
	writeTimeout                      time.Duration
	mpxs                              bool
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.logger = s.Logger
		if s.logger == nil {
			s.logger = slog.Default()
		}
		s.cfg = config{
			maxConns:       orDefault(s.MaxConns, DefaultMaxConns),
			maxReqs:        orDefault(s.MaxReqs, DefaultMaxReqs),
			maxReqsPerConn: orDefault(s.MaxReqsPerConn, DefaultMaxReqsPerConn),
			maxParamsBytes: orDefault(s.MaxParamsBytes, DefaultMaxParamsBytes),
			maxParams:      orDefault(s.MaxParams, DefaultMaxParams),
			stdinBuffer:    orDefault(s.StdinBuffer, DefaultStdinBuffer),
			spillDir:       s.SpillDir,
			readTimeout:    orDefault(s.ReadTimeout, DefaultReadTimeout),
			idleTimeout:    orDefault(s.IdleTimeout, DefaultIdleTimeout),
			writeTimeout:   s.WriteTimeout,
		}
		c := &s.cfg
		for _, v := range []struct {
			name string
			n    int
		}{{"MaxConns", c.maxConns}, {"MaxReqs", c.maxReqs}, {"MaxReqsPerConn", c.maxReqsPerConn},
			{"MaxParamsBytes", c.maxParamsBytes}, {"MaxParams", c.maxParams}, {"StdinBuffer", c.stdinBuffer}} {
			if v.n < 0 {
				s.initErr = fmt.Errorf("fcgi: %s is negative (%d)", v.name, v.n)
				return
			}
		}
		c.mpxs = c.maxReqsPerConn > 1
		if s.Handler == nil {
			s.initErr = errors.New("fcgi: Server.Handler is nil")
			return
		}
		allow, err := parseAllowed(s.AllowedClients)
		if err != nil {
			s.initErr = err
			return
		}
		s.allow = allow
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
	})
	return s.initErr
}

// parseAllowed turns "127.0.0.1", "::1" or "10.0.0.0/8" into prefixes.
func parseAllowed(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range list {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if strings.Contains(a, "/") {
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("fcgi: allowed client %q: %w", a, err)
			}
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("fcgi: allowed client %q: %w", a, err)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// AllowedClientsFromEnv returns the addresses listed (comma-separated) in
// FCGI_WEB_SERVER_ADDRS, or nil when it is unset or empty.
func AllowedClientsFromEnv() []string {
	var out []string
	for _, a := range strings.Split(os.Getenv("FCGI_WEB_SERVER_ADDRS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// allowed reports whether a connection from addr may be served.
func (s *Server) allowed(addr net.Addr) bool {
	if len(s.allow) == 0 {
		return true
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Serve accepts connections on l and serves each in its own goroutine
// until l fails or Shutdown is called; it then closes l and returns
// (ErrServerClosed after Shutdown). Serve may run on several listeners at
// once.
func (s *Server) Serve(l net.Listener) error {
	if err := s.init(); err != nil {
		l.Close()
		return err
	}
	if !s.trackListener(l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(l, false)
	defer l.Close()
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("fcgi: accept failed; retrying", "listener", l.Addr().String(), "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("fcgi: accept on %s: %w", l.Addr(), err)
		}
		backoff = 0
		s.accepted.Add(1)
		if !s.allowed(rwc.RemoteAddr()) {
			s.rejected.Add(1)
			s.rejectLog.log(s.logger, "fcgi: connection refused: address not in the allowed clients (FCGI_WEB_SERVER_ADDRS)", "remote", rwc.RemoteAddr().String())
			rwc.Close()
			continue
		}
		c, ok := s.newConn(rwc)
		if !ok {
			continue
		}
		go c.serve()
	}
}

// isTemporaryAccept reports accept errors worth retrying: running out of
// file descriptors, buffers or memory, or a connection aborted early.
func isTemporaryAccept(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ServeConn serves one already-accepted connection and returns when it is
// closed. The connection counts towards MaxConns.
func (s *Server) ServeConn(rwc net.Conn) error {
	if err := s.init(); err != nil {
		rwc.Close()
		return err
	}
	if s.shutdown.Load() {
		rwc.Close()
		return ErrServerClosed
	}
	s.accepted.Add(1)
	c, ok := s.newConn(rwc)
	if !ok {
		return errors.New("fcgi: too many connections")
	}
	c.serve()
	return nil
}

func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutdown.Load() {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// newConn registers a connection, or closes it when MaxConns are served
// or the server is shutting down.
func (s *Server) newConn(rwc net.Conn) (*conn, bool) {
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		rwc.Close()
		return nil, false
	}
	if len(s.conns) >= s.cfg.maxConns {
		s.mu.Unlock()
		s.rejected.Add(1)
		s.rejectLog.log(s.logger, "fcgi: connection refused: MaxConns reached", "remote", rwc.RemoteAddr().String(), "max_conns", s.cfg.maxConns)
		rwc.Close()
		return nil, false
	}
	c := newConn(s, rwc)
	s.conns[c] = struct{}{}
	s.activeConn.Store(int64(len(s.conns)))
	s.mu.Unlock()
	return c, true
}

// removeConn forgets a connection whose goroutines have all ended.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.activeConn.Store(int64(len(s.conns)))
	if s.drained != nil && len(s.conns) == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
	s.mu.Unlock()
}

// Shutdown stops the server gracefully: it closes the listeners and the
// connections that have no request in progress, refuses new requests with
// FCGI_OVERLOADED, and waits for the requests in flight to finish. When
// ctx ends first it cancels them (cause ErrServerClosed), closes every
// connection and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	s.shutdown.Store(true)
	if s.drained == nil {
		s.drained = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.drained)
		}
	}
	var err error
	for l := range s.listeners {
		if cerr := l.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("fcgi: close listener %s: %w", l.Addr(), cerr))
		}
		delete(s.listeners, l)
	}
	conns := s.connList()
	drained := s.drained
	s.mu.Unlock()
	for _, c := range conns {
		c.closeIfIdle()
	}
	select {
	case <-drained:
		s.workers.close(true)
		return err
	case <-ctx.Done():
	}
	s.mu.Lock()
	conns = s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		c.hardClose(ErrServerClosed)
	}
	s.workers.close(false) // the busy ones exit as their handlers return
	return errors.Join(err, ctx.Err())
}

func (s *Server) connList() []*conn {
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// ServerStats is a snapshot of a Server's counters.
type ServerStats struct {
	Accepted       uint64 // connections accepted, rejected ones included
	Rejected       uint64 // connections closed at accept (MaxConns, allowed clients)
	ActiveConns    int64  // connections being served
	ActiveRequests int64  // requests between FCGI_BEGIN_REQUEST and FCGI_END_REQUEST
	Requests       uint64 // requests handed to the handler
	Refused        uint64 // requests refused (overload, role, params limits)
	Detached       uint64 // requests ended by Detach while their handler ran
}

// Stats returns the current counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Accepted:       s.accepted.Load(),
		Rejected:       s.rejected.Load(),
		ActiveConns:    s.activeConn.Load(),
		ActiveRequests: s.activeReqs.Load(),
		Requests:       s.requests.Load(),
		Refused:        s.refused.Load(),
		Detached:       s.detached.Load(),
	}
}

// rateLog logs at most one line per second and counts the lines it held
// back, so that a flood of rejected connections cannot flood the log.
type rateLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *rateLog) log(l *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed_since_last", n)
	}
	l.Warn(msg, args...)
}
