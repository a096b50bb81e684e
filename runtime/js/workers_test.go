package js

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestWorkersFetchHandler(t *testing.T) {
	a := newApp(t, map[string]string{
		"w.ts": `interface Env { GREETING: string }
export default {
  async fetch(request: Request, env: Env, ctx: any): Promise<Response> {
    const path = request.url.slice(request.url.indexOf("/", 8));
    if (path.startsWith("/json")) {
      const body = await request.json();
      return Response.json({ got: body, method: request.method, ct: request.headers.get("Content-Type") });
    }
    if (path === "/redirect") return Response.redirect("https://example.com/x", 301);
    if (path === "/cookies") {
      const h = new Headers();
      h.append("Set-Cookie", "a=1");
      h.append("set-cookie", "b=2");
      h.set("X-Custom", "yes");
      return new Response("c", { status: 201, headers: h });
    }
    if (path === "/bytes") return new Response(new Uint8Array([104, 105]));
    if (path === "/null") return new Response(null, { status: 204 });
    if (path.startsWith("/env")) return new Response(env.GREETING + " " + request.url);
    if (path === "/wrong") return "not a response" as any;
    if (path === "/throw") throw new Error("handler failed");
    return new Response("not found", { status: 404 });
  },
};`,
	})
	a.opts.Env = map[string]string{"GREETING": "hi"}
	vm := a.mustVM("w.ts")

	r := post("/json", "application/json", []byte(`{"a":[1,2]}`))
	got := serve(vm, r)
	if got.err != nil || got.status != 200 || got.body != `{"got":{"a":[1,2]},"method":"POST","ct":"application/json"}` {
		t.Errorf("/json: %d %q %v", got.status, got.body, got.err)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/json content-type %q", ct)
	}
	got = serve(vm, get("/redirect"))
	if got.status != 301 || got.header.Get("Location") != "https://example.com/x" {
		t.Errorf("/redirect: %d %v", got.status, got.header)
	}
	got = serve(vm, get("/cookies"))
	if got.status != 201 || strings.Join(got.header.Values("Set-Cookie"), "|") != "a=1|b=2" || got.header.Get("X-Custom") != "yes" || got.body != "c" {
		t.Errorf("/cookies: %d %v %q", got.status, got.header, got.body)
	}
	if got = serve(vm, get("/bytes")); got.body != "hi" {
		t.Errorf("/bytes: %q", got.body)
	}
	if got = serve(vm, get("/null")); got.status != 204 || got.body != "" {
		t.Errorf("/null: %d %q", got.status, got.body)
	}
	req := get("/env?q=1")
	req.Params["HTTP_HOST"] = "Example.org:8080"
	req.Params["HTTPS"] = "on"
	if got = serve(vm, req); got.body != "hi https://example.org:8080/env?q=1" {
		t.Errorf("/env: %q %v", got.body, got.err)
	}
	got = serve(vm, get("/wrong"))
	if got.err == nil || !strings.Contains(got.err.Error(), "returned a string, not a Response") {
		t.Errorf("/wrong: %v", got.err)
	}
	got = serve(vm, get("/throw"))
	var se *script.ScriptError
	if !errors.As(got.err, &se) || se.File != a.path("w.ts") || se.Line != 21 {
		t.Errorf("/throw: %v (%+v), want w.ts:21", got.err, se)
	}
	// A later request still works on the same VM.
	if got = serve(vm, get("/nope")); got.status != 404 {
		t.Errorf("/nope: %d %v", got.status, got.err)
	}
}

func TestRequestURL(t *testing.T) {
	cases := []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"HTTP_HOST": "a.example", "REQUEST_URI": "/p?q=1"}, "http://a.example/p?q=1"},
		{map[string]string{"SERVER_NAME": "s.example", "SERVER_PORT": "80", "REQUEST_URI": "/"}, "http://s.example/"},
		{map[string]string{"SERVER_NAME": "s.example", "SERVER_PORT": "443", "HTTPS": "on", "REQUEST_URI": "/x"}, "https://s.example/x"},
		{map[string]string{"SERVER_NAME": "s.example", "SERVER_PORT": "8443", "HTTPS": "on", "REQUEST_URI": "/x"}, "https://s.example:8443/x"},
		{map[string]string{"SERVER_NAME": "s.example", "SERVER_PORT": "443", "REQUEST_URI": "/x"}, "http://s.example:443/x"},
		{map[string]string{"HTTP_HOST": "evil/path", "SERVER_NAME": "s.example", "REQUEST_URI": "/x"}, "http://s.example/x"},
	}
	for _, c := range cases {
		if got := requestURL(&script.Request{Params: c.params}); got != c.want {
			t.Errorf("requestURL(%v) = %q, want %q", c.params, got, c.want)
		}
	}
}

func TestHeadersObject(t *testing.T) {
	a := newApp(t, map[string]string{"h.js": `module.exports = () => {
  const h = new Headers({"B": "2", "a": "1"});
  h.append("A", "3");
  h.append("Set-Cookie", "x=1"); h.append("Set-Cookie", "y=2");
  const out = [];
  for (const [k, v] of h) out.push(k + "=" + v);
  let bad = "";
  try { h.append("bad name", "v"); } catch (e) { bad = e.name; }
  let inj = "";
  try { h.set("x", "a\r\nInjected: 1"); } catch (e) { inj = e.name; }
  const r = new Response("x", {headers: [["K", "v"]]});
  return JSON.stringify([out, h.get("a"), h.has("B"), h.get("missing"), h.getSetCookie(), bad, inj, r.headers.get("k"),
    [...h.keys()].length, typeof Headers, Object.prototype.toString.call(h)]);
};`})
	got := serve(a.mustVM("h.js"), get("/"))
	want := `[["a=1, 3","b=2","set-cookie=x=1","set-cookie=y=2"],"1, 3",true,null,["x=1","y=2"],"TypeError","TypeError","v",4,"function","[object Headers]"]`
	if got.err != nil || got.body != want {
		t.Errorf("got  %s %v\nwant %s", got.body, got.err, want)
	}
}

func TestWorkersKVAndWaitUntil(t *testing.T) {
	a := newApp(t, map[string]string{"kv.mjs": `export default {
  async fetch(request, env, ctx) {
    await env.KV.put("user:1", JSON.stringify({name: "ann"}));
    await env.KV.put("user:2", "b", {expirationTtl: 120});
    await env.KV.put("user:3", "c");
    await env.KV.put("other", "d");
    const u = await env.KV.get("user:1", "json");
    const t = await env.KV.get("user:2", {type: "text"});
    const miss = await env.KV.get("nope");
    const p1 = await env.KV.list({prefix: "user:", limit: 2});
    const p2 = await env.KV.list({prefix: "user:", cursor: p1.cursor});
    await env.KV.delete("other");
    let done = false;
    ctx.waitUntil((async () => { await env.KV.put("after", "yes"); done = true; })());
    ctx.passThroughOnException();
    return Response.json({u, t, miss, p1: p1.keys.map(k => k.name), c1: p1.list_complete,
      p2: p2.keys.map(k => k.name), c2: p2.list_complete, other: await env.KV.get("other")});
  }
};`})
	store := newFakeKV()
	a.opts.KV = store
	got := serve(a.mustVM("kv.mjs"), get("/"))
	want := `{"u":{"name":"ann"},"t":"b","miss":null,"p1":["user:1","user:2"],"c1":false,"p2":["user:3"],"c2":true,"other":null}`
	if got.err != nil || got.body != want {
		t.Errorf("got  %s %v\nwant %s", got.body, got.err, want)
	}
	if v, ok, _ := store.Get(context.Background(), "after"); !ok || v != "yes" {
		t.Errorf("waitUntil did not run: %q %v", v, ok)
	}
}

// One Headers object cannot grow past its bounds, so get() joining every
// value cannot build a string past the limits.
func TestHeadersBounded(t *testing.T) {
	a := newApp(t, map[string]string{"h.js": `module.exports = () => {
  const big = "x".repeat(100000);
  const h = new Headers();
  try { for (let i = 0; i < 1000; i++) h.append("a", big); } catch (e) { return e.name + " " + h.get("a").length; }
  return "no limit";
};`})
	got := serve(a.mustVM("h.js"), get("/"))
	if got.err != nil || !strings.HasPrefix(got.body, "RangeError ") {
		t.Errorf("got %q %v", got.body, got.err)
	}
}

func TestURLAndSearchParams(t *testing.T) {
	a := newApp(t, map[string]string{"u.mjs": `export default {
  fetch(request) {
    const u = new URL(request.url);
    const r = new URL("../b/c?x=1#h", "HTTP://Example.COM:80/a/d/e");
    const p = new URLSearchParams("a=1&b=x+y&a=%20z");
    p.append("c", "&=");
    u.searchParams.set("added", "1 2");
    let bad = "";
    try { new URL("/relative"); } catch (e) { bad = e.name; }
    return Response.json({
      path: u.pathname, q: u.searchParams.get("q"), host: u.host, origin: u.origin, href: u.href,
      r: r.href, rh: r.hostname, rp: r.port, rs: r.search, hash: r.hash,
      all: p.getAll("a"), ps: p.toString(), size: p.size, bad, can: URL.canParse("nope"),
      entries: [...new URLSearchParams({k: "v", w: "x"})],
      form: new Response(new URLSearchParams("z=1")).headers.get("content-type"),
    });
  }
};`})
	req := get("/path/x?q=v")
	req.Params["HTTP_HOST"] = "h.example"
	got := serve(a.mustVM("u.mjs"), req)
	want := `{"path":"/path/x","q":"v","host":"h.example","origin":"http://h.example","href":"http://h.example/path/x?q=v&added=1+2",` +
		`"r":"http://example.com/a/b/c?x=1#h","rh":"example.com","rp":"","rs":"?x=1","hash":"#h",` +
		`"all":["1"," z"],"ps":"a=1&b=x+y&a=+z&c=%26%3D","size":4,"bad":"TypeError","can":false,` +
		`"entries":[["k","v"],["w","x"]],"form":"application/x-www-form-urlencoded;charset=UTF-8"}`
	if got.err != nil || got.body != want {
		t.Errorf("got  %s %v\nwant %s", got.body, got.err, want)
	}
}

// BenchmarkServeHello compares the Workers form of hello (TypeScript,
// Request/Response objects) with today's module.exports hello.
func BenchmarkServeHelloWorkers(b *testing.B) {
	for _, c := range []struct{ name, file, code string }{
		{"module.exports", "h.js", `module.exports = (req, res) => "hello";`},
		{"workers-ts", "h.ts", `export default { fetch(request: Request): Response { return new Response("hello"); } };`},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.code), 0o644); err != nil {
				b.Fatal(err)
			}
			bundle, err := New().Compile(script.Source{App: "b", Dir: dir, Entry: filepath.Join(dir, c.file)}, script.Options{})
			if err != nil {
				b.Fatal(err)
			}
			vm, err := bundle.NewVM(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer vm.Close()
			req := get("/")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := serve(vm, req); got.body != "hello" {
					b.Fatalf("body %q %v", got.body, got.err)
				}
			}
		})
	}
}

// A Request kept after its request ended throws instead of showing memory
// the host reuses for a later request.
func TestWorkersRequestKeptAfterItsRequest(t *testing.T) {
	a := newApp(t, map[string]string{"k.mjs": `let kept;
export default {
  async fetch(request) {
    if (!kept) { kept = request; return new Response("kept"); }
    const out = [];
    for (const f of [() => kept.headers.get("x"), () => kept.text(), () => new Request(kept)]) {
      try { await f(); out.push("no error"); } catch (e) { out.push(e.message); }
    }
    return new Response(out.join("|") + "|" + kept.url);
  }
};`})
	vm := a.mustVM("k.mjs")
	first := post("/first", "text/plain", []byte("secret body"))
	first.Params["HTTP_X"] = "secret header"
	serve(vm, first)
	got := serve(vm, get("/second"))
	if got.err != nil || got.body != "the request has ended|the request has ended|the request has ended|http://localhost/first" {
		t.Errorf("got %q %v", got.body, got.err)
	}
}
