package js

import (
	"bytes"
	"context"
	"github.com/fcgihost/fcgihost/internal/logbuf"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
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

// app is a test app: its folder and compile options.
type app struct {
	t    *testing.T
	dir  string
	opts script.Options
	logs *logBuf
}

// newApp writes files (relative path → content) into a temp dir.
func newApp(t *testing.T, files map[string]string) *app {
	t.Helper()
	dir := t.TempDir()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logBuf{}
	return &app{t: t, dir: dir, logs: logs, opts: script.Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limits: sandbox.Limits{Timeout: 5 * time.Second},
	}}
}

func (a *app) path(name string) string { return filepath.Join(a.dir, name) }

func (a *app) compile(entry string) (script.Bundle, error) {
	return New().Compile(script.Source{App: "test", Dir: a.dir, Entry: a.path(entry)}, a.opts)
}

func (a *app) mustCompile(entry string) script.Bundle {
	a.t.Helper()
	b, err := a.compile(entry)
	if err != nil {
		a.t.Fatalf("compile %s: %v", entry, err)
	}
	return b
}

func (a *app) mustVM(entry string) script.VM {
	a.t.Helper()
	vm, err := a.mustCompile(entry).NewVM(context.Background())
	if err != nil {
		a.t.Fatalf("NewVM %s: %v", entry, err)
	}
	a.t.Cleanup(vm.Close)
	return vm
}

// result is one served request.
type result struct {
	status int
	header http.Header
	body   string
	err    error
}

// get makes a GET request for uri ("/path?query").
func get(uri string) *script.Request {
	path, q, _ := strings.Cut(uri, "?")
	return &script.Request{
		Method: "GET", URI: uri, Path: path, RawQuery: q, RemoteAddr: "127.0.0.1",
		Params: map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "QUERY_STRING": q, "REMOTE_ADDR": "127.0.0.1"},
	}
}

// post makes a POST request with a body of the given content type.
func post(uri, ctype string, body []byte) *script.Request {
	r := get(uri)
	r.Method = "POST"
	r.Params["REQUEST_METHOD"] = "POST"
	r.Params["CONTENT_TYPE"] = ctype
	r.Params["CONTENT_LENGTH"] = strings.TrimSpace(strings.Repeat(" ", 0) + itoa(int64(len(body))))
	r.Body = body
	return r
}

func serve(vm script.VM, req *script.Request) result {
	return serveCtx(context.Background(), vm, req)
}

func serveCtx(ctx context.Context, vm script.VM, req *script.Request) result {
	s := &sink{}
	res := script.NewResponse(s, 0, false)
	err := vm.Serve(ctx, req, res)
	if ferr := res.Finish(); ferr != nil && err == nil {
		err = ferr
	}
	return result{status: s.status, header: s.header, body: s.body.String(), err: err}
}

var _ = io.EOF
