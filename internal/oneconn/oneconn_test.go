package oneconn_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/oneconn"
	"github.com/fcgihost/fcgihost/scgi"
	"github.com/fcgihost/fcgihost/uwsgi"
)

// syncBuf is a log destination safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start serves srv on a loopback listener and returns its address; the
// server is shut down at the end of the test.
func start(t *testing.T, srv *oneconn.Server) (string, *syncBuf) {
	t.Helper()
	logs := &syncBuf{}
	srv.Logger = slog.New(slog.NewTextHandler(logs, nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != oneconn.ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String(), logs
}

func scgiRequest(body string, pairs ...string) []byte {
	h := "CONTENT_LENGTH\x00" + strconv.Itoa(len(body)) + "\x00"
	for i := 0; i+1 < len(pairs); i += 2 {
		h += pairs[i] + "\x00" + pairs[i+1] + "\x00"
	}
	return []byte(strconv.Itoa(len(h)) + ":" + h + "," + body)
}

func exchange(t *testing.T, addr string, req []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return string(out)
}

// echo answers with the method and the body's length and sha-free
// content, as a CGI response.
func echo(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
	b, err := io.ReadAll(body)
	if err != nil {
		io.WriteString(w, "Status: 400 Bad Request\r\n\r\n"+err.Error())
		return
	}
	io.WriteString(w, "Status: 200 OK\r\nX-Method: "+p["REQUEST_METHOD"]+"\r\n\r\n"+strconv.Itoa(len(b))+":"+string(b[:min(len(b), 8)]))
}

func TestAnswerAndClose(t *testing.T) {
	addr, logs := start(t, scgi.NewServer(echo, scgi.Limits{}))
	got := exchange(t, addr, scgiRequest("hello", "REQUEST_METHOD", "POST"))
	if want := "Status: 200 OK\r\nX-Method: POST\r\n\r\n5:hello"; got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
	if logs.String() != "" {
		t.Errorf("logged %q for a good request", logs.String())
	}
}

func TestOneMiBBody(t *testing.T) {
	addr, _ := start(t, scgi.NewServer(echo, scgi.Limits{}))
	body := strings.Repeat("x", 1<<20)
	got := exchange(t, addr, scgiRequest(body, "REQUEST_METHOD", "POST"))
	if want := "Status: 200 OK\r\nX-Method: POST\r\n\r\n1048576:xxxxxxxx"; got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
}

func TestUnreadBodyStillAnswered(t *testing.T) {
	addr, _ := start(t, scgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
		io.WriteString(w, "Status: 413 Too Large\r\n\r\nno")
	}, scgi.Limits{}))
	got := exchange(t, addr, scgiRequest(strings.Repeat("y", 256<<10)))
	if want := "Status: 413 Too Large\r\n\r\nno"; got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
}

// Each malformed header closes its connection with no answer and one log
// line.
func TestBadHeaderClosesWithOneLogLine(t *testing.T) {
	for name, tc := range map[string]struct {
		srv *oneconn.Server
		req string
	}{
		"scgi length lies": {scgi.NewServer(echo, scgi.Limits{}), "9:CONTENT_LENGTH\x000\x00,"},
		"scgi over limit":  {scgi.NewServer(echo, scgi.Limits{}), "2000000:"},
		"uwsgi modifier 5": {uwsgi.NewServer(echo, uwsgi.Limits{}), "\x05\x00\x00\x00"},
		"uwsgi var lies":   {uwsgi.NewServer(echo, uwsgi.Limits{}), "\x00\x04\x00\x00\x09\x00AB"},
	} {
		t.Run(name, func(t *testing.T) {
			called := false
			h := tc.srv.Handler
			tc.srv.Handler = func(ctx context.Context, p map[string]string, b io.Reader, w io.Writer) {
				called = true
				h(ctx, p, b, w)
			}
			addr, logs := start(t, tc.srv)
			if got := exchange(t, addr, []byte(tc.req)); got != "" {
				t.Errorf("answered %q", got)
			}
			if called {
				t.Error("the handler ran")
			}
			waitFor(t, func() bool { return strings.Count(logs.String(), "\n") >= 1 })
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "bad request header") {
				t.Errorf("log %q, want one line", logs.String())
			}
			if s := tc.srv.Stats(); s.Bad != 1 || s.Requests != 0 {
				t.Errorf("stats %+v, want 1 bad, 0 requests", s)
			}
		})
	}
}

// A sender that stops mid-header is cut off at the read timeout.
func TestStalledSender(t *testing.T) {
	srv := scgi.NewServer(echo, scgi.Limits{})
	srv.ReadTimeout = 200 * time.Millisecond
	addr, logs := start(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "40:CONTENT_LE")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil || len(out) != 0 {
		t.Fatalf("got %q, %v; want the connection closed with no answer", out, err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "timeout") })
}

// A body that stalls is cut off too, and the handler sees the error.
func TestStalledBody(t *testing.T) {
	got := make(chan error, 1)
	srv := scgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
		_, err := io.ReadAll(body)
		got <- err
	}, scgi.Limits{})
	srv.ReadTimeout = 200 * time.Millisecond
	addr, _ := start(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := scgiRequest(strings.Repeat("z", 100))
	c.Write(req[:len(req)-50])
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("the handler read a truncated body without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled body was never cut off")
	}
}

// A client that closes its connection cancels the request's context.
func TestAbortCancels(t *testing.T) {
	cancelled := make(chan struct{})
	srv := uwsgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
		io.ReadAll(body)
		<-ctx.Done()
		close(cancelled)
	}, uwsgi.Limits{})
	addr, _ := start(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("\x00\x13\x00\x00\x0e\x00CONTENT_LENGTH\x01\x002ab"))
	time.Sleep(50 * time.Millisecond) // let the request start; the assertion does not depend on it
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("closing the client connection did not cancel the request")
	}
}

// Shutdown lets a request in progress finish.
func TestShutdownWaits(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	srv := scgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
		close(started)
		<-release
		io.WriteString(w, "Status: 200 OK\r\n\r\ndone")
	}, scgi.Limits{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(scgiRequest(""))
	<-started
	sd := make(chan error, 1)
	go func() { sd <- srv.Shutdown(context.Background()) }()
	close(release)
	out, _ := io.ReadAll(c)
	if string(out) != "Status: 200 OK\r\n\r\ndone" {
		t.Fatalf("answer %q", out)
	}
	if err := <-sd; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 30s")
}

// A unix-socket client that shuts down its sending side after the request
// (a half-close) still gets its answer; one that closes is gone.
func TestHalfCloseIsNotAbort(t *testing.T) {
	srv := scgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
		io.ReadAll(body)
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond): // work that outlasts the half-close
		}
		io.WriteString(w, "Status: 200 OK\r\n\r\nstill here")
	}, scgi.Limits{})
	srv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	sock := t.TempDir() + "/s.sock"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(scgiRequest("ab"))
	c.(*net.UnixConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	out, _ := io.ReadAll(c)
	if want := "Status: 200 OK\r\n\r\nstill here"; string(out) != want {
		t.Fatalf("answer %q, want %q", out, want)
	}
}

// Over a unix socket a full close cancels the request.
func TestUnixCloseCancels(t *testing.T) {
	cancelled := make(chan struct{})
	srv := scgi.NewServer(func(ctx context.Context, p map[string]string, body io.Reader, w io.Writer) {
		io.ReadAll(body)
		<-ctx.Done()
		close(cancelled)
	}, scgi.Limits{})
	srv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	sock := t.TempDir() + "/s.sock"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(scgiRequest("ab"))
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("closing the unix connection did not cancel the request")
	}
}
