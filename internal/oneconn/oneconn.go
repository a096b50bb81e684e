// Package oneconn serves the gateway protocols that carry one request per
// connection — SCGI and uwsgi (docs/reference.md, "Gateways"): accept, read
// the protocol's header under a read timeout, hand params, body and the
// connection's writer to the handler, close. It knows nothing of scripts.
//
// A request's context is cancelled when the client connection closes
// while the handler runs (once the body has been read: a read error, or
// an end of file that is a full close — on a unix socket a peer that only
// shut down its sending side still gets its answer), and at hard
// shutdown. The connection is watched from 20 ms into the request on, so
// that quick answers pay nothing for it.
package oneconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the limits.
const (
	DefaultMaxParamsBytes = 1 << 20
	DefaultMaxParams      = 4096
	DefaultReadTimeout    = 60 * time.Second
	// watchDelay is how long a request runs before a goroutine starts
	// watching its connection for the client going away.
	watchDelay = 20 * time.Millisecond
	// drainLimit is how much unread body is read and thrown away before
	// the connection is closed, so that the kernel does not answer the
	// front end with a reset that could lose the response.
	drainLimit = 4 << 20
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("oneconn: server closed")

// HeadReader reads a protocol's request header from r and returns its
// params and the body length. io.EOF (a connection closed before its
// first byte) closes it quietly; any other error closes it with one log
// line.
type HeadReader func(r *bufio.Reader) (params map[string]string, bodyLen int64, err error)

// Handler answers one request: it reads the body from body and writes
// the whole answer to w.
type Handler func(ctx context.Context, params map[string]string, body io.Reader, w io.Writer)

// Server serves one protocol on any number of listeners.
type Server struct {
	Proto    string // "scgi", "uwsgi": in log lines
	ReadHead HeadReader
	Handler  Handler
	Logger   *slog.Logger
	// MaxConns caps the connections served at once (0 = no cap); past it
	// Accept waits, and the kernel's queue holds new connections.
	MaxConns int
	// ReadTimeout bounds the receipt of the header, and each read of the
	// body. Default DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of the answer (0 = none).
	WriteTimeout time.Duration

	stats struct {
		accepted, requests, bad atomic.Uint64
		active                  atomic.Int64
	}

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	sem       chan struct{}
	semOnce   sync.Once
	wg        sync.WaitGroup
}

// Stats are a server's figures.
type Stats struct {
	Accepted    uint64 // connections accepted
	Requests    uint64 // requests handed to the handler
	Bad         uint64 // connections closed for a malformed or stalled header
	ActiveConns int64  // connections being served
}

// Stats returns the server's figures.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted:    s.stats.accepted.Load(),
		Requests:    s.stats.requests.Load(),
		Bad:         s.stats.bad.Load(),
		ActiveConns: s.stats.active.Load(),
	}
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Serve accepts connections on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	s.semOnce.Do(func() {
		if s.MaxConns > 0 {
			s.sem = make(chan struct{}, s.MaxConns)
		}
	})
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		if s.sem != nil {
			s.sem <- struct{}{}
		}
		nc, err := l.Accept()
		if err != nil {
			if s.sem != nil {
				<-s.sem
			}
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.stats.accepted.Add(1)
		c := &conn{s: s, nc: nc}
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			cancel()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve(ctx)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			if s.sem != nil {
				<-s.sem
			}
		}()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting, closes connections still waiting for their
// header, and waits for the requests in progress until ctx ends; then it
// cancels them (Close) and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		if !c.started.Load() {
			c.nc.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops accepting and cancels every request in progress.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.cancel()
		c.nc.SetDeadline(time.Now())
	}
	s.mu.Unlock()
	return nil
}

type conn struct {
	s       *Server
	nc      net.Conn
	cancel  context.CancelFunc
	started atomic.Bool
}

func (c *conn) serve(ctx context.Context) {
	s := c.s
	s.stats.active.Add(1)
	defer s.stats.active.Add(-1)
	defer c.nc.Close()
	defer c.cancel()
	rt := s.ReadTimeout
	if rt <= 0 {
		rt = DefaultReadTimeout
	}
	c.nc.SetReadDeadline(time.Now().Add(rt))
	br := bufio.NewReaderSize(c.nc, 8<<10)
	params, n, err := s.ReadHead(br)
	if err == io.EOF {
		return // closed before sending anything (a health check)
	}
	if err != nil {
		s.stats.bad.Add(1)
		s.log().Warn(s.Proto+": closing connection: bad request header", "remote", c.nc.RemoteAddr().String(), "err", err)
		return
	}
	if s.isClosed() {
		return
	}
	c.started.Store(true)
	s.stats.requests.Add(1)
	body := &bodyReader{c: c, r: br, left: n, rt: rt, done: make(chan struct{})}
	if n == 0 {
		close(body.done)
	}
	// The watcher: once the body is read, a read returning means the
	// front end closed its side (or sent what it should not): the client
	// has gone, the script is cancelled. It starts only for a request
	// still running after watchDelay: most answers are quicker, and a
	// goroutine parked on the connection and woken again per request cost
	// the SCGI and uwsgi paths a third more CPU than FastCGI's behind
	// nginx (docs/benchmarks.md, "Gateways").
	watchDone := make(chan struct{})
	finished := make(chan struct{})
	var mu sync.Mutex
	stopped := false
	watch := time.AfterFunc(watchDelay, func() {
		defer close(watchDone)
		select {
		case <-finished:
			return
		case <-body.done:
		}
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		c.nc.SetReadDeadline(time.Time{})
		mu.Unlock()
		var b [1]byte
		_, err := br.Read(b[:])
		select {
		case <-finished:
			return
		default:
		}
		if err == io.EOF && !waitHangup(c.nc, finished) {
			return // a half-close: the client still waits for the answer
		}
		if err != nil {
			c.cancel()
		}
	})
	w := &deadlineWriter{nc: c.nc, wt: s.WriteTimeout}
	s.Handler(ctx, params, body, w)
	close(finished)
	// Stop the watcher if it started (its read ends at the deadline), then
	// drain what the handler did not read of the body.
	if !watch.Stop() {
		mu.Lock()
		stopped = true
		c.nc.SetReadDeadline(time.Now())
		mu.Unlock()
		<-watchDone
	}
	if body.left > 0 && body.left <= drainLimit && body.err == nil {
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		io.CopyN(io.Discard, br, body.left)
	}
}

// bodyReader reads the body's bodyLen bytes, each read within the read
// timeout; done is closed at its end.
type bodyReader struct {
	c    *conn
	r    *bufio.Reader
	left int64
	rt   time.Duration
	err  error
	done chan struct{}
	once sync.Once
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	b.c.nc.SetReadDeadline(time.Now().Add(b.rt))
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		b.once.Do(func() { close(b.done) })
		if err == io.EOF {
			err = nil
		}
	} else if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		b.c.cancel()
	}
	return n, err
}

type deadlineWriter struct {
	nc net.Conn
	wt time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.wt > 0 {
		w.nc.SetWriteDeadline(time.Now().Add(w.wt))
	}
	return w.nc.Write(p)
}
