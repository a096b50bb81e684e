package host

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// devServer serves sh through the development listener on a loopback port
// with short read limits; it is shut down with the test.
func devServer(t *testing.T, h http.Handler, o DevHTTPOptions) (addr string, logs *syncBuf) {
	t.Helper()
	logs = &syncBuf{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s := NewDevHTTPServer(h, o)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return l.Addr().String(), logs
}

// closedBy reads c to its end and returns what it read; it fails the test
// if the server has not closed c within a minute (the limits under test
// are a fraction of a second: only a connection that is never closed
// reaches it).
func closedBy(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) { // closed with our bytes unread: a reset
		t.Errorf("connection not closed by the server: %v (read %q)", err, b)
	}
	return string(b)
}

// TestDevHTTPSlowClients: connections that promise a body and send one
// byte, that never finish their head, or that stay idle are all closed by
// the development listener; the slow bodies get a 400 and a log line.
func TestDevHTTPSlowClients(t *testing.T) {
	sh := newScriptHost(t, map[string]string{
		"echo.js": `module.exports = function (req, res) { res.write("got " + req.body.length); };`,
	}, nil)
	addr, _ := devServer(t, sh, DevHTTPOptions{ReadTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond})
	dial := func(send string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
		return c
	}
	const n = 40
	var slow, heads []net.Conn
	for range n {
		slow = append(slow, dial("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx"))
		heads = append(heads, dial("POST /echo HTTP/1.1\r\nHost: x\r\n"))
	}
	// A chunked body that never ends.
	chunked := dial("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
	// A good request, then the connection left idle.
	idle := dial("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")

	var wg sync.WaitGroup
	for _, c := range append(append(slow, heads...), chunked, idle) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := closedBy(t, c)
			switch c {
			case idle:
				if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.HasSuffix(out, "got 3") {
					t.Errorf("idle: %q", out)
				}
			default:
				if out != "" && !strings.HasPrefix(out, "HTTP/1.1 400") && !strings.HasPrefix(out, "HTTP/1.1 408") {
					t.Errorf("slow client got %q", out)
				}
			}
		}()
	}
	wg.Wait()
	// The slow bodies were refused by the host: 400 and a log line.
	if got := strings.Count(sh.log.String(), `msg="reading request body failed"`); got < n {
		t.Errorf("%d log lines for %d slow bodies:\n%s", got, n, sh.log)
	}
	if !strings.Contains(sh.log.String(), "arrived too slowly") {
		t.Errorf("the log does not say the body was too slow:\n%s", sh.log)
	}
}

// TestDevHTTPMaxConns: connections past max_conns are closed at accept
// (logged) while the first ones are served.
func TestDevHTTPMaxConns(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "ok")
	})
	addr, logs := devServer(t, h, DevHTTPOptions{MaxConns: 2, ReadTimeout: time.Minute})
	get := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		return c, bufio.NewReader(c)
	}
	held := []net.Conn{}
	for range 2 {
		c, _ := get()
		held = append(held, c)
		<-entered // served: it holds one of the two places
	}
	for range 3 {
		c, _ := get()
		if out := closedBy(t, c); out != "" {
			t.Errorf("connection past max_conns got %q", out)
		}
	}
	if !strings.Contains(logs.String(), "max_conns reached") {
		t.Errorf("no log line:\n%s", logs)
	}
	close(release)
	for _, c := range held {
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	// Once the held connections are closed their places are free again
	// (the server notices the close when it reads the next request).
	for _, c := range held {
		c.Close()
	}
	for i := 0; ; i++ {
		c, r := get()
		resp, err := http.ReadResponse(r, nil)
		if err == nil {
			<-entered
			if resp.StatusCode != 200 {
				t.Fatalf("after release: %d", resp.StatusCode)
			}
			c.Close()
			break
		}
		if i == 200 {
			t.Fatalf("no place freed after the held connections closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
