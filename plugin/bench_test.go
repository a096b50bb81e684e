package plugin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dop251/goja"
	glua "github.com/yuin/gopher-lua"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/plugin"
)

// The Call round trip of a trivial function against goja and gopher-lua
// called by hand (docs/embedding.md; figures in docs/benchmarks.md):
//
//	go test -run '^$' -bench 'Call|Direct|ModuleCall' -benchtime 2s ./plugin
//
// isolated-js and isolated-lua are the same call to an app with
// isolation = "process" (a FastCGI round trip to its child).
func BenchmarkCall(b *testing.B) {
	nop := &plugin.Module{Name: "bench", Funcs: []plugin.Func{{Name: "nop",
		Args: []plugin.Arg{{Name: "n", Type: plugin.Int}},
		Fn:   func(_ context.Context, c *plugin.CallInfo) (any, error) { return c.Args[0], nil }}}}
	h, _ := newHost(b, map[string]string{
		"bj.js": `const m = require("host:bench"); exports.add = (a, b) => a + b;
exports.loop = (n) => { let s = 0; for (let i = 0; i < n; i++) s += m.nop(i); return s; };
exports.jsloop = (n) => { let s = 0; const f = (i) => i; for (let i = 0; i < n; i++) s += f(i); return s; };`,
		"bl.lua": `local m = require("host.bench")
return {add = function (a, b) return a + b end,
loop = function (n) local s = 0 for i = 1, n do s = s + m.nop(i) end return s end,
lualoop = function (n) local s = 0 local f = function (i) return i end for i = 1, n do s = s + f(i) end return s end}`,
		// The same function in a child process (isolation = "process").
		"ij.js":  `exports.add = (a, b) => a + b; exports.echo = (x) => x;`,
		"il.lua": `return {add = function (a, b) return a + b end, echo = function (x) return x end}`,
		"ej.js":  `exports.echo = (x) => x;`,
	}, []*plugin.Module{nop}, func(c *config.Config) {
		c.Defaults.Workers = 1
		c.AppOverrides = map[string]config.App{"ij": {Isolation: "process"}, "il": {Isolation: "process"}}
	})
	ctx := context.Background()
	names := map[string]string{"bj": "js", "bl": "lua", "ij": "isolated-js", "il": "isolated-lua"}
	for _, app := range []string{"bj", "bl", "ij", "il"} {
		b.Run(names[app], func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				v, err := h.Call(ctx, app, "add", 1, 2)
				if err != nil || v != int64(3) {
					b.Fatal(v, err)
				}
			}
		})
	}
	// A larger value both ways: a map of 100 entries (strings, numbers,
	// a list), in-process and through the child.
	big := map[string]any{}
	for i := range 100 {
		big[fmt.Sprint("key", i)] = []any{int64(i), float64(i) + 0.5, "value"}
	}
	for _, c := range []struct{ name, app string }{{"echo100-js", "ej"}, {"echo100-isolated-js", "ij"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := h.Call(ctx, c.app, "echo", big); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// A Go module function called from a script, per call: a loop of
	// 1000 calls minus the same loop calling a script function.
	const n = 1000
	for _, c := range []struct{ name, app, loop, base string }{{"js", "bj", "loop", "jsloop"}, {"lua", "bl", "loop", "lualoop"}} {
		b.Run("module-"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := h.Call(ctx, c.app, c.loop, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/modcall")
		})
		b.Run("scriptfn-"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := h.Call(ctx, c.app, c.base, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/scriptcall")
		})
	}
}

// BenchmarkDirect calls the same function with goja and gopher-lua by
// hand: look the function up, convert the arguments, call, export the
// result.
func BenchmarkDirect(b *testing.B) {
	b.Run("goja", func(b *testing.B) {
		rt := goja.New()
		exp := rt.NewObject()
		rt.Set("exports", exp)
		if _, err := rt.RunString(`exports.add = (a, b) => a + b;`); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			fn, _ := goja.AssertFunction(exp.Get("add"))
			v, err := fn(exp, rt.ToValue(1), rt.ToValue(2))
			if err != nil || v.Export() != int64(3) {
				b.Fatal(v, err)
			}
		}
	})
	// The same with what an embedder needs for safety: each call bounded
	// by a timeout that interrupts the script.
	b.Run("goja-timeout", func(b *testing.B) {
		rt := goja.New()
		exp := rt.NewObject()
		rt.Set("exports", exp)
		if _, err := rt.RunString(`exports.add = (a, b) => a + b;`); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			t := time.AfterFunc(30*time.Second, func() { rt.Interrupt("timeout") })
			fn, _ := goja.AssertFunction(exp.Get("add"))
			v, err := fn(exp, rt.ToValue(1), rt.ToValue(2))
			t.Stop()
			if err != nil || v.Export() != int64(3) {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("gopher-lua-timeout", func(b *testing.B) {
		L := glua.NewState()
		defer L.Close()
		if err := L.DoString(`M = {add = function (a, b) return a + b end}`); err != nil {
			b.Fatal(err)
		}
		m := L.GetGlobal("M").(*glua.LTable)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			L.SetContext(ctx)
			err := L.CallByParam(glua.P{Fn: m.RawGetString("add"), NRet: 1, Protect: true}, glua.LNumber(1), glua.LNumber(2))
			L.RemoveContext()
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			v := L.Get(-1)
			L.Pop(1)
			if v != glua.LNumber(3) {
				b.Fatal(v)
			}
		}
	})
	b.Run("gopher-lua", func(b *testing.B) {
		L := glua.NewState()
		defer L.Close()
		if err := L.DoString(`M = {add = function (a, b) return a + b end}`); err != nil {
			b.Fatal(err)
		}
		m := L.GetGlobal("M").(*glua.LTable)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := L.CallByParam(glua.P{Fn: m.RawGetString("add"), NRet: 1, Protect: true}, glua.LNumber(1), glua.LNumber(2)); err != nil {
				b.Fatal(err)
			}
			v := L.Get(-1)
			L.Pop(1)
			if v != glua.LNumber(3) {
				b.Fatal(v)
			}
		}
	})
}
