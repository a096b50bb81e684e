package host

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// scriptHost is a Host over a temp apps dir of real JS and Lua apps (and
// .stop apps, see stopEngine).
type scriptHost struct {
	*Host
	dir string
	log *syncBuf
}

func newScriptHost(t *testing.T, files map[string]string, settings map[string]registry.Settings) *scriptHost {
	t.Helper()
	return newScriptHostKV(t, files, settings, nil)
}

// newScriptHostKV is newScriptHost with a key-value store (nil: none).
func newScriptHostKV(t *testing.T, files map[string]string, settings map[string]registry.Settings, st kv.Store) *scriptHost {
	t.Helper()
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	for name, code := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := registry.New(registry.Options{
		AppsDir: dir,
		Engines: []script.Engine{js.New(), lua.New(), stopEngine{}},
		Logger:  log,
		Services: func(name string, _ registry.Settings) (script.KV, script.Fetcher) {
			if st == nil {
				return nil, nil
			}
			return st.Namespace(name, kv.Quota{}), nil
		},
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
	h := &Host{Registry: reg, Logger: log}
	h.Start()
	return &scriptHost{Host: h, dir: dir, log: logs}
}

// fcgi serves path as a FastCGI front end would and returns what went to
// FCGI_STDOUT (the CGI response) and FCGI_STDERR.
func (sh *scriptHost) fcgi(ctx context.Context, path string) (stdout, stderr string) {
	var out, errb bytes.Buffer
	sink := NewCGISink(&out)
	sh.Serve(ctx, &Exchange{
		Params: map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": path, "SCRIPT_NAME": path, "REMOTE_ADDR": "127.0.0.1"},
		Sink:   sink, Stderr: &errb,
	})
	sink.Close()
	return out.String(), errb.String()
}

// headLines returns the header lines of a CGI response (the status line
// first).
func headLines(cgi string) []string {
	head, _, _ := strings.Cut(cgi, "\r\n\r\n")
	return strings.Split(head, "\r\n")
}

func hasHeader(cgi, name string) bool {
	for _, l := range headLines(cgi) {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// TestHeadersScriptsMayNotSend: X-Accel-*, X-Sendfile & co. set in every
// way a script can set a header never reach the web server (unless
// allow_internal_redirect), each drop logged; a second Status, a control
// character in a value, CR/LF anywhere are refused.
func TestHeadersScriptsMayNotSend(t *testing.T) {
	jsApp := `module.exports = function (req, res) {
  res.header("X-Accel-Redirect", "/internal/other-tenant/secret");
  res.addHeader("x-sendfile", "/etc/passwd");
  res.header("X-ACCEL-BUFFERING", "no");
  res.addHeader("X-Sendfile2", "/etc/shadow 0-");
  res.addHeader("X-LIGHTTPD-send-file", "/etc/passwd");
  res.addHeader("X-Lighttpd-Send-Tempfile", "/etc/passwd");
  res.header("Status", "200 OK");
  res.header("X-Bell", "a\u0007b");
  res.header("X-Ok", "kept");
  res.write("body");
};`
	luaApp := `return function(req, res)
  res:header("X-Accel-Redirect", "/internal/x")
  res:header("X-Accel-Limit-Rate", "1")
  res:header("X-Ok", "kept")
  res:write("body")
end`
	cgiApp := `print("Content-Type: text/plain")
print("X-Accel-Redirect: /internal/x")
print("X-LIGHTTPD-send-file: /etc/passwd")
print("X-Ok: kept")
print("")
print("body")`
	crlf := `module.exports = function (req, res) {
  res.header("Location", "/a\r\nX-Accel-Redirect: /internal/x");
  res.write("body");
};`
	sh := newScriptHost(t, map[string]string{
		"hdr.js": jsApp, "hdr.lua": luaApp, "cgi.lua": cgiApp, "crlf.js": crlf, "allowed.js": jsApp,
	}, map[string]registry.Settings{"allowed": {AllowInternalRedirect: true}})
	forbidden := []string{"X-Accel-Redirect", "X-Sendfile", "X-Accel-Buffering", "X-Sendfile2", "X-Lighttpd-Send-File", "X-Lighttpd-Send-Tempfile", "X-Accel-Limit-Rate", "X-Bell"}
	for _, path := range []string{"/hdr", "/hdr.lua", "/cgi"} {
		out, _ := sh.fcgi(context.Background(), path)
		if !strings.HasPrefix(out, "Status: 200 OK\r\n") || !hasHeader(out, "X-Ok") || !strings.Contains(out, "body") {
			t.Errorf("%s: want a 200 with X-Ok and the body, got %q", path, out)
		}
		for _, h := range forbidden {
			if hasHeader(out, h) {
				t.Errorf("%s: %s reached the web server: %q", path, h, out)
			}
		}
		if n := strings.Count(out, "Status:"); n != 1 {
			t.Errorf("%s: %d Status lines: %q", path, n, out)
		}
	}
	logs := sh.log.String()
	for _, h := range []string{"X-Accel-Redirect", "X-Sendfile", "X-Sendfile2", "X-Lighttpd-Send-File", "X-Lighttpd-Send-Tempfile", "X-Accel-Buffering", "X-Accel-Limit-Rate", "Status", "X-Bell"} {
		if !strings.Contains(logs, `msg="dropped a response header the script may not send" app=`) || !strings.Contains(logs, "header="+h+" ") {
			t.Errorf("no log line for the drop of %s:\n%s", h, logs)
		}
	}

	// allow_internal_redirect = true: the app's own choice.
	out, _ := sh.fcgi(context.Background(), "/allowed")
	if !hasHeader(out, "X-Accel-Redirect") || !hasHeader(out, "X-Sendfile") || hasHeader(out, "X-Bell") || strings.Count(out, "Status:") != 1 {
		t.Errorf("allowed: %q", out)
	}

	// CR/LF in a value: the script gets an error, the client a 500 with no
	// injected line.
	out, _ = sh.fcgi(context.Background(), "/crlf")
	if !strings.HasPrefix(out, "Status: 500") || hasHeader(out, "X-Accel-Redirect") || hasHeader(out, "Location") {
		t.Errorf("crlf: %q", out)
	}
}

// TestStderrEscaped: a script's error message reaches FCGI_STDERR as one
// line with its control characters escaped, and the host's log quotes it.
func TestStderrEscaped(t *testing.T) {
	sh := newScriptHost(t, map[string]string{
		"boom.js":  `module.exports = function () { throw new Error("boom\r[crit] forged \u001b[2J\u009b\u202e\nsecond"); };`,
		"boom.lua": `return function() error("boom\r[crit] forged \27[2J\127") end`,
	}, nil)
	for _, path := range []string{"/boom", "/boom.lua"} {
		out, errs := sh.fcgi(context.Background(), path)
		if !strings.HasPrefix(out, "Status: 500") {
			t.Errorf("%s: %q", path, out)
		}
		if strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") {
			t.Errorf("%s: stderr is not one line: %q", path, errs)
		}
		if strings.ContainsAny(strings.TrimSuffix(errs, "\n"), "\r\n\x1b\x7f\u009b\u202e") {
			t.Errorf("%s: raw control characters on stderr: %q", path, errs)
		}
		if !strings.Contains(errs, `boom\r[crit] forged \x1b[2J`) {
			t.Errorf("%s: stderr lacks the escaped message: %q", path, errs)
		}
	}
	if logs := sh.log.String(); strings.ContainsAny(logs, "\r\x1b\x7f\u009b\u202e") {
		t.Errorf("raw control characters in the host log: %q", logs)
	}
}

// stopEngine serves ".stop" files: the request stops its own context with
// the cause its path names, then returns what a call interrupted that way
// returns (context.Canceled, not the cause): "/memory" the watchdog's
// MemoryError, "/internal" another cause, "/timeout" waits for the time
// limit, "/client" waits for the client to leave.
type stopEngine struct{}

func (stopEngine) Name() string         { return "stop" }
func (stopEngine) Extensions() []string { return []string{".stop"} }
func (stopEngine) Compile(src script.Source, _ script.Options) (script.Bundle, error) {
	return stopBundle{src.Entry}, nil
}

type stopBundle struct{ entry string }

func (stopBundle) Style() script.Style                      { return script.StyleHandler }
func (b stopBundle) Files() []string                        { return []string{b.entry} }
func (stopBundle) NewVM(context.Context) (script.VM, error) { return stopVM{}, nil }

type stopVM struct{}

func (stopVM) Healthy() bool { return true }
func (stopVM) Close()        {}
func (stopVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	res.WriteString("partial")
	s := ctx.(sandbox.Stopper)
	switch req.Path {
	case "/memory":
		s.Stop(&sandbox.MemoryError{App: "x", Limit: 64 << 20, Growth: 600 << 20, Budget: 128 << 20})
	case "/internal":
		s.Stop(errors.New("stopped by the host"))
	}
	<-ctx.Done()
	return context.Canceled
}

// TestStoppedRequestsGetAResponse: a request stopped by the memory
// watchdog, its time limit or another cause inside the host gets a
// complete error page, whatever error its pending call returned; only a
// client that left gets nothing.
func TestStoppedRequestsGetAResponse(t *testing.T) {
	sh := newScriptHost(t, map[string]string{"s.stop": "x"}, map[string]registry.Settings{
		"s": {Pool: pool.Options{Workers: 2}, Limits: sandbox.Limits{Timeout: 100 * time.Millisecond}},
	})
	for _, c := range []struct{ path, status, body, log string }{
		{"/s/memory", "Status: 500", "script exceeded its memory limit\n", `msg="script exceeded its memory limit"`},
		{"/s/internal", "Status: 500", "internal server error\n", `msg="request stopped"`},
		{"/s/timeout", "Status: 504", "script timed out\n", `msg="script timed out"`},
	} {
		out, errs := sh.fcgi(context.Background(), c.path)
		if !strings.HasPrefix(out, c.status) || !strings.HasSuffix(out, "\r\n\r\n"+c.body) || strings.Contains(out, "partial") {
			t.Errorf("%s: client saw %q, want %s with body %q", c.path, out, c.status, c.body)
		}
		if errs == "" {
			t.Errorf("%s: nothing on stderr", c.path)
		}
		if !strings.Contains(sh.log.String(), c.log) {
			t.Errorf("%s: no log line %s:\n%s", c.path, c.log, sh.log)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if out, _ := sh.fcgi(ctx, "/s/client"); out != "" {
		t.Errorf("client gone: wrote %q", out)
	}
	if !strings.Contains(sh.log.String(), `msg="request cancelled"`) {
		t.Errorf("no log line for the client that left:\n%s", sh.log)
	}
}
