package js

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// fakeKV is an in-memory script.KV that records the contexts it was given.
type fakeKV struct {
	mu   sync.Mutex
	m    map[string]string
	ttls map[string]time.Duration
	ctxs []context.Context
}

func newFakeKV() *fakeKV { return &fakeKV{m: map[string]string{}, ttls: map[string]time.Duration{}} }

func (k *fakeKV) note(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ctxs = append(k.ctxs, ctx)
}

func (k *fakeKV) Get(ctx context.Context, key string) (string, bool, error) {
	k.note(ctx)
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *fakeKV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	k.note(ctx)
	if key == "fail" {
		return errors.New("store is down")
	}
	k.m[key], k.ttls[key] = value, ttl
	return nil
}

func (k *fakeKV) Delete(ctx context.Context, key string) error {
	k.note(ctx)
	delete(k.m, key)
	return nil
}

func (k *fakeKV) Incr(ctx context.Context, key string, n int64) (int64, error) {
	k.note(ctx)
	var cur int64
	for _, c := range k.m[key] {
		cur = cur*10 + int64(c-'0')
	}
	cur += n
	k.m[key] = itoa(cur)
	return cur, nil
}

func (k *fakeKV) CAS(ctx context.Context, key string, old *string, new string) (bool, error) {
	k.note(ctx)
	cur, ok := k.m[key]
	if (old == nil && ok) || (old != nil && (!ok || cur != *old)) {
		return false, nil
	}
	k.m[key] = new
	return true, nil
}

func (k *fakeKV) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	k.note(ctx)
	var out []string
	for key := range k.m {
		if strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

type ctxKey struct{}

func TestKV(t *testing.T) {
	kv := newFakeKV()
	a := newApp(t, map[string]string{"app.js": `module.exports = (req) => {
  switch (req.query.op) {
  case "set": kv.set("a", "1"); kv.set("b", 2, {ttl: 1.5}); kv.set("c:x", "3"); kv.set("c:y", "4"); return "ok";
  case "get": return JSON.stringify([kv.get("a"), kv.get("b"), kv.get("nope")]);
  case "incr": return JSON.stringify([kv.incr("n"), kv.incr("n", 5), typeof kv.incr("n", -1)]);
  case "cas": return JSON.stringify([kv.cas("new", null, "v"), kv.cas("new", null, "w"), kv.cas("new", "v", "w"), kv.cas("new", "v", "x"), kv.get("new")]);
  case "list": return JSON.stringify([kv.list("c:"), kv.list("", {limit: 2}), kv.list("zzz")]);
  case "delete": kv.delete("a"); kv.delete("never"); return String(kv.get("a"));
  case "fail": kv.set("fail", "x"); return "unreachable";
  case "object": kv.set("k", {a: 1}); return "unreachable";
  }
};`})
	a.opts.KV = kv
	vm := a.mustVM("app.js")
	tests := []struct{ op, want string }{
		{"set", "ok"},
		{"get", `["1","2",null]`},
		{"incr", `[1,6,"number"]`},
		{"cas", `[true,false,true,false,"w"]`},
		{"list", `[["c:x","c:y"],["a","b"],[]]`},
		{"delete", "null"},
	}
	for _, tt := range tests {
		ctx := context.WithValue(context.Background(), ctxKey{}, tt.op)
		r := serveCtx(ctx, vm, get("/?op="+tt.op))
		if r.err != nil || r.body != tt.want {
			t.Errorf("%s: got %q (%v), want %q", tt.op, r.body, r.err, tt.want)
		}
		kv.mu.Lock()
		for _, c := range kv.ctxs {
			if c.Value(ctxKey{}) != tt.op {
				t.Errorf("%s: kv call did not get the request context", tt.op)
			}
		}
		kv.ctxs = nil
		kv.mu.Unlock()
	}
	if kv.ttls["b"] != 1500*time.Millisecond || kv.ttls["a"] != 0 {
		t.Errorf("ttls = %v", kv.ttls)
	}
	if r := serve(vm, get("/?op=fail")); r.err == nil || !strings.Contains(r.err.Error(), "kv.set: store is down") {
		t.Errorf("store error: %v", r.err)
	}
	if r := serve(vm, get("/?op=object")); r.err == nil || !strings.Contains(r.err.Error(), "TypeError") {
		t.Errorf("object value: %v", r.err)
	}
}

func TestServicesNotConfigured(t *testing.T) {
	tests := []struct{ name, code, want string }{
		{"kv", `kv.get("a")`, "kv is not configured"},
		{"fetch", `await fetch("https://example.com/")`, "not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": "module.exports = async () => {\n  " + tt.code + ";\n};"})
			r := serve(a.mustVM("app.js"), get("/"))
			if !errors.Is(r.err, script.ErrNotConfigured) || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrNotConfigured %q", r.err, tt.want)
			}
		})
	}
}

// fakeFetcher answers from a table and records requests.
type fakeFetcher struct {
	mu   sync.Mutex
	reqs []*script.FetchRequest
}

func (f *fakeFetcher) Fetch(ctx context.Context, req *script.FetchRequest) (*script.FetchResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	switch req.URL {
	case "https://api.example/json":
		return &script.FetchResponse{Status: 200, URL: req.URL, Headers: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}},
			Body: []byte(`{"hello":"world","n":[1,2]}`)}, nil
	case "https://api.example/echo":
		return &script.FetchResponse{Status: 201, URL: req.URL + "?final", Headers: http.Header{}, Body: append([]byte(req.Method+" "+req.Headers.Get("X-Token")+" "), req.Body...)}, nil
	case "https://api.example/missing":
		return &script.FetchResponse{Status: 404, URL: req.URL, Headers: http.Header{}, Body: []byte("nope")}, nil
	}
	return nil, errors.New("host not allowed")
}

func TestFetch(t *testing.T) {
	ff := &fakeFetcher{}
	a := newApp(t, map[string]string{"app.js": `module.exports = async (req) => {
  switch (req.query.t) {
  case "json": {
    const r = await fetch("https://api.example/json");
    const j = await r.json();
    return [r.status, r.ok, r.url, r.headers.get("content-type"), r.headers.get("X-MULTI"), r.headers.get("none"), j.hello, j.n.length].join("|");
  }
  case "post": {
    const r = await fetch("https://api.example/echo", {method: "put", headers: {"X-Token": "t0k"}, body: "payload"});
    return [r.status, r.ok, r.url, await r.text()].join("|");
  }
  case "bytes": {
    const r = await fetch("https://api.example/echo", {method: "POST", body: new Uint8Array([65, 66])});
    return await r.text();
  }
  case "404": {
    const r = await fetch("https://api.example/missing");
    return [r.status, r.ok, await r.text()].join("|");
  }
  case "badjson": {
    const r = await fetch("https://api.example/missing");
    try { await r.json(); return "parsed?"; } catch (e) { return e.name; }
  }
  case "denied":
    try { await fetch("https://evil.example/"); return "fetched?"; } catch (e) { return e.name + ": " + e.message; }
  case "uncaught":
    await fetch("https://evil.example/");
  }
};`})
	a.opts.Fetch = ff
	vm := a.mustVM("app.js")
	tests := []struct{ t, want string }{
		{"json", "200|true|https://api.example/json|application/json|a, b||world|2"},
		{"post", "201|true|https://api.example/echo?final|PUT t0k payload"},
		{"bytes", "POST  AB"},
		{"404", "404|false|nope"},
		{"badjson", "SyntaxError"},
		{"denied", "TypeError: fetch https://evil.example/: host not allowed"},
	}
	for _, tt := range tests {
		r := serve(vm, get("/?t="+tt.t))
		if r.err != nil || r.body != tt.want {
			t.Errorf("%s: got %q (%v), want %q", tt.t, r.body, r.err, tt.want)
		}
	}
	r := serve(vm, get("/?t=uncaught"))
	var se *script.ScriptError
	if !errors.As(r.err, &se) || !strings.Contains(se.Error(), "host not allowed") {
		t.Errorf("uncaught fetch error: %v", r.err)
	}
}

func TestLogAndConsole(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = () => {
  log("plain", 1, {a: [1]});
  console.log("c-log");
  console.info("c-info");
  console.warn("c-warn");
  console.error("c-error", new Error("oops"));
  console.debug("c-debug");
  return "ok";
};`})
	vm := a.mustVM("app.js")
	if r := serve(vm, get("/")); r.err != nil {
		t.Fatal(r.err)
	}
	logs := a.logs.String()
	for _, want := range []string{
		`level=INFO msg="plain 1 {\"a\":[1]}"`,
		`level=INFO msg=c-log`,
		`level=INFO msg=c-info`,
		`level=WARN msg=c-warn`,
		`level=ERROR msg="c-error Error: oops`,
		`level=DEBUG msg=c-debug`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestCryptoBase64AndTime(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`crypto.sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`crypto.sha256(new Uint8Array([97, 98, 99]))`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`crypto.hmacSha256("key", "The quick brown fox jumps over the lazy dog")`, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
		{`base64.encode("héllo")`, "aMOpbGxv"},
		{`base64.decode("aMOpbGxv")`, "héllo"},
		{`base64.decode("aGk")`, "hi"},
		{`base64.decode("_-8")`, "\xef\xbf\xbd\xef\xbf\xbd"},
		{`Array.from(base64.decodeBytes("AP8=")).join()`, "0,255"},
		{`(() => { try { base64.decode("!!!"); } catch (e) { return e.name; } })()`, "TypeError"},
		{`new Date().toISOString()`, "2030-01-02T03:04:05.000Z"},
		{`Date.now()`, "1893553445000"},
	}
	code := "module.exports = (req) => {\n  switch (req.query.i) {\n"
	for i, tt := range tests {
		code += "  case \"" + itoa(int64(i)) + "\": return String(" + tt.expr + ");\n"
	}
	code += "  }\n};"
	a := newApp(t, map[string]string{"app.js": code})
	a.opts.Now = func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	vm := a.mustVM("app.js")
	for i, tt := range tests {
		r := serve(vm, get("/?i="+itoa(int64(i))))
		if r.err != nil || r.body != tt.want {
			t.Errorf("%s = %q (%v), want %q", tt.expr, r.body, r.err, tt.want)
		}
	}
}
