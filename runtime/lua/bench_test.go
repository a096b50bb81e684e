package lua

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// nopSink discards a response.
type nopSink struct{}

func (nopSink) WriteHeader(int, http.Header) error { return nil }
func (nopSink) Write(p []byte) (int, error)        { return len(p), nil }

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
	v, err := benchApp(b, helloApp).NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := request("GET", "/hello?name=bench", "", nil)
		res := script.NewResponse(nopSink{}, 0, false)
		if err := v.Serve(ctx, r, res); err != nil {
			b.Fatal(err)
		}
		res.Finish()
	}
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
	v, err := benchApp(b, `io.write("Content-Type: text/plain\n\nhello ", os.getenv("QUERY_STRING"))`).NewVM(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := request("GET", "/hello?name=bench", "", nil)
		res := script.NewResponse(nopSink{}, 0, false)
		if err := v.Serve(ctx, r, res); err != nil {
			b.Fatal(err)
		}
		res.Finish()
	}
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
