package lua

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// nopSink discards a response. Like the host's CGI sink it takes the
// head as a field list (no header map).
type nopSink struct{}

func (nopSink) WriteHeader(int, http.Header) error    { return nil }
func (nopSink) WriteFields(int, []script.Field) error { return nil }
func (nopSink) Write(p []byte) (int, error)           { return len(p), nil }

const helloApp = `local hits = 0
return function(req, res)
  hits = hits + 1
  res:header("Content-Type", "text/plain")
  res:write("hello ", req.query.name or "world")
end`

func benchApp(b *testing.B, code string) script.Bundle {
	b.Helper()
	dir := b.TempDir()
	bundle, err := New().Compile(script.Source{App: "bench", Dir: dir, Entry: dir + "/index.lua", Code: []byte(code)}, script.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return bundle
}

// BenchmarkServe_Hello measures one request through a preloaded VM,
// Response included (what the engine adds to a request).
func BenchmarkServe_Hello(b *testing.B) {
	benchServe(b, helloApp, func() *script.Request { return request("GET", "/hello?name=bench", "", nil) })
}

// helloLuaApp is apps/hello.lua: reads req.query.name, sets a header,
// writes a short body.
const helloLuaApp = `local hits = 0
return function(req, res)
  hits = hits + 1
  res:header("Content-Type", "text/plain")
  res:write("hello ", req.query.name or "world", " #", hits)
end`

// jsonAPIApp is a typical JSON API handler: it reads a header and the
// query, and answers JSON.
const jsonAPIApp = `local n = 0
return function(req, res)
  n = n + 1
  local key = req.headers["x-api-key"]
  if key ~= "secret" then
    res:status(401)
    return res:json({ error = "bad key" })
  end
  return res:json({ ok = true, id = tonumber(req.query.id), n = n, items = { "a", "b" } })
end`

// benchServe serves requests made by mk to a handler VM of code.
func benchServe(b *testing.B, code string, mk func() *script.Request) {
	v, err := benchApp(b, code).NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res := script.NewResponse(nopSink{}, 0, false)
		if err := v.Serve(ctx, mk(), res); err != nil {
			b.Fatal(err)
		}
		if res.Status() != 200 {
			b.Fatalf("status %d", res.Status())
		}
		res.Finish()
	}
}

// BenchmarkServe_HelloApp is apps/hello.lua on a request whose params map
// is shared (what the engine costs, less the test's request building).
func BenchmarkServe_HelloApp(b *testing.B) {
	t := request("GET", "/hello?name=bench", "", nil)
	benchServe(b, helloLuaApp, func() *script.Request {
		return &script.Request{Params: t.Params, Method: t.Method, URI: t.URI, Path: t.Path,
			RawQuery: t.RawQuery, RemoteAddr: t.RemoteAddr}
	})
}

// BenchmarkServe_JSONAPI is a JSON API handler reading a header.
func BenchmarkServe_JSONAPI(b *testing.B) {
	t := request("GET", "/api?id=42", "", map[string]string{"HTTP_X_API_KEY": "secret",
		"HTTP_ACCEPT": "application/json", "HTTP_USER_AGENT": "bench/1.0", "HTTP_HOST": "example.com",
		"HTTP_ACCEPT_ENCODING": "gzip", "HTTP_CONNECTION": "keep-alive"})
	benchServe(b, jsonAPIApp, func() *script.Request {
		return &script.Request{Params: t.Params, Method: t.Method, URI: t.URI, Path: t.Path,
			RawQuery: t.RawQuery, RemoteAddr: t.RemoteAddr}
	})
}

// BenchmarkServe_PlainGo is the same work in a plain Go handler, for scale.
func BenchmarkServe_PlainGo(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := request("GET", "/hello?name=bench", "", nil)
		res := script.NewResponse(nopSink{}, 0, false)
		res.SetHeader("Content-Type", "text/plain")
		name := r.Query()["name"]
		if name == "" {
			name = "world"
		}
		res.WriteString("hello " + name)
		res.Finish()
	}
}

// BenchmarkServe_CGI measures a CGI-style request (fresh globals each time).
func BenchmarkServe_CGI(b *testing.B) {
	benchServe(b, `io.write("Content-Type: text/plain\n\nhello ", os.getenv("QUERY_STRING"))`, func() *script.Request { return request("GET", "/hello?name=bench", "", nil) })
}

// BenchmarkNewVM measures instantiating a handler VM (compile excluded).
func BenchmarkNewVM(b *testing.B) {
	bundle := benchApp(b, helloApp)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, err := bundle.NewVM(ctx)
		if err != nil {
			b.Fatal(err)
		}
		v.Close()
	}
}

// BenchmarkIdleHeapPerVM reports the live heap of one idle handler VM
// (100 kept alive, divided).
func BenchmarkIdleHeapPerVM(b *testing.B) {
	bundle := benchApp(b, helloApp)
	ctx := context.Background()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		vms := make([]script.VM, 100)
		for i := range vms {
			v, err := bundle.NewVM(ctx)
			if err != nil {
				b.Fatal(err)
			}
			vms[i] = v
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/100, "heapB/VM")
		for _, v := range vms {
			v.Close()
		}
	}
}
