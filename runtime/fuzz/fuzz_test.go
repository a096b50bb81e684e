// Package fuzz feeds random scripts and random request shapes through the
// script API boundary of both engines (runtime/js, runtime/lua) under the
// sandbox's limits. A failure is anything that would take the host down:
// a panic escaping Serve or NewVM (the engines must turn every one into an
// error), a Go stack overflow or fatal error (the process dies), or a call
// that does not return once its context is done. Run a while with
//
//	go test ./runtime/fuzz -fuzz FuzzScript -fuzztime 2m
//	go test ./runtime/fuzz -fuzz FuzzRequest -fuzztime 2m
//
// The seed corpus (f.Add below and testdata/fuzz/) runs in every plain
// go test.
package fuzz

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// limits are small so that a run stays quick and a runaway script is cut
// early; they are the same checks as the defaults, scaled down.
var limits = sandbox.Limits{
	Timeout:       200 * time.Millisecond,
	MemoryLimit:   32 << 20,
	MaxBody:       1 << 20,
	MaxResponse:   1 << 20,
	MaxStringSize: 1 << 20,
}.WithDefaults()

// callTimeout bounds one NewVM or Serve; grace is how long past it a call
// may take to notice (a native call in flight) before the fuzzer calls it
// a hang.
const (
	callTimeout = 200 * time.Millisecond
	grace       = 20 * time.Second
)

type discard struct{ n int }

func (d *discard) WriteHeader(int, http.Header) error { return nil }
func (d *discard) Write(p []byte) (int, error)        { d.n += len(p); return len(p), nil }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// run compiles code as an app of lang, makes a VM and serves req on it,
// failing the test on a panic or a hang.
func run(t *testing.T, lang, code string, req *script.Request) {
	t.Helper()
	dir := t.TempDir()
	entry := filepath.Join(dir, "index."+lang)
	if err := os.WriteFile(entry, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	var eng script.Engine = js.New()
	if lang == "lua" {
		eng = lua.New()
	}
	b, err := eng.Compile(script.Source{App: "fuzz", Dir: dir, Entry: entry, Code: []byte(code)},
		script.Options{Limits: limits, Logger: quiet})
	if err != nil {
		return // a compile error is a fine answer
	}
	bounded(t, "NewVM", func(ctx context.Context) {
		vm, err := b.NewVM(ctx)
		if err != nil {
			return
		}
		defer vm.Close()
		for i := 0; i < 2 && vm.Healthy(); i++ { // twice: state carried over must not break it
			sink := &discard{}
			res := script.NewResponse(sink, limits.MaxResponse, req.Method == "HEAD")
			sctx, cancel := context.WithTimeout(ctx, callTimeout)
			if err := vm.Serve(sctx, req, res); err == nil {
				_ = res.Finish()
			}
			cancel()
			if int64(sink.n) > limits.MaxResponse+64<<10 {
				t.Fatalf("response of %d bytes passed max_response %d", sink.n, limits.MaxResponse)
			}
		}
	})
}

// bounded runs fn with a context of callTimeout (twice over, for NewVM
// plus two Serves) and fails if it panics or has not returned grace after.
func bounded(t *testing.T, what string, fn func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*callTimeout)
	defer cancel()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fn(ctx)
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s panicked through the engine: %v", what, p)
		}
	case <-time.After(3*callTimeout + grace):
		t.Fatalf("%s did not return %s after its context ended", what, grace)
	}
}

func newRequest(method, uri, query, ctype, cookie string, body []byte) *script.Request {
	params := map[string]string{
		"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query,
		"CONTENT_TYPE": ctype, "CONTENT_LENGTH": itoa(len(body)), "HTTP_COOKIE": cookie,
		"HTTP_X_FUZZ": query, "REMOTE_ADDR": "127.0.0.1",
	}
	path := uri
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return &script.Request{Params: params, Method: method, URI: uri, Path: path, RawQuery: query,
		RemoteAddr: "127.0.0.1", Body: body}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// FuzzScript runs random script text in either language.
func FuzzScript(f *testing.F) {
	seeds := []struct{ lang, code string }{
		{"js", `module.exports = (req, res) => res.write("hi " + req.query.a)`},
		{"js", `let s = "x"; module.exports = (req, res) => { while (true) s += s; }`},
		{"js", `function f() { return f() } module.exports = () => f()`},
		{"js", `module.exports = (req, res) => res.json(JSON.parse(req.body || "null"))`},
		{"js", `module.exports = async (req, res) => { await null; return {a: [1, 2, {b: "c"}]} }`},
		{"js", `module.exports = () => "a".repeat(1e6).replace(/a/g, "$&$&")`},
		{"js", `module.exports = () => [..."x".repeat(2e5)].join()`},
		{"js", `while (true) {}`},
		{"lua", `return function(req, res) res:write("hi ", req.query.a or "") end`},
		{"lua", `return function(req, res) local s = "x" while true do s = s .. s end end`},
		{"lua", `local function f() return f() + 1 end return function() f() end`},
		{"lua", `return function(req, res) res:json(json.decode(req.body ~= "" and req.body or "null")) end`},
		{"lua", `return function() return (string.rep("a", 1e5)):gsub("a", "%0%0") end`},
		{"lua", `return function() return string.find(string.rep("a", 1e4), string.rep("a?", 500) .. "b") end`},
		{"lua", `return function() return string.format("%099999d", 1) end`},
		{"lua", `return setmetatable({}, {__index = function(t, k) return t[k] end})`},
	}
	for _, s := range seeds {
		f.Add(s.lang == "lua", s.code, "GET", "/x?a=1", "a=1", []byte(""))
	}
	f.Fuzz(func(t *testing.T, isLua bool, code, method, uri, query string, body []byte) {
		lang := "js"
		if isLua {
			lang = "lua"
		}
		if len(code) > 64<<10 || len(body) > 64<<10 {
			return
		}
		run(t, lang, code, newRequest(method, uri, query, "application/json", "a=b", body))
	})
}

// apiScripts touch every part of the request API with what they were
// sent, so that random request shapes reach the parsers.
var apiScripts = map[string]string{
	"js": `module.exports = (req, res) => {
  const out = {m: req.method, p: req.path, u: req.uri, q: req.query, qa: req.queryAll("a"), h: req.headers,
               c: req.cookies, r: req.remoteAddr, b: req.body.length, by: req.bytes().length};
  try { out.j = req.json(); } catch (e) { out.je = String(e); }
  try { out.f = req.form(); } catch (e) { out.fe = String(e); }
  try { const fs = req.files(); out.fl = Object.keys(fs).length; } catch (e) { out.fle = String(e); }
  res.status(200 + (req.body.length % 300)).header("X-Echo", req.query.a || "").cookie("k", req.query.c || "v", {maxAge: 10});
  res.json(out);
};`,
	"lua": `return function(req, res)
  local out = {m = req.method, p = req.path, u = req.uri, q = req.query, qa = req:query_all("a"), h = req.headers,
               c = req.cookies, r = req.remote_addr, b = #req.body}
  local ok, j = pcall(req.json, req) out.j = ok and j or tostring(j)
  local okf, f = pcall(req.form, req) out.f = okf and f or tostring(f)
  local okl, fl = pcall(req.files, req) out.fl = okl and "files" or tostring(fl)
  res:status(200 + (#req.body % 300)):header("X-Echo", req.query.a or ""):cookie("k", req.query.c or "v", {max_age = 10})
  res:json(out)
end`,
}

// FuzzRequest sends random request shapes to API-heavy scripts in both
// languages.
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/x?a=1&a=2", "a=1&a=2&c=%ZZ", "", "sid=1; x", []byte(""))
	f.Add("POST", "/form", "", "application/x-www-form-urlencoded", "", []byte("a=1&b=%E2%82%AC&a"))
	f.Add("POST", "/json", "", "application/json", "", []byte(`{"a":[1,2,{"b":null}],"c":"\ud800"}`))
	f.Add("POST", "/up", "", "multipart/form-data; boundary=XX", "",
		[]byte("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n"))
	f.Add("HEAD", "", "\x00\xff", "multipart/form-data", "=;;=", []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, method, uri, query, ctype, cookie string, body []byte) {
		if len(body) > 256<<10 {
			return
		}
		for _, lang := range []string{"js", "lua"} {
			run(t, lang, apiScripts[lang], newRequest(method, uri, query, ctype, cookie, body))
		}
	})
}
