package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/plugin"
)

func write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newHost loads files into a fresh apps dir. cfg may change the config.
func newHost(t testing.TB, files map[string]string, mods []*plugin.Module, cfg func(*config.Config)) (*plugin.Host, string) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, files)
	c := config.Default()
	c.Defaults.Workers = 2
	c.DataDir = t.TempDir()
	// An isolated app's child may run as another user (as root: nobody).
	for _, d := range []string{dir, filepath.Dir(dir), c.DataDir, filepath.Dir(c.DataDir)} {
		os.Chmod(d, 0o755)
	}
	if cfg != nil {
		cfg(c)
	}
	h, err := plugin.New(plugin.Options{Dir: dir, Config: c, Modules: mods,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h, dir
}

const echoJS = `module.exports.echo = function (x) { return x; };
module.exports.types = function (...xs) { return xs.map(function (x) {
  if (x === null) return "null";
  if (x instanceof Uint8Array) return "Uint8Array";
  if (Array.isArray(x)) return "Array";
  return typeof x;
}); };
module.exports.made = function () {
  return {i: 42, f: 1.5, big: 2 ** 60, neg: -7, s: "héllo", b: true, n: null, u: undefined,
          bytes: new Uint8Array([0, 255]), list: [1, "two", null], empty: [], obj: {}, whole: 2.0};
};
`

const echoLua = `local M = {}
function M.echo(x) return x end
function M.types(...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = type((select(i, ...))) end
  return out
end
function M.made()
  return {i = 42, f = 1.5, neg = -7, s = "héllo", b = true, n = json.null,
          list = {1, "two"}, empty = json.array({}), obj = {}, whole = 2.0, sparse = {[1] = "a", [3] = "c"}}
end
return M
`

func TestValues(t *testing.T) { testValues(t, nil) }

func testValues(t *testing.T, cfg func(*config.Config)) {
	h, _ := newHost(t, map[string]string{"ejs.js": echoJS, "elua.lua": echoLua}, nil, cfg)
	ctx := context.Background()
	round := []any{
		nil, true, false, int64(0), int64(-5), int64(1 << 53), int64(-(1 << 53)), 1.5, -0.25, math.Inf(1),
		"", "héllo\x00", []any{}, []any{int64(1), "a", nil, []any{true}},
		map[string]any{}, map[string]any{"a": int64(1), "b": map[string]any{"c": []any{"x"}}, "n": nil},
	}
	for _, app := range []string{"ejs", "elua"} {
		for _, v := range round {
			got, err := h.Call(ctx, app, "echo", v)
			if err != nil {
				t.Fatalf("%s echo(%#v): %v", app, v, err)
			}
			want := v
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s echo(%#v) = %#v", app, v, got)
			}
		}
		// Other Go kinds are normalised.
		got, err := h.Call(ctx, app, "echo", []any{int(3), int32(4), uint8(5), float32(0.5), []string{"s"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []any{int64(3), int64(4), int64(5), 0.5, []any{"s"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s echo(kinds) = %#v, want %#v", app, got, want)
		}
		// Bytes: JS gets a Uint8Array and gives one back; Lua gets a
		// string.
		got, err = h.Call(ctx, app, "echo", []byte{0, 1, 255})
		if err != nil {
			t.Fatal(err)
		}
		if app == "ejs" {
			if !bytes.Equal(got.([]byte), []byte{0, 1, 255}) {
				t.Errorf("js bytes: %#v", got)
			}
		} else if got != "\x00\x01\xff" {
			t.Errorf("lua bytes: %#v", got)
		}
		b, err := plugin.CallAs[[]byte](ctx, h, app, "echo", []byte("raw"))
		if err != nil || string(b) != "raw" {
			t.Errorf("%s CallAs[[]byte] = %q, %v", app, b, err)
		}
	}

	// What each language sees.
	js, err := h.Call(ctx, "ejs", "types", nil, true, int64(1), 1.5, "s", []byte("b"), []any{}, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"null", "boolean", "number", "number", "string", "Uint8Array", "Array", "object"}; !reflect.DeepEqual(js, want) {
		t.Errorf("js types = %v, want %v", js, want)
	}
	lua, err := h.Call(ctx, "elua", "types", true, int64(1), 1.5, "s", []byte("b"), []any{}, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"boolean", "number", "number", "string", "string", "table", "table"}; !reflect.DeepEqual(lua, want) {
		t.Errorf("lua types = %v, want %v", lua, want)
	}
	// int64 beyond 2^53 cannot cross exactly: an error in both.
	for _, app := range []string{"ejs", "elua"} {
		if _, err := h.Call(ctx, app, "echo", int64(1<<53+1)); !errors.Is(err, plugin.ErrValue) {
			t.Errorf("%s echo(2^53+1): err = %v, want ErrValue", app, err)
		}
	}

	// Values the scripts make.
	got, err := h.Call(ctx, "ejs", "made")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": int64(42), "f": 1.5, "big": float64(1 << 60), "neg": int64(-7), "s": "héllo", "b": true,
		"n": nil, "u": nil, "bytes": []byte{0, 255}, "list": []any{int64(1), "two", nil}, "empty": []any{},
		"obj": map[string]any{}, "whole": int64(2)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("js made = %#v\nwant %#v", got, want)
	}
	got, err = h.Call(ctx, "elua", "made")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"i": int64(42), "f": 1.5, "neg": int64(-7), "s": "héllo", "b": true, "n": nil,
		"list": []any{int64(1), "two"}, "empty": []any{}, "obj": map[string]any{}, "whole": int64(2),
		"sparse": map[string]any{"1": "a", "3": "c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lua made = %#v\nwant %#v", got, want)
	}
}

func TestValues_Refused(t *testing.T) {
	h, _ := newHost(t, map[string]string{
		"rj.js": `exports.fn = () => function () {}; exports.sym = () => Symbol("x"); exports.date = () => new Date(0);
exports.cycle = () => { const a = {}; a.a = a; return a; }; exports.sparse = () => new Array(4e9);
exports.map = () => new Map();`,
		"rl.lua": `return {fn = function () return print end, cycle = function () local a = {} a.a = a return a end,
udata = function () return {k = io and io.stdout or newproxy and newproxy() or print} end}`,
	}, nil, nil)
	if _, err := h.Call(context.Background(), "rj", "sparse"); err == nil { // the engine's own array limit
		t.Errorf("js sparse: no error")
	}
	for _, fn := range []string{"fn", "sym", "date", "cycle", "map"} {
		if _, err := h.Call(context.Background(), "rj", fn); !errors.Is(err, plugin.ErrValue) {
			t.Errorf("js %s: err = %v, want ErrValue", fn, err)
		}
	}
	for _, fn := range []string{"fn", "cycle", "udata"} {
		if _, err := h.Call(context.Background(), "rl", fn); !errors.Is(err, plugin.ErrValue) {
			t.Errorf("lua %s: err = %v, want ErrValue", fn, err)
		}
	}
}

func TestErrors_FileLine(t *testing.T) { testErrorsFileLine(t, nil) }

func testErrorsFileLine(t *testing.T, cfg func(*config.Config)) {
	h, dir := newHost(t, map[string]string{
		"tj.js":  "exports.ok = () => 1;\nexports.boom = function () {\n  throw new Error(\"boom\");\n};\nexports.rej = async () => { await null;\n throw new TypeError(\"late\"); };\n",
		"tl.lua": "local M = {}\nfunction M.boom()\n  error(\"boom\")\nend\nfunction M.tbl() error({code = 1}) end\nreturn M\n",
		"cgi.js": "print('hi')\n",
	}, nil, cfg)
	ctx := context.Background()
	var se *plugin.ScriptError
	_, err := h.Call(ctx, "tj", "boom")
	if !errors.As(err, &se) || se.File != filepath.Join(dir, "tj.js") || se.Line != 3 || !strings.Contains(se.Error(), "Error: boom") {
		t.Errorf("js throw: %v (%#v)", err, se)
	}
	_, err = h.Call(ctx, "tj", "rej")
	if !errors.As(err, &se) || se.Line != 6 || !strings.Contains(se.Error(), "TypeError: late") {
		t.Errorf("js rejection: %v", err)
	}
	_, err = h.Call(ctx, "tl", "boom")
	if !errors.As(err, &se) || se.File != filepath.Join(dir, "tl.lua") || se.Line != 3 || !strings.HasSuffix(se.Error(), "boom") {
		t.Errorf("lua error: %v (%#v)", err, se)
	}
	if _, err := h.Call(ctx, "tl", "tbl"); !errors.As(err, &se) {
		t.Errorf("lua error(table): %v", err)
	}
	for _, c := range []struct {
		app, fn string
		want    error
	}{
		{"nope", "x", plugin.ErrNoApp}, {"tj", "missing", plugin.ErrNoFunction}, {"tl", "missing", plugin.ErrNoFunction},
		{"tj", "toString", plugin.ErrNoFunction}, {"tj", "constructor", plugin.ErrNoFunction}, {"cgi", "x", plugin.ErrNotCallable},
	} {
		if _, err := h.Call(ctx, c.app, c.fn); !errors.Is(err, c.want) {
			t.Errorf("%s.%s: err = %v, want %v", c.app, c.fn, err, c.want)
		}
	}
	// The VM survives a thrown error.
	if v, err := h.Call(ctx, "tj", "ok"); err != nil || v != int64(1) {
		t.Errorf("after a throw: %v, %v", v, err)
	}
}

func TestTimeout(t *testing.T) { testTimeout(t, nil) }

func testTimeout(t *testing.T, cfg func(*config.Config)) {
	h, _ := newHost(t, map[string]string{
		"sj.js":  "exports.spin = () => { for (;;) {} }; exports.ok = () => 'ok';",
		"sl.lua": "return {spin = function () while true do end end, ok = function () return 'ok' end}",
	}, nil, func(c *config.Config) {
		c.Defaults.Timeout = 300 * time.Millisecond
		if cfg != nil {
			cfg(c)
		}
	})
	for _, app := range []string{"sj", "sl"} {
		_, err := h.Call(context.Background(), app, "spin")
		var se *plugin.ScriptError
		if !errors.As(err, &se) || !se.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s spin: %v, want a timeout", app, err)
		}
		// The caller's own context ends a call too.
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		if _, err := h.Call(ctx, app, "spin"); !errors.Is(err, context.Canceled) {
			t.Errorf("%s spin, cancelled: %v", app, err)
		}
		if v, err := h.Call(context.Background(), app, "ok"); err != nil || v != "ok" {
			t.Errorf("%s after timeout: %v, %v", app, v, err)
		}
	}
	m := h.Server().Host().Metrics.App("sj")
	if m.Timeouts.Load() != 1 || m.Aborted.Load() != 1 {
		t.Errorf("metrics: timeouts %d aborted %d, want 1 and 1", m.Timeouts.Load(), m.Aborted.Load())
	}
}

// TestReload: calls during reloads all succeed and each sees one version
// whole: the entry and the module it requires are always of the same
// version.
func TestReload(t *testing.T) {
	js := func(v int) map[string]string {
		return map[string]string{
			"rj/index.js": fmt.Sprintf("const lib = require('./lib'); exports.get = () => [%d, lib.v];", v),
			"rj/lib.js":   fmt.Sprintf("exports.v = %d;", v),
		}
	}
	lua := func(v int) map[string]string {
		return map[string]string{
			"rl/index.lua": fmt.Sprintf("local lib = require('lib') return {get = function () return {%d, lib.v} end}", v),
			"rl/lib.lua":   fmt.Sprintf("return {v = %d}", v),
		}
	}
	files := js(0)
	for k, v := range lua(0) {
		files[k] = v
	}
	h, dir := newHost(t, files, nil, nil)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]map[int64]bool{"rj": {}, "rl": {}}
	errs := make(chan error, 100)
	for _, app := range []string{"rj", "rj", "rl", "rl"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				v, err := h.Call(context.Background(), app, "get")
				if err != nil {
					errs <- fmt.Errorf("%s: %w", app, err)
					return
				}
				l := v.([]any)
				if l[0] != l[1] {
					errs <- fmt.Errorf("%s: a mix of versions: %v", app, l)
					return
				}
				mu.Lock()
				seen[app][l[0].(int64)] = true
				mu.Unlock()
			}
		}()
	}
	for v := 1; v <= 5; v++ {
		write(t, dir, js(v))
		write(t, dir, lua(v))
		h.Reload()
	}
	for _, app := range []string{"rj", "rl"} {
		v, err := h.Call(context.Background(), app, "get")
		if err != nil || !reflect.DeepEqual(v, []any{int64(5), int64(5)}) {
			t.Errorf("%s after the reloads: %v, %v", app, v, err)
		}
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestModule_ContextAndApp(t *testing.T) {
	type seen struct {
		app         string
		hasDeadline bool
		left        time.Duration
		endErr      error
	}
	var mu sync.Mutex
	got := map[string]seen{}
	mod := &plugin.Module{
		Name: "probe",
		Funcs: []plugin.Func{{
			Name: "who",
			Args: []plugin.Arg{{Name: "wait", Type: plugin.Bool, Optional: true}},
			Fn: func(ctx context.Context, c *plugin.CallInfo) (any, error) {
				dl, ok := ctx.Deadline()
				s := seen{app: c.App, hasDeadline: ok, left: time.Until(dl)}
				if c.Args[0] == true {
					<-ctx.Done() // the script's timeout ends the Go call too
					s.endErr = ctx.Err()
				}
				mu.Lock()
				got[c.App+fmt.Sprint(c.Args[0])] = s
				mu.Unlock()
				return c.App, s.endErr
			},
		}},
	}
	h, _ := newHost(t, map[string]string{
		"mj.js":  `const p = require("host:probe"); exports.who = (w) => p.who(w);`,
		"ml.lua": `local p = require("host.probe") return {who = function (w) return p.who(w) end}`,
	}, []*plugin.Module{mod}, func(c *config.Config) { c.Defaults.Timeout = 2 * time.Second })
	for _, app := range []string{"mj", "ml"} {
		v, err := h.Call(context.Background(), app, "who")
		if err != nil || v != app {
			t.Fatalf("%s: %v, %v", app, v, err)
		}
		s := got[app+"<nil>"]
		if s.app != app || !s.hasDeadline || s.left <= 0 || s.left > 2*time.Second {
			t.Errorf("%s: the Go function saw %+v, want the app and a deadline within the 2s timeout", app, s)
		}
		// A caller's shorter deadline is the one the Go function sees.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err = h.Call(ctx, app, "who", true)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s waiting: %v", app, err)
		}
		if s := got[app+"true"]; !errors.Is(s.endErr, context.DeadlineExceeded) {
			t.Errorf("%s: the Go function's context ended with %v", app, s.endErr)
		}
	}
}

// TestModule_Args: arguments are checked against the declaration, the same
// in both languages, and a Go error reaches the script.
func TestModule_Args(t *testing.T) {
	mod := &plugin.Module{
		Name:   "kit",
		Values: map[string]any{"version": "1.2", "limits": map[string]any{"max": 10}},
		Funcs: []plugin.Func{
			{Name: "add", Args: []plugin.Arg{{Name: "a", Type: plugin.Int}, {Name: "b", Type: plugin.Int}},
				Fn: func(_ context.Context, c *plugin.CallInfo) (any, error) {
					return c.Args[0].(int64) + c.Args[1].(int64), nil
				}},
			{Name: "len", Args: []plugin.Arg{{Name: "data", Type: plugin.Bytes}},
				Fn: func(_ context.Context, c *plugin.CallInfo) (any, error) { return len(c.Args[0].([]byte)), nil }},
			{Name: "fail", Fn: func(context.Context, *plugin.CallInfo) (any, error) { return nil, errors.New("denied") }},
		},
	}
	h, _ := newHost(t, map[string]string{
		"aj.js": `import {add, len, fail, version, limits} from "host:kit";
export function run() { return [add(2, 3), len(new Uint8Array(4)), version, limits.max]; }
export function bad() { return add("x", 1); }
export function few() { return add(1); }
export function failing() { try { fail(); } catch (e) { return e.message; } }
export function uncaught() { fail(); }`,
		"al.lua": `local kit = require("host.kit")
return {run = function () return {kit.add(2, 3), kit.len("abcd"), kit.version, kit.limits.max} end,
bad = function () return kit.add("x", 1) end, few = function () return kit.add(1) end,
failing = function () local ok, e = pcall(kit.fail) return e end,
uncaught = function () kit.fail() end}`,
	}, []*plugin.Module{mod}, nil)
	ctx := context.Background()
	for _, app := range []string{"aj", "al"} {
		v, err := h.Call(ctx, app, "run")
		if want := []any{int64(5), int64(4), "1.2", int64(10)}; err != nil || !reflect.DeepEqual(v, want) {
			t.Errorf("%s run = %v, %v; want %v", app, v, err, want)
		}
		_, err = h.Call(ctx, app, "bad")
		if err == nil || !strings.Contains(err.Error(), "host") || !strings.Contains(err.Error(), "argument 1 (a): want integer, got string") {
			t.Errorf("%s bad: %v", app, err)
		}
		if _, err := h.Call(ctx, app, "few"); err == nil || !strings.Contains(err.Error(), "argument 2 (b) is missing") {
			t.Errorf("%s few: %v", app, err)
		}
		if v, err := h.Call(ctx, app, "failing"); err != nil || !strings.Contains(fmt.Sprint(v), "kit.fail: denied") {
			t.Errorf("%s failing: %v, %v", app, v, err)
		}
		var se *plugin.ScriptError
		if _, err := h.Call(ctx, app, "uncaught"); !errors.As(err, &se) || !strings.Contains(err.Error(), "denied") {
			t.Errorf("%s uncaught: %v", app, err)
		}
	}
}

// TestSandbox_NotGiven: a plugin cannot reach a module it was not given,
// the host's files or environment, or Node/Lua system libraries.
func TestSandbox_NotGiven(t *testing.T) {
	secret := &plugin.Module{Name: "admin", Funcs: []plugin.Func{{Name: "drop",
		Fn: func(_ context.Context, c *plugin.CallInfo) (any, error) {
			if c.App != "trusted" {
				return nil, fmt.Errorf("app %s may not drop", c.App)
			}
			return "dropped", nil
		}}}}
	t.Setenv("PLUGIN_TEST_SECRET", "s3cret")
	h, _ := newHost(t, map[string]string{
		"trusted.js": `exports.drop = () => require("host:admin").drop();`,
		"evil.js": `exports.tries = () => {
  const out = [];
  for (const f of [() => require("host:nothere"), () => require("fs"), () => require("child_process"),
                   () => require("../trusted"), () => require("/etc/passwd"), () => require("host:admin").drop()]) {
    try { f(); out.push("reached"); } catch (e) { out.push("refused"); }
  }
  out.push(typeof process === "undefined" || !process.env.PLUGIN_TEST_SECRET ? "no env" : "env leaked");
  return out;
};`,
		"evil.lua": `return {tries = function ()
  local out = {}
  for _, f in ipairs({function () return require("host.nothere") end, function () return io.open("/etc/passwd") end,
                      function () return os.execute("true") end, function () return require("host.admin").drop() end,
                      function () return loadfile("/etc/passwd") end, function () return dofile("/etc/passwd") end}) do
    local ok = pcall(f)
    out[#out + 1] = ok and "reached" or "refused"
  end
  out[#out + 1] = os.getenv("PLUGIN_TEST_SECRET") == nil and "no env" or "env leaked"
  return out
end}`,
	}, []*plugin.Module{secret}, nil)
	ctx := context.Background()
	if v, err := h.Call(ctx, "trusted", "drop"); err != nil || v != "dropped" {
		t.Errorf("trusted: %v, %v", v, err)
	}
	v, err := h.Call(ctx, "evil", "tries")
	if want := []any{"refused", "refused", "refused", "refused", "refused", "refused", "no env"}; err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("evil.js: %v, %v; want %v", v, err, want)
	}
}

func TestConcurrent16(t *testing.T) {
	h, _ := newHost(t, map[string]string{
		"cj.js":  `let n = 0; exports.add = (a, b) => { n++; return {sum: a + b, s: "x".repeat(a % 7)}; };`,
		"cl.lua": `return {add = function (a, b) return {sum = a + b, s = string.rep("x", a % 7)} end}`,
	}, nil, func(c *config.Config) { c.Defaults.Workers = 4 })
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := []string{"cj", "cl"}[g%2]
			for i := 0; i < 200; i++ {
				type res struct {
					Sum int
					S   string
				}
				r, err := plugin.CallAs[res](context.Background(), h, app, "add", i, g)
				if err != nil || r.Sum != i+g || len(r.S) != i%7 {
					errs <- fmt.Errorf("%s add(%d, %d) = %+v, %v", app, i, g, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := h.Server().Host().Metrics.App("cj").Requests.Load(); n != 1600 {
		t.Errorf("cj counted %d calls, want 1600", n)
	}
}

func TestBroadcast(t *testing.T) {
	h, _ := newHost(t, map[string]string{
		"a.js":       `exports.onEvent = (e) => "a saw " + e.kind;`,
		"b.lua":      `return {onEvent = function (e) return "b saw " .. e.kind end}`,
		"c.js":       `exports.other = () => 1;`,
		"d.lua":      `return {onEvent = function (e) error("d fails") end}`,
		"e/index.js": `export async function onEvent(e) { return "e saw " + e.kind; }`,
	}, nil, nil)
	for _, conc := range []bool{false, true} {
		res := h.Broadcast(context.Background(), "onEvent", plugin.BroadcastOptions{Concurrent: conc}, map[string]any{"kind": "save"})
		var got []string
		for _, r := range res {
			if r.Err != nil {
				got = append(got, r.App+": error")
			} else {
				got = append(got, r.App+": "+r.Value.(string))
			}
		}
		if want := []string{"a: a saw save", "b: b saw save", "d: error", "e: e saw save"}; !reflect.DeepEqual(got, want) {
			t.Errorf("concurrent=%v: %q, want %q", conc, got, want)
		}
	}
	res := h.Broadcast(context.Background(), "onEvent", plugin.BroadcastOptions{StopOnError: true}, map[string]any{"kind": "x"})
	if len(res) != 3 || res[2].App != "d" || res[2].Err == nil {
		t.Errorf("StopOnError: %+v", res)
	}
}

func TestFS(t *testing.T) {
	fsys := fstest.MapFS{
		"hello.js":       {Data: []byte(`exports.hi = (n) => "hi " + n;`)},
		"deep/init.lua":  {Data: []byte(`return {}`)},
		"deep/index.lua": {Data: []byte(`local u = require("util") return {hi = function (n) return u.greet(n) end}`)},
		"deep/util.lua":  {Data: []byte(`return {greet = function (n) return "hello " .. n end}`)},
	}
	h, err := plugin.New(plugin.Options{FS: fsys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	if got := h.Apps(); !reflect.DeepEqual(got, []string{"deep", "hello"}) {
		t.Errorf("apps %v", got)
	}
	for app, want := range map[string]string{"hello": "hi bob", "deep": "hello bob"} {
		if v, err := plugin.CallAs[string](context.Background(), h, app, "hi", "bob"); err != nil || v != want {
			t.Errorf("%s: %q, %v", app, v, err)
		}
	}
}
