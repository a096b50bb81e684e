package lua

import (
	"bytes"
	"context"
	"github.com/fcgihost/fcgihost/internal/logbuf"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// sink captures what a Response sends.
type sink struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (s *sink) WriteHeader(status int, h http.Header) error {
	s.status, s.header = status, h.Clone()
	return nil
}

func (s *sink) Write(p []byte) (int, error) { return s.body.Write(p) }

// logBuf collects log lines for assertions.
type logBuf = logbuf.Buffer

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// app compiles an app whose entry is index.lua in a fresh folder with the
// given extra files.
type app struct {
	dir    string
	entry  string
	bundle script.Bundle
	logs   *logBuf
}

func newApp(t *testing.T, code string, files map[string]string, opts ...func(*script.Options)) *app {
	t.Helper()
	a, err := tryApp(t, code, files, opts...)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return a
}

func tryApp(t *testing.T, code string, files map[string]string, opts ...func(*script.Options)) (*app, error) {
	t.Helper()
	dir := t.TempDir()
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	writeFiles(t, dir, files)
	entry := filepath.Join(dir, "index.lua")
	writeFiles(t, dir, map[string]string{"index.lua": code})
	lb := &logBuf{}
	o := script.Options{Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range opts {
		f(&o)
	}
	b, err := New().Compile(script.Source{App: "test", Dir: dir, Entry: entry}, o)
	if err != nil {
		return &app{dir: dir, entry: entry, logs: lb}, err
	}
	return &app{dir: dir, entry: entry, bundle: b, logs: lb}, nil
}

func (a *app) vm(t *testing.T) script.VM {
	t.Helper()
	v, err := a.bundle.NewVM(context.Background())
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// request builds a Request from a method, a URI and extra params.
func request(method, uri, body string, params map[string]string) *script.Request {
	path, query, _ := strings.Cut(uri, "?")
	p := map[string]string{"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query,
		"REMOTE_ADDR": "192.0.2.7", "SCRIPT_NAME": "/app", "PATH_INFO": path}
	for k, v := range params {
		p[k] = v
	}
	return &script.Request{Params: p, Method: method, URI: uri, Path: path, RawQuery: query,
		RemoteAddr: p["REMOTE_ADDR"], Body: []byte(body)}
}

// serve runs one request and finishes the response.
func serve(t *testing.T, v script.VM, req *script.Request) (*sink, error) {
	t.Helper()
	return serveCtx(context.Background(), v, req)
}

func serveCtx(ctx context.Context, v script.VM, req *script.Request) (*sink, error) {
	s := &sink{}
	res := script.NewResponse(s, 0, req.Method == "HEAD")
	err := v.Serve(ctx, req, res)
	if err == nil {
		err = res.Finish()
	}
	return s, err
}

// run compiles code as a handler app and serves one GET / to it.
func run(t *testing.T, code string) (*sink, error) {
	t.Helper()
	a := newApp(t, code, nil)
	return serve(t, a.vm(t), request("GET", "/", "", nil))
}

func scriptSource(dir, code string) script.Source {
	return script.Source{App: "fuzz", Dir: dir, Entry: filepath.Join(dir, "index.lua"), Code: []byte(code)}
}

func defaultOpts() script.Options { return script.Options{} }
