package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// fakeEngine serves ".fk" files whose behaviour the request path picks
// (see fakeVM.Serve); a file containing SYNTAX does not compile. It lets
// the status tests drive every counter without a real script engine.
type fakeEngine struct{ gate *gate }

func (e fakeEngine) Name() string         { return "fake" }
func (e fakeEngine) Extensions() []string { return []string{".fk"} }
func (e fakeEngine) Compile(src script.Source, o script.Options) (script.Bundle, error) {
	code := src.Code
	if code == nil {
		b, err := os.ReadFile(src.Entry)
		if err != nil {
			return nil, err
		}
		code = b
	}
	if bytes.Contains(code, []byte("SYNTAX")) {
		return nil, &script.ScriptError{App: src.App, File: src.Entry, Line: 1, Err: errors.New("syntax error near SYNTAX")}
	}
	return &fakeBundle{entry: src.Entry, gate: e.gate}, nil
}

type fakeBundle struct {
	entry string
	gate  *gate
}

func (b *fakeBundle) Style() script.Style { return script.StyleHandler }
func (b *fakeBundle) Files() []string     { return []string{b.entry} }
func (b *fakeBundle) NewVM(context.Context) (script.VM, error) {
	return &fakeVM{b: b}, nil
}

// gate holds /block and /slow requests until the test opens it.
type gate struct {
	mu      sync.Mutex
	ch      chan struct{}
	entered chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{}), entered: make(chan struct{}, 16)} }
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.ch)
	g.ch = make(chan struct{})
}
func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	g.entered <- struct{}{}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type fakeVM struct {
	b       *fakeBundle
	broken  atomic.Bool
	running atomic.Pointer[string] // the "stack" while a request runs
}

// Serve: "/" 200; "/status/N" N; "/throw" a script error at line 3;
// "/hang" runs until the timeout; "/block" and "/slow" wait for the gate
// ("/slow" reports a stack at line 7 meanwhile).
func (v *fakeVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	switch {
	case req.Path == "/throw":
		return &script.ScriptError{File: v.b.entry, Line: 3, Stack: "at handler (" + v.b.entry + ":3:5)", Err: errors.New("deliberate")}
	case req.Path == "/hang":
		<-ctx.Done()
		v.broken.Store(true)
		return &script.ScriptError{File: v.b.entry, Line: 5, Err: context.Cause(ctx)}
	case req.Path == "/block", req.Path == "/slow":
		if req.Path == "/slow" {
			st := fmt.Sprintf("at busyLoop (%s:7:9)\nat handler (%s:2:3)", v.b.entry, v.b.entry)
			v.running.Store(&st)
			defer v.running.Store(nil)
		}
		if err := v.b.gate.wait(ctx); err != nil {
			v.broken.Store(true)
			return &script.ScriptError{File: v.b.entry, Err: err}
		}
	case strings.HasPrefix(req.Path, "/status/"):
		n, _ := strconv.Atoi(strings.TrimPrefix(req.Path, "/status/"))
		res.SetStatus(n)
	}
	_, err := res.WriteString("ok\n")
	return err
}

func (v *fakeVM) CurrentStack() string {
	if s := v.running.Load(); s != nil {
		return *s
	}
	return ""
}
func (v *fakeVM) Healthy() bool { return !v.broken.Load() }
func (v *fakeVM) Close()        {}

var _ script.StackCapturer = (*fakeVM)(nil)

// syncBuf is a goroutine-safe log buffer.
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

// testHost is a Host over a temp apps dir of fake apps.
type testHost struct {
	*Host
	dir  string
	log  *syncBuf
	gate *gate
}

// newTestHost writes one .fk app per name and serves them; settings
// override per app.
func newTestHost(t *testing.T, apps []string, settings map[string]registry.Settings) *testHost {
	t.Helper()
	dir := t.TempDir()
	for _, a := range apps {
		if err := os.WriteFile(filepath.Join(dir, a+".fk"), []byte("v1 of "+a), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := newGate()
	reg, err := registry.New(registry.Options{
		AppsDir: dir,
		Engines: []script.Engine{fakeEngine{gate: g}},
		Logger:  log,
		Settings: func(name string) registry.Settings {
			s := settings[name]
			if s.Pool.Workers == 0 {
				s.Pool.Workers = 1
			}
			return s
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reg.Close(ctx)
	})
	h := &Host{Registry: reg, Logger: log, StatusPath: "/fcgihost-status", PingPath: "/ping", Frontend: &Frontend{}}
	h.Status = NewStatusHandler(h)
	h.Start()
	return &testHost{Host: h, dir: dir, log: logs, gate: g}
}

// get serves one request from 127.0.0.1 and returns the recorder.
func (th *testHost) get(t *testing.T, url string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", url, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	th.ServeHTTP(w, r)
	return w
}

// limits with a short request timeout for /hang.
func shortTimeout(workers int) registry.Settings {
	return registry.Settings{Pool: pool.Options{Workers: workers}, Limits: sandbox.Limits{Timeout: 50 * time.Millisecond}}
}

func newReq(path, remote string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = remote
	return r
}

func serve(h *testHost, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
