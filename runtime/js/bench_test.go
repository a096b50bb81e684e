package js

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

type discardSink struct{}

func (discardSink) WriteHeader(int, http.Header) error { return nil }
func (discardSink) Write(p []byte) (int, error)        { return len(p), nil }

// BenchmarkServeHello measures one handler-style request end to end in the
// engine: exchange objects, the call, res.write, Finish.
func BenchmarkServeHello(b *testing.B) {
	t := &testing.T{}
	a := newApp(t, map[string]string{"hello.js": `module.exports = (req, res) => { res.write("hello world"); };`})
	bundle, err := a.compile("hello.js")
	if err != nil {
		b.Fatal(err)
	}
	vm, err := bundle.NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer vm.Close()
	req := get("/hello")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := script.NewResponse(discardSink{}, 0, false)
		if err := vm.Serve(ctx, req, res); err != nil {
			b.Fatal(err)
		}
		_ = res.Finish()
	}
}

// BenchmarkServeQueryJSON touches the lazily built members and res.json.
func BenchmarkServeQueryJSON(b *testing.B) {
	t := &testing.T{}
	a := newApp(t, map[string]string{"q.js": `module.exports = (req, res) => { res.json({name: req.query.name, ua: req.headers["user-agent"], n: 1}); };`})
	vm, err := a.mustCompileB(b, "q.js").NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	req := get("/q?name=x&b=2")
	req.Params["HTTP_USER_AGENT"] = "bench"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := script.NewResponse(discardSink{}, 0, false)
		if err := vm.Serve(context.Background(), req, res); err != nil {
			b.Fatal(err)
		}
		_ = res.Finish()
	}
}

// BenchmarkServeCGI runs a CGI-style script (fresh runtime per request).
func BenchmarkServeCGI(b *testing.B) {
	t := &testing.T{}
	a := newApp(t, map[string]string{"c.js": `print("Content-Type: text/plain"); print(); write("hello");`})
	vm, err := a.mustCompileB(b, "c.js").NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	req := get("/c")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := script.NewResponse(discardSink{}, 0, false)
		if err := vm.Serve(context.Background(), req, res); err != nil {
			b.Fatal(err)
		}
		_ = res.Finish()
	}
}

// BenchmarkNewVM measures instantiating one VM from a compiled Bundle
// (top-level code included, compile excluded).
func BenchmarkNewVM(b *testing.B) {
	t := &testing.T{}
	a := newApp(t, map[string]string{"hello.js": `module.exports = (req, res) => { res.write("hello world"); };`})
	bundle := a.mustCompileB(b, "hello.js")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vm, err := bundle.NewVM(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		vm.Close()
	}
}

// TestIdleHeapPerVM reports the heap held by one idle VM (100 VMs made).
func TestIdleHeapPerVM(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	a := newApp(t, map[string]string{"hello.js": `module.exports = (req, res) => { res.write("hello world"); };`})
	bundle := a.mustCompile("hello.js")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	vms := make([]script.VM, 100)
	for i := range vms {
		vm, err := bundle.NewVM(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		vms[i] = vm
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perVM := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(len(vms))
	t.Logf("idle heap per VM: %d bytes (%.0f KiB)", perVM, float64(perVM)/1024)
	if perVM <= 0 {
		t.Errorf("heap per VM = %d, want > 0", perVM)
	}
	runtime.KeepAlive(vms)
}

func (a *app) mustCompileB(b *testing.B, entry string) script.Bundle {
	bundle, err := a.compile(entry)
	if err != nil {
		b.Fatal(err)
	}
	return bundle
}

// freshRequest copies base's fields into a new Request (sharing Params), as
// the host makes one per request, so lazily parsed views are not reused.
func freshRequest(base *script.Request) *script.Request {
	return &script.Request{Params: base.Params, Method: base.Method, URI: base.URI, Path: base.Path,
		RawQuery: base.RawQuery, RemoteAddr: base.RemoteAddr, Body: base.Body}
}

// benchServe serves req through a handler-style VM of code b.N times, each
// request with its own sandbox.Context and Request, as the host does.
func benchServe(b *testing.B, code string, base *script.Request, want string) {
	b.Helper()
	t := &testing.T{}
	a := newApp(t, map[string]string{"app.js": code})
	vm, err := a.mustCompileB(b, "app.js").NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer vm.Close()
	s := &sink{}
	res := script.NewResponse(s, 0, false)
	if err := vm.Serve(context.Background(), freshRequest(base), res); err != nil {
		b.Fatal(err)
	}
	_ = res.Finish()
	if !strings.HasPrefix(s.body.String(), want) {
		b.Fatalf("body = %q, want prefix %q", s.body.String(), want)
	}
	parent := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx := sandbox.NewContext(parent, 0)
		res := script.NewResponse(discardSink{}, 0, false)
		if err := vm.Serve(ctx, freshRequest(base), res); err != nil {
			b.Fatal(err)
		}
		_ = res.Finish()
		ctx.Release()
	}
}

// BenchmarkServeHelloApp is apps/hello.js: req.query.name, res.header,
// res.write of a short string.
func BenchmarkServeHelloApp(b *testing.B) {
	code := `let hits = 0;
module.exports = function (req, res) {
  hits++;
  res.header("Content-Type", "text/plain");
  res.write("hello " + (req.query.name || "world") + " #" + hits);
};`
	benchServe(b, code, get("/hello?name=bench"), "hello bench #1")
}

// BenchmarkServeJSONAPI is a typical JSON API handler: it reads a header
// and the method, and returns an object (sent as JSON).
func BenchmarkServeJSONAPI(b *testing.B) {
	code := `module.exports = function (req, res) {
  const auth = req.headers["authorization"] || "";
  if (!auth.startsWith("Bearer ")) { res.status(401); return {error: "unauthorized"}; }
  return {ok: true, method: req.method, user: auth.slice(7), items: [1, 2, 3]};
};`
	req := get("/api/items")
	req.Params["HTTP_AUTHORIZATION"] = "Bearer alice"
	req.Params["HTTP_USER_AGENT"] = "bench"
	req.Params["HTTP_ACCEPT"] = "application/json"
	benchServe(b, code, req, `{"ok":true,"method":"GET","user":"alice"`)
}
