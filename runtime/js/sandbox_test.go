package js

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

func TestInterruptByContext(t *testing.T) {
	tests := []struct {
		name string
		code string
		line int
	}{
		{"loop", "module.exports = () => {\n  let i = 0;\n  for (;;) { i++; }\n};", 3},
		{"loop after await", "module.exports = async () => {\n  await null;\n  let i = 0;\n  while (true) { i++; }\n};", 4},
		{"loop in catch", "module.exports = () => {\n  let i = 0;\n  for (;;) { try { for (;;) { i++; } } catch (e) {} }\n};", 3},
		{"loop in finally", "module.exports = () => {\n  try { throw 1 } finally { for (;;) {} }\n};", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			vm := a.mustVM("app.js")
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			r := serveCtx(ctx, vm, get("/"))
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want DeadlineExceeded", r.err)
			}
			var se *script.ScriptError
			if !errors.As(r.err, &se) || !se.Timeout() {
				t.Fatalf("err = %#v, want a timed-out ScriptError", r.err)
			}
			if se.File != a.path("app.js") || se.Line != tt.line {
				t.Errorf("location = %s, want app.js:%d", se.Location(), tt.line)
			}
			if vm.Healthy() {
				t.Errorf("VM still healthy after an interrupt")
			}
		})
	}
}

var errTestCause = errors.New("memory limit (test cause)")

func TestInterruptKeepsCause(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": "module.exports = () => { for (;;) {} };"})
	vm := a.mustVM("app.js")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errTestCause)
	r := serveCtx(ctx, vm, get("/"))
	if !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, errTestCause) {
		t.Fatalf("err = %v, want Canceled and the cause", r.err)
	}
	if !strings.Contains(r.err.Error(), errTestCause.Error()) {
		t.Errorf("message %q does not name the cause", r.err)
	}
	if vm.Healthy() {
		t.Errorf("VM healthy after interrupt")
	}
	if r := serve(vm, get("/")); r.err == nil {
		t.Errorf("unhealthy VM served a request")
	}
}

func TestNewVMTopLevelTimeout(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": "while (true) {}\nmodule.exports = () => 'x';"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := a.mustCompile("app.js").NewVM(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestVMReusableAfterQuickRequests(t *testing.T) {
	// A context cancelled after Serve returned must not poison the VM.
	a := newApp(t, map[string]string{"app.js": "module.exports = () => 'ok';"})
	vm := a.mustVM("app.js")
	for i := 0; i < 100; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		r := serveCtx(ctx, vm, get("/"))
		cancel()
		if r.err != nil || r.body != "ok" {
			t.Fatalf("request %d: %q %v", i, r.body, r.err)
		}
	}
	if !vm.Healthy() {
		t.Errorf("VM unhealthy")
	}
}

func TestStackOverflow(t *testing.T) {
	tests := []struct{ name, code string }{
		{"recursion", `function f(n) { return f(n + 1) + 1; } f(0);`},
		{"mutual", `function a() { return b(); } function b() { return a(); } a();`},
		{"getter", `const o = { get x() { return this.x; } }; o.x;`},
		{"toString", `const o = { toString() { return String(this); } }; String(o);`},
		{"proxy trap", `const p = new Proxy({}, { get(t, k, r) { return r[k]; } }); p.x;`},
		{"sort comparator", `function f() { [2, 1].sort(() => f()); } f();`},
		{"map callback", `function f() { return [1].map(f); } f();`},
		{"async recursion", `async function f() { return await f(); } f();`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": "module.exports = () => { " + tt.code + " };"})
			a.opts.Limits.MaxCallStack = 200
			vm := a.mustVM("app.js")
			r := serve(vm, get("/"))
			if r.err == nil || !strings.Contains(r.err.Error(), "call stack") {
				t.Fatalf("err = %v, want a call stack error", r.err)
			}
			var se *script.ScriptError
			if !errors.As(r.err, &se) || se.File != a.path("app.js") {
				t.Errorf("err = %#v, want located in app.js", r.err)
			}
		})
	}
}

func TestSizeBoundedBuiltins(t *testing.T) {
	tests := []struct {
		name string
		code string
	}{
		{"repeat", `"abc".repeat(1e9)`},
		{"repeat inf", `"a".repeat(2**40)`},
		{"padStart", `"a".padStart(1e9)`},
		{"padEnd", `"a".padEnd(2**31, "xy")`},
		{"concat", `const s = "x".repeat(1e6); s.concat(...Array(100).fill(s))`},
		{"replaceAll string", `"a".repeat(1e5).replaceAll("a", "b".repeat(1e3))`},
		{"replace regexp", `"a".repeat(1e5).replace(/a/g, "$&".repeat(200))`},
		{"replace fn", `const big = "x".repeat(1e6); "a".repeat(100).replace(/a/g, () => big)`},
		{"split", `"x".repeat(3e6).split("")`},
		// goja gathers every match's indexes before replacing: a long input
		// with many matches was one native call of seconds and gigabytes.
		{"replace regexp many matches", `"a".repeat(4e6).replace(/a/g, "xx")`},
		{"replace regexp empty", `"a".repeat(1e6).replace(/a/g, "")`},
		{"replace regexp fn many", `"a".repeat(1e6).replace(/a/g, () => "")`},
		{"replaceAll empty pattern", `"a".repeat(1e6).replaceAll("", "")`},
		{"match global", `"a".repeat(1e6).match(/a/g)`},
		{"Symbol.replace direct", `/a/g[Symbol.replace]("a".repeat(1e6), "xxxxxxxx")`},
		{"Symbol.match direct", `/a/g[Symbol.match]("a".repeat(1e6))`},
		{"Symbol.split direct", `/(?:)/[Symbol.split]("a".repeat(1e6))`},
		{"array join", `new Array(1e6).join("x".repeat(100))`},
		{"sparse join", `const a = []; a.length = 2**32 - 1; a.join("")`},
		{"array fill", `new Array(2**32 - 1).fill(0)`},
		{"array ctor", `new Array(2**31)`},
		{"array call", `Array(2**31)`},
		{"forEach sparse", `const a = []; a.length = 2**32 - 1; a.forEach(x => x)`},
		{"indexOf array-like", `Array.prototype.indexOf.call({length: 2**53 - 1}, 1)`},
		{"spread sparse", `const a = []; a.length = 2**32 - 1; [...a]`},
		{"Array.from", `Array.from({length: 2**32 - 1})`},
		{"apply", `const a = []; a.length = 1e8; Math.max.apply(null, a)`},
		{"Reflect.apply", `const a = []; a.length = 1e8; Reflect.apply(Math.max, null, a)`},
		{"flat", `const a = new Array(2000).fill(0); const b = new Array(2000).fill(a); b.flat()`},
		{"concat arrays", `const a = []; a.length = 2**31; [].concat(a, a)`},
		{"ArrayBuffer", `new ArrayBuffer(1e9)`},
		{"Uint8Array", `new Uint8Array(1e9)`},
		{"Float64Array", `new Float64Array(1e8)`},
		{"typed from", `Uint8Array.from({length: 1e9})`},
		{"typed via constructor property", `new (new Uint8Array(1).constructor)(1e9)`},
		{"Object.keys typed", `Object.keys(new Uint8Array(8e6))`},
		{"JSON.stringify refs", `const s = "x".repeat(1e6); JSON.stringify(new Array(100).fill(s))`},
		{"JSON.stringify indent", `let o = {}; for (let i = 0; i < 900; i++) o = {a: o, s: "x".repeat(100)}; JSON.stringify(o, null, 10)`},
		{"JSON.stringify deep", `let a = []; for (let i = 0; i < 1e5; i++) a = [a]; JSON.stringify(a)`},
		{"nested join", `let a = []; for (let i = 0; i < 1e5; i++) a = [a]; String(a)`},
		{"res.json refs", `const s = "x".repeat(1e6); res.json(new Array(100).fill(s))`},
		{"return refs", `const s = "x".repeat(1e6); return new Array(100).fill(s)`},
		{"base64", `base64.encode("x".repeat(1.5e7))`},
		{"bind chain", `let f = function () {}; for (let i = 0; i < 2000; i++) f = f.bind(null); f()`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": "module.exports = (req, res) => {\n  " + tt.code + ";\n};"})
			// 1 MiB keeps the match-counting cases (which count up to
			// MaxStringSize/16 matches before refusing) quick under -race.
			a.opts.Limits.MaxStringSize = 1 << 20
			vm := a.mustVM("app.js")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r := serveCtx(ctx, vm, get("/"))
			if !errors.Is(r.err, sandbox.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", r.err)
			}
			var se *script.ScriptError
			wantLine := 2
			if tt.name == "return refs" {
				wantLine = 0 // found after the handler returned: no line
			}
			if !errors.As(r.err, &se) || se.File != a.path("app.js") || se.Line != wantLine {
				t.Errorf("err = %v, want at app.js:%d", r.err, wantLine)
			}
			if !vm.Healthy() {
				t.Errorf("a refused built-in left the VM unhealthy")
			}
		})
	}
}

func TestBoundedBuiltinsStillWork(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`"ab".repeat(3)`, "ababab"},
		{`"5".padStart(3, "0") + "|" + "5".padEnd(3, "-")`, "005|5--"},
		{`"a-b-c".replaceAll("-", "+")`, "a+b+c"},
		{`"abcabc".replace(/b/g, m => m.toUpperCase()) + "a".repeat(1000).match(/a/g).length`, "aBcaBc1000"},
		{`"x".repeat(300000).replace(/x/, "y").slice(0, 2) + "x".repeat(1000).replace(/x/g, "").length`, "yx0"},
		{`"a-b-c".replace(/-(\w)/g, "[$1]")`, "a[b][c]"},
		{`"abc".replace(/b/, m => m.toUpperCase())`, "aBc"},
		{`"x".repeat(2e6).replace("x", "yy").length`, "2000001"},
		{`"a,b,,c".split(",").length`, "4"},
		{`[1, [2, [3, [4]]]].flat(Infinity).join()`, "1,2,3,4"},
		{`[1, null, undefined, "x", {toString() { return "o"; }}].join("-")`, "1---x-o"},
		{`(() => { const a = [1]; a.push(a); return a.join(); })()`, "1,"},
		{`[[1, 2], [3]].toString()`, "1,2,3"},
		{`Array.from({length: 3}, (_, i) => i * 2).join()`, "0,2,4"},
		{`new Array(3).fill(7).join("")`, "777"},
		{`Array(2).length + Array.of(1, 2, 3).length`, "5"},
		{`[] instanceof Array && Array.isArray(new Array(2)) && [].constructor === Array`, "true"},
		{`(class extends Array {}).from([1, 2]).length`, "2"},
		{`new Uint8Array([1, 2, 3]).map(x => x * 2).join()`, "2,4,6"},
		{`new Uint8Array(new ArrayBuffer(8), 2, 3).length`, "3"},
		{`new Uint8Array(4) instanceof Uint8Array`, "true"},
		{`JSON.stringify({b: 1, a: [1, {c: 2}]}, null, 2).split("\n").length`, "9"},
		{`JSON.stringify({b: 1, a: 2, c: 3}, ["c", "b"])`, `{"c":3,"b":1}`},
		{`JSON.stringify({a: 1, b: "x"}, (k, v) => typeof v === "number" ? v + 1 : v)`, `{"a":2,"b":"x"}`},
		{`JSON.stringify({toJSON() { return {z: 1}; }})`, `{"z":1}`},
		{`String(JSON.stringify(undefined))`, "undefined"},
		{`(() => { try { const o = {}; o.o = o; JSON.stringify(o); } catch (e) { return e.name; } })()`, "TypeError"},
		{`(function () { return this; }).bind(5)() + 1`, "6"},
		{`Math.max.apply(null, [1, 5, 3])`, "5"},
		{`Object.keys([4, 5]).join()`, "0,1"},
		{`eval("1 + 2")`, "3"},
		{`new Function("a", "b", "return a * b")(6, 7)`, "42"},
		{`(function () {}).constructor("return 9")()`, "9"},
		{`(async function () {}).constructor === Function`, "false"},
		{`typeof (function* () {}).constructor("yield 1")`, "function"},
		{`(() => { let x = 1; return eval("typeof x"); })()`, "undefined"},
		{`/(a+)+b/.test("aaab")`, "true"},
		{`[3, 1, 2].sort().join()`, "1,2,3"},
	}
	code := "module.exports = (req) => {\n  switch (req.query.i) {\n"
	for i, tt := range tests {
		code += "  case \"" + itoa(int64(i)) + "\": return String(" + tt.expr + ");\n"
	}
	code += "  }\n};"
	a := newApp(t, map[string]string{"app.js": code})
	vm := a.mustVM("app.js")
	for i, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			r := serve(vm, get("/?i="+itoa(int64(i))))
			if r.err != nil || r.body != tt.want {
				t.Errorf("got %q (%v), want %q", r.body, r.err, tt.want)
			}
		})
	}
}

func TestDynamicCodeBounds(t *testing.T) {
	tests := []struct{ name, code, want string }{
		{"eval parens", `eval("(".repeat(1e6) + "1" + ")".repeat(1e6))`, "nested too deeply"},
		{"Function parens", `new Function("return " + "[".repeat(1e6))`, "nested too deeply"},
		{"constructor property", `(function () {}).constructor("return " + "(".repeat(1e6) + "1")`, "nested too deeply"},
		{"async constructor", `(async function () {}).constructor("return " + "(".repeat(1e6) + "1")`, "nested too deeply"},
		{"eval bigint", `eval("2n ** 100000000n")`, "BigInt is disabled"},
		{"eval syntax", `eval("let = ;")`, "SyntaxError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": "module.exports = () => {\n  " + tt.code + ";\n};"})
			r := serve(a.mustVM("app.js"), get("/"))
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", r.err, tt.want)
			}
		})
	}
}

func TestRegexpBacktrackingIsBounded(t *testing.T) {
	// A backreference forces goja onto regexp2 (backtracking); without a
	// match timeout this runs for hours in one native call.
	a := newApp(t, map[string]string{"app.js": `module.exports = () => String(/^(a+)+\1$/.test("a".repeat(40) + "b"));`})
	r := serve(a.mustVM("app.js"), get("/"))
	if r.err != nil || r.body != "false" {
		t.Errorf("got %q %v, want false (match abandoned)", r.body, r.err)
	}
}

func TestGoPanicIsRecovered(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = () => { kv.get("boom"); };`})
	a.opts.KV = panicKV{}
	vm := a.mustVM("app.js")
	r := serve(vm, get("/"))
	var se *script.ScriptError
	if !errors.As(r.err, &se) || !strings.Contains(se.Error(), "panic") {
		t.Fatalf("err = %v, want a recovered panic", r.err)
	}
	if vm.Healthy() {
		t.Errorf("VM healthy after a panic")
	}
}

type panicKV struct{ script.KV }

func (panicKV) Get(context.Context, string) (string, bool, error) { panic("kv exploded") }

// TestGlobalsAllowlist enumerates every global and every own member of each
// global object and compares them with testdata/globals-*.txt, so nothing
// new reaches scripts unnoticed. Run with UPDATE_GLOBALS=1 to rewrite the
// files, then review the diff.
func TestGlobalsAllowlist(t *testing.T) {
	const lister = `(function () {
  const out = [];
  for (const k of Object.getOwnPropertyNames(globalThis).sort()) {
    out.push(k);
    const v = globalThis[k];
    if (k !== "env" && v !== null && v !== globalThis && (typeof v === "object" || typeof v === "function")) {
      for (const m of Object.getOwnPropertyNames(v).sort()) out.push(k + "." + m);
    }
  }
  return out.join("\n") + "\n";
})()`
	tests := []struct {
		style, code string
	}{
		{"handler", "const list = " + lister + ";\nmodule.exports = () => list;"},
		{"cgi", "print('Content-Type: text/plain\\n');\nwrite(" + lister + ");"},
	}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			r := serve(a.mustVM("app.js"), get("/"))
			if r.err != nil {
				t.Fatal(r.err)
			}
			file := filepath.Join("testdata", "globals-"+tt.style+".txt")
			if os.Getenv("UPDATE_GLOBALS") != "" {
				if err := os.WriteFile(file, []byte(r.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(r.body), "\n")
			allowed := map[string]bool{}
			for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				allowed[l] = true
			}
			seen := map[string]bool{}
			for _, g := range got {
				seen[g] = true
				if !allowed[g] {
					t.Errorf("global %q is not in %s", g, file)
				}
			}
			for l := range allowed {
				if !seen[l] {
					t.Errorf("%s lists %q, which scripts no longer see", file, l)
				}
			}
			for _, banned := range []string{"BigInt", "BigInt64Array", "require.cache", "process", "Deno", "Bun", "global"} {
				if seen[banned] {
					t.Errorf("%q must not be a global", banned)
				}
			}
		})
	}
}
