package js

import (
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/sandbox"
)

// evalJS serves GET / to a handler returning String(expr).
func evalJS(t *testing.T, expr string, limits ...sandbox.Limits) (string, error) {
	t.Helper()
	a := newApp(t, map[string]string{"app.js": "module.exports = () => String((() => {" + expr + "})());"})
	for _, l := range limits {
		l.Timeout = a.opts.Limits.Timeout
		a.opts.Limits = l
	}
	r := serve(a.mustVM("app.js"), get("/"))
	return r.body, r.err
}

// TestWebGlobals checks the web globals against known vectors: RFC 4648
// base64, the WHATWG encoding of lone surrogates, UTF-8 decoding with
// replacement, structuredClone of each supported type.
func TestWebGlobals(t *testing.T) {
	tests := []struct{ code, want string }{
		// TextEncoder: lone surrogates become U+FFFD (EF BF BD).
		{`return Array.from(new TextEncoder().encode("a\uD800b\uDC00\uD83D\uDE00")).join(",")`, "97,239,191,189,98,239,191,189,240,159,152,128"},
		{`return new TextEncoder().encoding`, "utf-8"},
		{`const d = new Uint8Array(5); const r = new TextEncoder().encodeInto("a€😀", d); return [r.read, r.written, Array.from(d)].join("|")`, "2|4|97,226,130,172,0"},
		{`return new TextDecoder().decode(new Uint8Array([0xEF,0xBB,0xBF,104,0xC3,0xA4,0xF0,0x9F,0x98]))`, "hä\uFFFD"},
		{`return new TextDecoder("utf-8", {ignoreBOM: true}).decode(new Uint8Array([0xEF,0xBB,0xBF,104])).length`, "2"},
		{`try { new TextDecoder("utf-8", {fatal: true}).decode(new Uint8Array([0xFF])) } catch (e) { return e.name }`, "TypeError"},
		{`try { new TextDecoder("latin1") } catch (e) { return e.name }`, "RangeError"},
		{`return new TextDecoder().decode(new TextEncoder().encode("héllo").buffer)`, "héllo"},
		{`return new TextDecoder().decode(new DataView(new Uint8Array([0,104,105]).buffer, 1))`, "hi"},
		{`return new TextDecoder().decode()`, ""},
		// The stream option: a sequence split across calls, a BOM only
		// at the start, an incomplete end flushed as U+FFFD.
		{`const d = new TextDecoder(); const b = new TextEncoder().encode("a€😀"); let s = ""; for (const x of b) s += d.decode(new Uint8Array([x]), {stream: true}) + "|"; return s + d.decode()`, "a|||€||||😀|"},
		{`const d = new TextDecoder(); return [d.decode(new Uint8Array([0xEF, 0xBB]), {stream: true}), d.decode(new Uint8Array([0xBF, 104, 0xEF, 0xBB, 0xBF]), {stream: true}).length, d.decode(new Uint8Array([0xE2, 0x82]), {stream: true}), d.decode()].join(",")`, ",2,,�"},
		{`const d = new TextDecoder("utf-8", {fatal: true}); d.decode(new Uint8Array([0xE2]), {stream: true}); try { d.decode(); } catch (e) { return e.name + " " + d.decode(new Uint8Array([104])); }`, "TypeError h"},
		// atob / btoa (RFC 4648 §10 and forgiving-base64).
		{`return ["", "f", "fo", "foo", "foob", "fooba", "foobar"].map(btoa).join(",")`, ",Zg==,Zm8=,Zm9v,Zm9vYg==,Zm9vYmE=,Zm9vYmFy"},
		{`return [atob("Zm9vYmFy"), atob(" Zm9v\nYg "), atob("Zg"), atob("YR==")].join(",")`, "foobar,foob,f,a"},
		{`return btoa("\xff\xfe")`, "//4="},
		{`return atob("//4=").charCodeAt(0)`, "255"},
		{`try { atob("Zg=") } catch (e) { return e.name + " " + e.code + " " + (e instanceof DOMException) }`, "InvalidCharacterError 5 true"},
		{`try { btoa("€") } catch (e) { return e.name }`, "InvalidCharacterError"},
		// crypto.
		{`const a = new Uint32Array(8); crypto.getRandomValues(a); return a.some((x) => x !== 0)`, "true"},
		{`const a = new Uint8Array(16); return crypto.getRandomValues(a) === a`, "true"},
		{`try { crypto.getRandomValues(new Uint8Array(65537)) } catch (e) { return e.name }`, "QuotaExceededError"},
		{`try { crypto.getRandomValues(new Float64Array(2)) } catch (e) { return e.name }`, "TypeMismatchError"},
		{`return /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID())`, "true"},
		// structuredClone.
		{`const o = {a: 1, n: {b: [1, 2]}}; o.self = o; const c = structuredClone(o); return [c !== o, c.self === c, c.n.b[1], c.n !== o.n].join()`, "true,true,2,true"},
		{`const m = new Map([[1, {x: 1}]]); const c = structuredClone({m, s: new Set([1, 2])}); return [c.m.get(1).x, c.s.has(2), c.m instanceof Map].join()`, "1,true,true"},
		{`const d = new Date(5); const c = structuredClone([d, /a+/gi]); return [c[0].getTime(), c[0] !== d, c[1].source, c[1].flags].join()`, "5,true,a+,gi"},
		{`const u = new Uint16Array([1, 2, 3]); const c = structuredClone({u, v: u}); return [c.u[2], c.u === c.v, c.u.buffer !== u.buffer].join()`, "3,true,true"},
		{`const e = structuredClone(new RangeError("boom")); return [e instanceof RangeError, e.message].join()`, "true,boom"},
		{`try { structuredClone({f() {}}) } catch (e) { return e.name }`, "DataCloneError"},
		{`try { structuredClone(Symbol("s")) } catch (e) { return e.name }`, "DataCloneError"},
		{`try { structuredClone(Promise.resolve()) } catch (e) { return e.name }`, "DataCloneError"},
		{`return structuredClone("x") + structuredClone(1)`, "x1"},
		// AbortController / AbortSignal.
		{`const c = new AbortController(); const seen = []; c.signal.onabort = (e) => seen.push("on:" + e.type); c.signal.addEventListener("abort", () => seen.push("l")); c.abort("why"); c.abort("again"); return [c.signal.aborted, c.signal.reason, seen.join("+")].join()`, "true,why,on:abort+l"},
		{`const c = new AbortController(); c.abort(); try { c.signal.throwIfAborted() } catch (e) { return e.name }`, "AbortError"},
		{`const s = AbortSignal.abort(42); return [s.aborted, s.reason].join()`, "true,42"},
		{`const a = new AbortController(), b = new AbortController(); const s = AbortSignal.any([a.signal, b.signal]); b.abort("b"); return [s.aborted, s.reason].join()`, "true,b"},
		{`try { new AbortSignal() } catch (e) { return e.name }`, "TypeError"},
		{`return new AbortController().signal.aborted`, "false"},
		// Overwritable like any global.
		{`globalThis.atob = () => "mine"; return atob("x")`, "mine"},
	}
	for _, tt := range tests {
		got, err := evalJS(t, tt.code)
		if err != nil {
			t.Errorf("%s: %v", tt.code, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.code, got, tt.want)
		}
	}
}

// TestWebGlobals_Hostile: each web global stays inside its bound.
func TestWebGlobals_Hostile(t *testing.T) {
	limits := sandbox.Limits{MaxStringSize: 1 << 20}
	tests := []struct{ code, want string }{
		// TextDecoder and atob take at most MaxStringSize bytes, as the
		// typed arrays and strings they read cannot be larger.
		{`if (new TextDecoder().decode(new Uint8Array(1 << 20).fill(255)).length === 1 << 20) throw new Error("ok")`, "ok"},
		{`return new TextEncoder().encode("x".repeat(1 << 20) + "y")`, "TextEncoder.encode"},
		{`return btoa("x".repeat(900000))`, "btoa"},
		{`if (atob("A".repeat(1 << 20)).length === 786432) throw new Error("ok")`, "ok"},
		{`const b = new ArrayBuffer(800000); structuredClone([b, b.slice(0)])`, "DataCloneError"},
		{`const c = new AbortController(); for (let i = 0; i < 20000; i++) c.signal.addEventListener("abort", () => i)`, "listeners"},
		{`for (;;) setTimeout(() => {}, 1e9)`, "more than 10000 timers"},
		{`for (;;) setInterval(() => {}, 0)`, "more than 10000 timers"},
	}
	for _, tt := range tests {
		_, err := evalJS(t, tt.code, limits)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.code, err, tt.want)
		}
	}
	// A deep chain and a wide graph end in a DataCloneError past
	// MaxStringSize/16 values (4096 here, so the test is quick under -race).
	small := sandbox.Limits{MaxStringSize: 1 << 16}
	for _, code := range []string{
		`let o = {}; const root = o; for (let i = 0; i < 5000; i++) { o = o.n = {} } structuredClone(root)`,
		`const a = []; for (let i = 0; i < 2500; i++) a.push({i, j: {}}); structuredClone(a)`,
		`const m = new Map(); for (let i = 0; i < 5000; i++) m.set(i, i); structuredClone(m)`,
	} {
		_, err := evalJS(t, code, small)
		if err == nil || !strings.Contains(err.Error(), "DataCloneError") {
			t.Errorf("%s: error %v, want a DataCloneError", code, err)
		}
	}
	if got, err := evalJS(t, `let o = {}; const root = o; for (let i = 0; i < 4000; i++) { o = o.n = {} } o.n = root; const c = structuredClone(root); let p = c; for (let i = 0; i <= 4000; i++) p = p.n; return p === c`, small); err != nil || got != "true" {
		t.Errorf("a 4000-deep cycle: %q, %v", got, err)
	}
}
