package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/oneconn"
	"github.com/fcgihost/fcgihost/scgi"
	"github.com/fcgihost/fcgihost/uwsgi"
)

// serveBroken keeps a process the web server started (mod_fcgid, lighttpd
// bin-path: the listening socket on fd 0) alive when it cannot start —
// a bad config file, an apps dir it cannot read — and answers every
// request with a 500 whose FCGI_STDERR names the cause, so the error
// lands in the web server's error log next to the failed request
// (docs/troubleshooting.md). Exiting instead would leave only "End of
// script output before headers" (Apache) or "child exited: 2" (lighttpd,
// which does not log its children's stderr) and a respawn loop.
//
// The socket may speak SCGI or uwsgi ("scgi:fd:0", docs/reference.md,
// "Gateways") and the configuration that says so may be what failed: each
// connection's first byte tells — FastCGI's version 1, an SCGI netstring's
// digit, uwsgi's modifier1 0 — and the 500 is answered in that protocol
// (SCGI and uwsgi have no error channel: the cause is on stderr only).
func (m *Main) serveBroken(ctx context.Context, l net.Listener, cause error) error {
	defer l.Close()
	msg := fmt.Sprintf("fcgihost: cannot start: %v\n", cause)
	fmt.Fprint(m.Stderr, msg)
	const text = "500 internal server error: fcgihost could not start (see the web server's error log)\n"
	const ctype = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	fsrv := &fcgi.Server{Handler: fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) {
		io.WriteString(w.Stderr(), msg)
		io.WriteString(w, "Status: 500 Internal Server Error\r\n"+ctype+text)
	})}
	answer := func(head string) oneconn.Handler {
		return func(_ context.Context, _ map[string]string, _ io.Reader, w io.Writer) {
			io.WriteString(w, head+ctype+text)
		}
	}
	sg := scgi.NewServer(answer("Status: 500 Internal Server Error\r\n"), scgi.Limits{})
	ug := uwsgi.NewServer(answer("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"), uwsgi.Limits{})
	fq, sq, uq := newConnQueue(l.Addr()), newConnQueue(l.Addr()), newConnQueue(l.Addr())
	go fsrv.Serve(fq)
	go sg.Serve(sq)
	go ug.Serve(uq)
	errc := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				errc <- err
				return
			}
			go func() {
				c.SetReadDeadline(time.Now().Add(oneconn.DefaultReadTimeout))
				br := bufio.NewReader(c)
				b, err := br.Peek(1)
				if err != nil {
					c.Close()
					return
				}
				c.SetReadDeadline(time.Time{})
				pc := &peekedConn{Conn: c, r: br}
				switch {
				case b[0] == 0:
					uq.put(pc)
				case b[0] >= '0' && b[0] <= '9':
					sq.put(pc)
				default:
					fq.put(pc)
				}
			}()
		}
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("accept on %s: %w", l.Addr(), err)
		}
	}
	l.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fsrv.Shutdown(sctx)
	sg.Shutdown(sctx)
	ug.Shutdown(sctx)
	for _, q := range []*connQueue{fq, sq, uq} {
		q.Close()
	}
	return nil
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connQueue is a net.Listener whose connections are handed to it by put.
type connQueue struct {
	addr   net.Addr
	c      chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newConnQueue(a net.Addr) *connQueue {
	return &connQueue{addr: a, c: make(chan net.Conn), closed: make(chan struct{})}
}

func (q *connQueue) put(c net.Conn) {
	select {
	case q.c <- c:
	case <-q.closed:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.c:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// missingConfigMessage is the log line for an optional config file that
// does not exist (config.Flags.EnvFileOptional).
func missingConfigMessage(flags *config.Flags) (string, bool) {
	p := flags.Missing()
	if p == "" {
		return "", false
	}
	return "the config file named by $" + config.EnvConfig + " does not exist; using the defaults", true
}
