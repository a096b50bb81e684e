package server

// Tests of Server.Reload (SIGHUP): the old generation's requests finish,
// new ones go to the new generation, none fails, and no reload happens
// after Close. A fake engine keeps them fast and lets a request block.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/script"
)

// gateEngine compiles .fk files whose content is the body they answer;
// a request for /wait blocks until gate is closed (started gets a value
// when it begins).
type gateEngine struct {
	started chan struct{}
	gate    chan struct{}
}

func (e *gateEngine) Name() string         { return "fake" }
func (e *gateEngine) Extensions() []string { return []string{".fk"} }
func (e *gateEngine) Compile(src script.Source, _ script.Options) (script.Bundle, error) {
	return &gateBundle{e: e, src: src}, nil
}

type gateBundle struct {
	e   *gateEngine
	src script.Source
}

func (b *gateBundle) Style() script.Style                      { return script.StyleHandler }
func (b *gateBundle) Files() []string                          { return []string{b.src.Entry} }
func (b *gateBundle) NewVM(context.Context) (script.VM, error) { return &gateVM{b: b}, nil }

type gateVM struct{ b *gateBundle }

func (v *gateVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	if req.Path == "/wait" {
		v.b.e.started <- struct{}{}
		select {
		case <-v.b.e.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	res.WriteString(string(v.b.src.Code))
	return nil
}
func (v *gateVM) Healthy() bool { return true }
func (v *gateVM) Close()        {}

// newServer starts a Server on an apps dir holding app.fk ("v1").
func newServer(t *testing.T) (*Server, *gateEngine, *config.Config) {
	t.Helper()
	apps := filepath.Join(t.TempDir(), "apps")
	if err := os.MkdirAll(apps, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(apps, "app.fk"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Apps, cfg.DataDir, cfg.Watch = apps, t.TempDir(), false
	cfg.Defaults.Workers = 2
	e := &gateEngine{started: make(chan struct{}, 16), gate: make(chan struct{})}
	s, err := New(cfg, Options{Engines: []script.Engine{e}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, e, cfg
}

func serveGet(s *Server, path string) (int, string) {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

func TestServer_ReloadWaitsForRequestsInFlight(t *testing.T) {
	s, e, cfg := newServer(t)
	oldHost := s.Host()

	type result struct {
		code int
		body string
	}
	slow := make(chan result, 1)
	go func() {
		c, b := serveGet(s, "/app/wait")
		slow <- result{c, b}
	}()
	<-e.started

	reloaded := make(chan error, 1)
	go func() { reloaded <- s.Reload(context.Background(), cfg) }()
	// New requests go to the new generation while the old one drains.
	for s.Host() == oldHost {
		select {
		case err := <-reloaded:
			t.Fatalf("Reload returned (%v) before swapping", err)
		default:
		}
	}
	if c, b := serveGet(s, "/app"); c != 200 || b != "v1" {
		t.Fatalf("request during the reload: %d %q", c, b)
	}
	select {
	case err := <-reloaded:
		t.Fatalf("Reload returned (%v) while a request of the old configuration was running", err)
	default:
	}
	close(e.gate)
	if r := <-slow; r.code != 200 || r.body != "v1" {
		t.Errorf("request in flight across the reload: %d %q, want 200 v1", r.code, r.body)
	}
	if err := <-reloaded; err != nil {
		t.Errorf("Reload: %v", err)
	}
}

// TestServer_ReloadUnderLoad: requests racing reloads never meet a closed
// pool (a request that found the old registry is counted on it, and the
// old registry closes only when its count is zero).
func TestServer_ReloadUnderLoad(t *testing.T) {
	s, _, cfg := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	served := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, b := serveGet(s, "/app")
				mu.Lock()
				served++
				if c != 200 || b != "v1" {
					failures = append(failures, strings.TrimSpace(http.StatusText(c)+" "+b))
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 30; i++ {
		if err := s.Reload(context.Background(), cfg); err != nil {
			t.Fatalf("Reload %d: %v", i, err)
		}
	}
	cancel()
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed across 30 reloads, e.g. %q", len(failures), served, failures[0])
	}
	if served == 0 {
		t.Fatal("no request was served")
	}
}

func TestServer_ReloadAfterClose(t *testing.T) {
	s, _, cfg := newServer(t)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := s.Reload(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Reload after Close = %v, want an error saying the server is closed", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatalf("unexpected cancellation: %v", err)
	}
}
