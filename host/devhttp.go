package host

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The development HTTP listener (`fcgihost serve --http`) has the read
// limits of the FastCGI side (see the fcgi package doc), so that a client
// cannot hold its connections, and with them the host's, by sending
// slowly: docs/sandbox.md ("The development HTTP listener") and README.md.

// Defaults of DevHTTPOptions.
const (
	DefaultDevReadTimeout    = 10 * time.Second
	DefaultDevIdleTimeout    = 2 * time.Minute
	DefaultDevMaxHeaderBytes = 1 << 20 // the FastCGI side's params bound
	DefaultDevMaxConns       = 1024
	// DefaultDevMinBodyRate is the slowest average rate at which a request
	// body may arrive, past the first ReadTimeout.
	DefaultDevMinBodyRate = 64 << 10
)

// DevHTTPOptions configure NewDevHTTPServer. Zero values get the defaults.
type DevHTTPOptions struct {
	// ReadTimeout bounds the receipt of a request: its head must be in
	// within it (ReadHeaderTimeout), and its body must make progress at
	// least every ReadTimeout and arrive in full within ReadTimeout plus
	// its length at MinBodyRate. Past either the body read fails (400,
	// logged) and the connection is closed.
	ReadTimeout time.Duration
	// MinBodyRate is in bytes per second (default 64 KiB/s).
	MinBodyRate int64
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request head.
	MaxHeaderBytes int
	// MaxConns is the most connections served at once (config max_conns);
	// more are closed at accept, with a log line (at most one a second).
	MaxConns int
	Logger   *slog.Logger
}

func (o *DevHTTPOptions) defaults() {
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultDevReadTimeout
	}
	if o.MinBodyRate <= 0 {
		o.MinBodyRate = DefaultDevMinBodyRate
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultDevIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultDevMaxHeaderBytes
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultDevMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DevHTTPServer is the development HTTP listener's server: an http.Server
// with the read limits above and a cap on connections.
type DevHTTPServer struct {
	*http.Server
	o DevHTTPOptions
}

// NewDevHTTPServer returns the server of the development listener for h.
// Serve it with its Serve method (which caps the connections).
func NewDevHTTPServer(h http.Handler, o DevHTTPOptions) *DevHTTPServer {
	o.defaults()
	s := &DevHTTPServer{o: o}
	s.Server = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(h, w, r) }),
		ReadHeaderTimeout: o.ReadTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Serve accepts connections on l, at most MaxConns at once.
func (s *DevHTTPServer) Serve(l net.Listener) error {
	return s.Server.Serve(&capListener{Listener: l, max: int64(s.o.MaxConns), log: s.o.Logger})
}

// serve gives the request body its deadlines, then serves it.
func (s *DevHTTPServer) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		rc := http.NewResponseController(w)
		start := time.Now()
		expect := r.ContentLength
		b := &deadlineBody{ReadCloser: r.Body, rc: rc, o: &s.o, start: start, expect: expect}
		// Also bounds what net/http reads of an unread body after the
		// handler (the next request's head gets its own deadline).
		b.setDeadline()
		r.Body = b
	}
	h.ServeHTTP(w, r)
}

// deadlineBody sets the connection's read deadline before each read of
// the body: now + ReadTimeout (progress), and no later than start +
// ReadTimeout + the body's length at MinBodyRate (rate); for a body of
// unknown length, the length read so far plus 64 KiB.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	o      *DevHTTPOptions
	start  time.Time
	expect int64 // Content-Length, -1 unknown
	n      int64
}

// ErrBodyTooSlow is the error of a body read past its deadline.
var ErrBodyTooSlow = errors.New("request body arrived too slowly (dev HTTP listener read limits)")

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.setDeadline()
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		err = ErrBodyTooSlow
	}
	return n, err
}

func (b *deadlineBody) setDeadline() {
	total := b.expect
	if total < 0 {
		total = b.n + 64<<10
	}
	rate := b.start.Add(b.o.ReadTimeout + time.Duration(float64(total)/float64(b.o.MinBodyRate)*float64(time.Second)))
	d := time.Now().Add(b.o.ReadTimeout)
	if rate.Before(d) {
		d = rate
	}
	b.rc.SetReadDeadline(d)
}

// capListener closes the connections accepted past max.
type capListener struct {
	net.Listener
	max     int64
	n       atomic.Int64
	log     *slog.Logger
	lastLog atomic.Int64 // unix nanoseconds of the last refusal logged
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.n.Add(1) > l.max {
			l.n.Add(-1)
			now := time.Now().UnixNano()
			if last := l.lastLog.Load(); now-last >= int64(time.Second) && l.lastLog.CompareAndSwap(last, now) {
				l.log.Warn("http: connection refused: max_conns reached", "remote", c.RemoteAddr().String(), "max_conns", l.max)
			}
			c.Close()
			continue
		}
		return &capConn{Conn: c, l: l}, nil
	}
}

type capConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *capConn) Close() error {
	c.once.Do(func() { c.l.n.Add(-1) })
	return c.Conn.Close()
}
