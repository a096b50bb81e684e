package js

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

func TestTimersInHandlers(t *testing.T) {
	a := newApp(t, map[string]string{
		"h.js": `module.exports = async (req, res) => {
  const order = [];
  await new Promise((resolve) => {
    setTimeout(() => order.push("b"), 20);
    setTimeout((x, y) => order.push(x + y), 0, "a", "!");
    const cancelled = setTimeout(() => order.push("never"), 5);
    clearTimeout(cancelled);
    let n = 0;
    const iv = setInterval(() => { order.push("i" + (++n)); if (n === 3) { clearInterval(iv); resolve(); } }, 30);
    queueMicrotask(() => order.push("micro"));
  });
  return order.join(",");
};`,
		"w.mjs": `export default {
  async fetch(request) {
    const s = AbortSignal.timeout(10);
    await new Promise((r) => s.addEventListener("abort", r));
    const waited = await new Promise((r) => setTimeout(() => r("slept"), 10));
    return new Response(waited + " " + s.reason.name);
  },
};`,
		"never.js":  `module.exports = async () => { await new Promise(() => {}); };`,
		"throws.js": `module.exports = async () => { await new Promise(() => setTimeout(() => { throw new Error("boom in timer"); }, 1)); };`,
		"cgi.js":    `write("Content-Type: text/plain\n\n"); setTimeout(() => write("late"), 10); write("early ");`,
		"top.js": `let err = ""; try { setTimeout(() => {}, 1); } catch (e) { err = e.name + ": " + e.message; }
module.exports = () => err;`,
		"bad.js": `module.exports = () => { try { setTimeout("1+1", 1); } catch (e) { return e.name; } return "evaluated"; };`,
	})
	vm := a.mustVM("h.js")
	for i := 0; i < 2; i++ { // the VM is reused
		got := serve(vm, get("/"))
		if got.err != nil || got.body != "micro,a!,b,i1,i2,i3" {
			t.Errorf("handler: %q %v", got.body, got.err)
		}
	}
	if got := serve(a.mustVM("w.mjs"), get("/")); got.err != nil || got.body != "slept TimeoutError" {
		t.Errorf("workers: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("never.js"), get("/")); got.err == nil || !strings.Contains(got.err.Error(), "never settled") {
		t.Errorf("never: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("throws.js"), get("/")); got.err == nil || !strings.Contains(got.err.Error(), "boom in timer") {
		t.Errorf("throws: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("cgi.js"), get("/")); got.err != nil || got.body != "early late" {
		t.Errorf("cgi: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("top.js"), get("/")); !strings.HasPrefix(got.body, "TypeError: setTimeout: timers belong to a request") {
		t.Errorf("top level: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("bad.js"), get("/")); got.body != "TypeError" {
		t.Errorf("string callback: %q %v", got.body, got.err)
	}
}

// Timers left pending when the request is done are dropped: they never run
// in a later request.
func TestTimersDroppedWithTheRequest(t *testing.T) {
	a := newApp(t, map[string]string{"h.js": `let ran = 0;
module.exports = (req) => {
  if (req.query.set) { setTimeout(() => ran++, 0); setInterval(() => ran++, 1); return "set"; }
  return new Promise((r) => setTimeout(() => r("ran=" + ran), 20));
};`})
	vm := a.mustVM("h.js")
	if got := serve(vm, get("/?set=1")); got.body != "set" {
		t.Fatalf("set: %q %v", got.body, got.err)
	}
	if got := serve(vm, get("/")); got.err != nil || got.body != "ran=0" {
		t.Errorf("later request: %q %v", got.body, got.err)
	}
}

// A timer storm is bounded by a count; a wait past the request's end stops
// at the end (deadline or client gone).
func TestTimersBounded(t *testing.T) {
	a := newApp(t, map[string]string{
		"storm.js": `module.exports = () => { let i = 0; try { for (;;) { setTimeout(() => {}, 1e9); i++; } } catch (e) { return e.name + " " + i; } };`,
		"churn.js": `module.exports = () => { for (let i = 0; i < 200000; i++) clearTimeout(setTimeout(() => {}, 1)); return "ok"; };`,
		"long.js":  `module.exports = () => new Promise((r) => setTimeout(r, 3600e3));`,
		"spin.js":  `module.exports = () => new Promise(() => setInterval(() => {}, 0));`,
	})
	if got := serve(a.mustVM("storm.js"), get("/")); got.body != "RangeError 10000" {
		t.Errorf("storm: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("churn.js"), get("/")); got.body != "ok" {
		t.Errorf("churn: %q %v", got.body, got.err)
	}
	for _, name := range []string{"long.js", "spin.js"} {
		vm := a.mustVM(name)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		got := serveCtx(ctx, vm, get("/"))
		cancel()
		if got.err == nil || !strings.Contains(got.err.Error(), "deadline") {
			t.Errorf("%s: %q %v, want the deadline", name, got.body, got.err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		if got := serveCtx(ctx, a.mustVM(name), get("/")); got.err == nil || !strings.Contains(got.err.Error(), "canceled") {
			t.Errorf("%s: %q %v, want the cancel", name, got.body, got.err)
		}
	}
}

// flushSink records what was sent when Flush was called.
type flushSink struct {
	mu      sync.Mutex
	status  int
	header  http.Header
	body    bytes.Buffer
	flushed chan string
	onFlush func() // called at Flush
}

func (s *flushSink) WriteHeader(status int, h http.Header) error {
	s.status, s.header = status, h.Clone()
	return nil
}
func (s *flushSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body.Write(p)
}
func (s *flushSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushed <- s.body.String()
	if s.onFlush != nil {
		s.onFlush()
	}
	return nil
}

// ctx.waitUntil work runs after the response went out: the sink is flushed
// with the whole response before the work's timer has fired, and the
// work's kv write is there when Serve returns.
func TestWaitUntilAfterResponse(t *testing.T) {
	a := newApp(t, map[string]string{"w.mjs": `export default {
  async fetch(request, env, ctx) {
    ctx.waitUntil(new Promise((r) => setTimeout(r, 50)).then(() => env.KV.put("after", "done")));
    ctx.waitUntil(Promise.reject(new Error("bad work")));
    return new Response("answer");
  },
};`})
	store := newFakeKV()
	a.opts.KV = store
	vm := a.mustVM("w.mjs")
	s := &flushSink{flushed: make(chan string, 1)}
	s.onFlush = func() {
		if _, ok, _ := store.Get(context.Background(), "after"); ok {
			t.Error("the waitUntil work ran before the response was flushed")
		}
	}
	res := script.NewResponse(s, 0, false)
	if err := vm.Serve(context.Background(), get("/"), res); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-s.flushed:
		if body != "answer" {
			t.Errorf("flushed %q", body)
		}
	default:
		t.Fatal("the response was not flushed before the waitUntil work")
	}
	if s.header.Get("Content-Length") != "6" {
		t.Errorf("head %v", s.header)
	}
	if v, ok, _ := store.Get(context.Background(), "after"); !ok || v != "done" {
		t.Errorf("waitUntil work: %q %v", v, ok)
	}
	if !strings.Contains(a.logs.String(), "bad work") {
		t.Errorf("the rejection is not logged: %s", a.logs.String())
	}
}
