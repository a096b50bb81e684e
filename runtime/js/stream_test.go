package js

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

func TestReadableStream(t *testing.T) {
	tests := []struct{ code, want string }{
		// The test handlers are synchronous: an async body's promise is
		// awaited by the handler wrapper below.
		{`const s = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } }); const r = s.getReader(); const out = []; return (async () => { for (;;) { const {value, done} = await r.read(); if (done) break; out.push(value); } return out.join() + " " + s.locked; })()`, "a,b true"},
		{`let n = 0; const s = new ReadableStream({ pull(c) { n++; if (n > 3) c.close(); else c.enqueue(n); } }); return (async () => { const out = []; const r = s.getReader(); for (;;) { const x = await r.read(); if (x.done) break; out.push(x.value); } r.releaseLock(); return out.join() + " " + s.locked; })()`, "1,2,3 false"},
		{`const s = new ReadableStream({ start(c) { c.error(new RangeError("bad")); } }); return s.getReader().read().then(() => "read", (e) => e.name)`, "RangeError"},
		{`let why; const s = new ReadableStream({ cancel(r) { why = r; } }); return s.cancel("enough").then(() => why)`, "enough"},
		{`const s = new ReadableStream(); s.getReader(); try { s.getReader(); } catch (e) { return e.name; }`, "TypeError"},
		{`const s = new ReadableStream({ start(c) { setTimeout(() => { c.enqueue("late"); c.close(); }, 10); } }); return new Response(s).text()`, "late"},
		{`return new Blob(["xyz"]).stream().getReader().read().then((x) => x.value.length)`, "3"},
		{`const r = new Response("body"); const b = r.body; return b.getReader().read().then((x) => new TextDecoder().decode(x.value) + " " + r.bodyUsed)`, "body false"},
	}
	for _, tt := range tests {
		a := newApp(t, map[string]string{"app.js": "module.exports = () => Promise.resolve((() => {" + tt.code + "})()).then(String);"})
		got := serve(a.mustVM("app.js"), get("/"))
		if got.err != nil || got.body != tt.want {
			t.Errorf("%s\n got %q %v\nwant %q", tt.code, got.body, got.err, tt.want)
		}
	}
}

// for await over a stream in an ES module (esbuild lowers it for goja).
func TestReadableStreamForAwait(t *testing.T) {
	a := newApp(t, map[string]string{"w.ts": `export default {
  async fetch(request: Request): Promise<Response> {
    const s = new ReadableStream({ start(c) { c.enqueue("x"); c.enqueue("y"); c.close(); } });
    const out: string[] = [];
    for await (const chunk of s) out.push(chunk);
    return new Response(out.join("+"));
  },
};`})
	if got := serve(a.mustVM("w.ts"), get("/")); got.err != nil || got.body != "x+y" {
		t.Errorf("for await: %q %v", got.body, got.err)
	}
}

// A stream body goes out chunk by chunk: the sink is flushed after each
// chunk, before the next one is made.
func TestStreamedResponse(t *testing.T) {
	a := newApp(t, map[string]string{"w.mjs": `export default {
  fetch(request) {
    let i = 0;
    const enc = new TextEncoder();
    const body = new ReadableStream({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 5));
        if (++i > 3) { c.close(); return; }
        c.enqueue(enc.encode("chunk" + i + ";"));
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  },
};`,
		"bad.mjs":   `export default { fetch() { return new Response(new ReadableStream({ start(c) { c.enqueue({}); } })); } };`,
		"never.mjs": `export default { fetch() { return new Response(new ReadableStream({ pull(c) { return new Promise((r) => setTimeout(r, 3600e3)); } })); } };`,
		"spin.mjs":  `export default { fetch() { return new Response(new ReadableStream({ pull(c) { c.enqueue("x"); } })); } };`,
	})
	s := &flushSink{flushed: make(chan string, 10)}
	res := script.NewResponse(s, 0, false)
	if err := a.mustVM("w.mjs").Serve(context.Background(), get("/"), res); err != nil {
		t.Fatal(err)
	}
	var flushes []string
	for len(s.flushed) > 0 {
		flushes = append(flushes, <-s.flushed)
	}
	if strings.Join(flushes, "|") != "chunk1;|chunk1;chunk2;|chunk1;chunk2;chunk3;" || s.header.Get("Content-Length") != "" || s.header.Get("Content-Type") != "text/plain" {
		t.Errorf("flushes %q, head %v", flushes, s.header)
	}
	if got := serve(a.mustVM("bad.mjs"), get("/")); got.err == nil || !strings.Contains(got.err.Error(), "must be a Uint8Array or a string") {
		t.Errorf("bad chunk: %v", got.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if got := serveCtx(ctx, a.mustVM("never.mjs"), get("/")); got.err == nil || !strings.Contains(got.err.Error(), "deadline") {
		t.Errorf("never: %v", got.err)
	}
	// An endless stream is cut at max_response.
	a.opts.Limits = sandbox.Limits{Timeout: 5 * time.Second, MaxResponse: 1 << 16}
	vm := a.mustVM("spin.mjs")
	sink2 := &sink{}
	res = script.NewResponse(sink2, 1<<16, false)
	err := vm.Serve(context.Background(), get("/"), res)
	if err == nil || !strings.Contains(err.Error(), "max_response") || sink2.body.Len() > 1<<16 {
		t.Errorf("endless stream: %v, %d bytes", err, sink2.body.Len())
	}
}

func TestReadableStreamBounded(t *testing.T) {
	limits := sandbox.Limits{MaxStringSize: 1 << 20}
	for _, tt := range []struct{ code, want string }{
		{`new ReadableStream({ start(c) { for (;;) c.enqueue(1); } }); return new Promise(() => {})`, "chunks queued"},
		{`new ReadableStream({ start(c) { for (;;) c.enqueue(new Uint8Array(1 << 18)); } }); return new Promise(() => {})`, "bytes queued"},
	} {
		a := newApp(t, map[string]string{"app.js": "module.exports = () => { try { (() => {" + tt.code + "})(); } catch (e) { return e.message; } };"})
		l := limits
		l.Timeout = 5 * time.Second
		a.opts.Limits = l
		got := serve(a.mustVM("app.js"), get("/"))
		if !strings.Contains(got.body, tt.want) && (got.err == nil || !strings.Contains(got.err.Error(), tt.want)) {
			t.Errorf("%s: %q %v, want %q", tt.code, got.body, got.err, tt.want)
		}
	}
}

// request.body is a stream of the body read whole; getting it uses the
// body up. A stream cannot be a Request body.
func TestRequestBodyStream(t *testing.T) {
	a := newApp(t, map[string]string{"w.mjs": `export default {
  async fetch(request) {
    const chunks = [];
    for await (const c of request.body) chunks.push(new TextDecoder().decode(c));
    let again = "";
    try { await request.text(); } catch (e) { again = e.name; }
    let stream = "";
    try { new Request("https://x/", { method: "POST", body: new ReadableStream() }); } catch (e) { stream = e.name; }
    return new Response(chunks.join("") + " " + request.bodyUsed + " " + again + " " + stream);
  },
};`})
	if got := serve(a.mustVM("w.mjs"), post("/", "text/plain", []byte("payload"))); got.err != nil || got.body != "payload true TypeError TypeError" {
		t.Errorf("got %q %v", got.body, got.err)
	}
}
