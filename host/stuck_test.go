package host

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/sandbox"
)

// stuckHost is a script host behind a real FastCGI server whose test hook
// blocks, ignoring every cancellation, on paths starting /stuck until
// release is closed — a native call that ignores the VM's interrupt.
type stuckHost struct {
	*scriptHost
	addr    string
	release chan struct{}
	stuck   chan string // OnStuck's reports
	access  *syncBuf
}

func newStuckHost(t *testing.T, timeout time.Duration) *stuckHost {
	t.Helper()
	sh := newScriptHost(t, map[string]string{
		"a.js":  `module.exports = (req, res) => { if (req.path === "/loop") { for (;;) {} } res.write("ok " + req.path) }`,
		"l.lua": `return function(req, res) res.write("lua " .. req.path) end`,
	}, map[string]registry.Settings{
		"a": {Pool: pool.Options{Workers: 1}, Limits: sandbox.Limits{Timeout: timeout}},
		"l": {Pool: pool.Options{Workers: 1}, Limits: sandbox.Limits{Timeout: timeout}},
	})
	s := &stuckHost{scriptHost: sh, release: make(chan struct{}), stuck: make(chan string, 4), access: &syncBuf{}}
	sh.AccessLog = slog.New(slog.NewTextHandler(s.access, nil))
	sh.TestHook = func(p string) {
		if strings.HasPrefix(p, "/stuck") {
			<-s.release
		}
	}
	sh.OnStuck = func(what string) { s.stuck <- what }
	srv := &fcgi.Server{Handler: sh.Host, Logger: slog.New(slog.NewTextHandler(sh.log, nil))}
	l, err := fcgi.Listen("unix:"+filepath.Join(shortDir(t), "s.sock"), 0)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	s.addr = "unix:" + l.Addr().String()
	return s
}

func (s *stuckHost) get(t *testing.T, c *fcgi.Client, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": path, "SCRIPT_NAME": path, "REMOTE_ADDR": "127.0.0.1"}})
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, err := resp.ReadAll()
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp.Status, string(b)
}

// A script call stuck past its timeout gets its 504 without waiting for
// the call, once: the host's owner is told, the connection serves on, and
// when the call returns at last nothing more is written or counted.
func TestHost_StuckCallAnsweredAtDeadline(t *testing.T) {
	t.Parallel()
	s := newStuckHost(t, 200*time.Millisecond)
	c := &fcgi.Client{Addr: s.addr, KeepConn: true}
	defer c.Close()
	st, body := s.get(t, c, "/a/stuck")
	if st != 504 || body != "script timed out\n" {
		t.Errorf("stuck call answered %d %q, want 504 script timed out", st, body)
	}
	var what string
	select {
	case what = <-s.stuck:
	case <-time.After(30 * time.Second):
		t.Fatal("OnStuck was not called")
	}
	if !strings.Contains(what, "GET /a/stuck (app a)") {
		t.Errorf("OnStuck got %q", what)
	}
	// The connection and the other app serve on; app a's only VM is held
	// by the stuck call.
	if st, body := s.get(t, c, "/l/x"); st != 200 || body != "lua /x" {
		t.Errorf("after the stuck call: %d %q", st, body)
	}
	close(s.release)
	idle := func() bool { return s.Metrics.App("a").InFlight.Load() == 0 }
	deadline := time.Now().Add(30 * time.Second)
	for !idle() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st, body := s.get(t, c, "/a/after"); st != 200 || body != "ok /after" {
		t.Errorf("once the call returned: %d %q", st, body)
	}
	m := s.Metrics.App("a")
	if n := m.Timeouts.Load(); n != 1 {
		t.Errorf("timeouts counted %d, want 1", n)
	}
	if n := strings.Count(s.access.String(), "uri=/a/stuck"); n != 1 {
		t.Errorf("%d access log lines for the stuck request, want 1:\n%s", n, s.access)
	}
	if !strings.Contains(s.log.String(), "script stuck in a call that ignores its interrupt") {
		t.Errorf("no log line names the stuck call:\n%s", s.log)
	}
}

// A script that runs past its timeout but is interrupted normally is not
// stuck: the usual 504, and OnStuck is never called.
func TestHost_InterruptedScriptIsNotStuck(t *testing.T) {
	t.Parallel()
	s := newStuckHost(t, 100*time.Millisecond)
	c := &fcgi.Client{Addr: s.addr, KeepConn: true}
	defer c.Close()
	for range 3 {
		if st, _ := s.get(t, c, "/a/loop"); st != 504 {
			t.Errorf("endless loop answered %d, want 504", st)
		}
	}
	time.Sleep(2 * StuckAfter) // a wrong report would come within this
	select {
	case what := <-s.stuck:
		t.Errorf("an interrupted script was reported stuck: %s", what)
	default:
	}
}

// Without a transport that can detach (the development HTTP listener,
// SCGI, uwsgi) the owner is still told, so that it can retire the
// process; the request ends when the call returns.
func TestHost_StuckCallWithoutDetacher(t *testing.T) {
	t.Parallel()
	s := newStuckHost(t, 100*time.Millisecond)
	var out bytes.Buffer
	var mu sync.Mutex
	sink := NewCGISink(lockedWriter{&mu, &out})
	var served atomic.Bool
	go func() {
		s.Serve(context.Background(), &Exchange{
			Params: map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/a/stuck", "SCRIPT_NAME": "/a/stuck", "REMOTE_ADDR": "127.0.0.1"},
			Sink:   sink,
		})
		sink.Close()
		served.Store(true)
	}()
	select {
	case what := <-s.stuck:
		if !strings.Contains(what, "/a/stuck") {
			t.Errorf("OnStuck got %q", what)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnStuck was not called")
	}
	if served.Load() {
		t.Error("the request ended while its call was stuck")
	}
	close(s.release)
	deadline := time.Now().Add(30 * time.Second)
	for !served.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !served.Load() {
		t.Error("the request did not end once its call returned")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// shortDir is a temp dir whose paths fit in a unix socket address.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "host")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
