package lua

// This file is the Lua side of the plugin host (docs/embedding.md):
// calling a function of the table the main chunk returns from Go
// (vm.Call), the host modules a script requires ("host.NAME"), and the
// conversions between Lua values and the JSON-like Go values of
// script.Normalize. They follow the json library's rules (json.go), so a
// value converts as it would encode.
//
// Go → Lua: nil → nil (json.null inside a list or map, so a list keeps its
// length), bool → boolean, int64 → number when |n| ≤ 2^53 (larger is an
// error: a Lua 5.1 number is a double), float64 → number, string and
// []byte → string, []any → a table marked as an array (json.array), so
// even an empty one converts back as a list, map[string]any → table.
// Lua → Go: nil and json.null → nil, boolean → bool, a whole number within
// ±2^53 → int64, any other number → float64, string → string (a Lua string
// is bytes: a Func parameter of type Bytes takes it as []byte), a table
// whose keys are exactly 1..n (n ≥ 1), or an empty table marked as an
// array → []any, any other table → map[string]any (number keys written as
// strings, an empty unmarked table → an empty map); functions, userdata,
// threads and other key types are errors wrapping script.ErrValue, as is
// nesting deeper than script.MaxValueDepth.

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fcgihost/fcgihost/script"
	glua "github.com/yuin/gopher-lua"
)

// hostPrefix starts the name of a host module in require.
const hostPrefix = "host."

var _ script.Caller = (*vm)(nil)

// noHandler is the handler of an app that exports functions only.
func noHandler(L *glua.LState) int {
	L.RaiseError("this app exports no request handler (its table has no handle function); it can only be called")
	return 0
}

// Call calls the function fn of the table the main chunk returned; see
// script.Caller.
func (v *vm) Call(ctx context.Context, fn string, args []any) (out any, err error) {
	if !v.healthy {
		return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: errors.New("lua VM is closed or broken")}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	f, ok := glua.LValue(glua.LNil), false
	if v.exports != nil {
		f = v.exports.RawGetString(fn)
		_, ok = f.(*glua.LFunction)
	}
	if !ok {
		return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("%s: %w", fn, script.ErrNoFunction)}
	}
	if ctx.Err() != nil {
		return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: interruptError(ctx)}
	}
	L := v.L
	v.ctx, v.noted = ctx, v.noted[:0]
	v.setContext(ctx)
	defer func() {
		if r := recover(); r != nil {
			v.healthy = false
			out, err = nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("lua engine panic: %v", r)}
		}
		L.SetTop(0)
		v.removeContext()
		v.ctx = nil
	}()
	L.Push(f)
	for i, a := range args {
		lv, err := v.toLua(a, 0, false)
		if err != nil {
			return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("call %s: argument %d: %w", fn, i+1, err)}
		}
		L.Push(lv)
	}
	if err := L.PCall(len(args), 1, nil); err != nil {
		return nil, v.scriptError(ctx, err)
	}
	c := valueCheck{ctx: ctx}
	out, err = v.toGo(L.Get(-1), 0, &c)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: interruptError(ctx)}
		}
		return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("call %s: result: %w", fn, err)}
	}
	return out, nil
}

// toLua converts a Go value to a Lua value; inner is true inside a list or
// map (where nil becomes json.null).
func (v *vm) toLua(val any, depth int, inner bool) (glua.LValue, error) {
	if depth > script.MaxValueDepth {
		return nil, fmt.Errorf("nested more than %d deep: %w", script.MaxValueDepth, script.ErrValue)
	}
	switch t := val.(type) {
	case nil:
		if inner {
			return v.null, nil
		}
		return glua.LNil, nil
	case bool:
		return glua.LBool(t), nil
	case int64:
		if t > script.MaxSafeInt || t < -script.MaxSafeInt {
			return nil, fmt.Errorf("integer %d is beyond ±2^53, which a Lua number cannot hold exactly: %w", t, script.ErrValue)
		}
		return glua.LNumber(t), nil
	case int:
		return v.toLua(int64(t), depth, inner)
	case float64:
		return glua.LNumber(t), nil
	case string:
		return glua.LString(t), nil
	case []byte:
		return glua.LString(t), nil
	case []any:
		tb := v.L.CreateTable(len(t), 0)
		for _, e := range t {
			lv, err := v.toLua(e, depth+1, true)
			if err != nil {
				return nil, err
			}
			tb.Append(lv)
		}
		tb.Metatable = v.arrayMT
		return tb, nil
	case map[string]any:
		tb := v.L.CreateTable(0, len(t))
		for k, e := range t {
			lv, err := v.toLua(e, depth+1, true)
			if err != nil {
				return nil, err
			}
			tb.RawSetString(k, lv)
		}
		return tb, nil
	}
	n, err := script.Normalize(val)
	if err != nil {
		return nil, err
	}
	return v.toLua(n, depth, inner)
}

// valueCheck looks at the context every so many values converted.
type valueCheck struct {
	ctx context.Context
	n   int
}

func (c *valueCheck) add() error {
	if c.n++; c.n%4096 == 0 && c.ctx != nil {
		return c.ctx.Err()
	}
	return nil
}

// toGo converts a Lua value to a Go value (json.go's rules).
func (v *vm) toGo(val glua.LValue, depth int, c *valueCheck) (any, error) {
	if depth > script.MaxValueDepth {
		return nil, fmt.Errorf("nested more than %d deep: %w", script.MaxValueDepth, script.ErrValue)
	}
	switch x := val.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		return bool(x), nil
	case glua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && f <= script.MaxSafeInt && f >= -script.MaxSafeInt {
			return int64(f), nil
		}
		return f, nil
	case glua.LString:
		return string(x), nil
	case *glua.LUserData:
		if _, ok := x.Value.(jsonNull); ok {
			return nil, nil
		}
	case *glua.LTable:
		if err := c.add(); err != nil {
			return nil, err
		}
		return v.tableToGo(x, depth, c)
	}
	return nil, fmt.Errorf("a Lua %s: %w", val.Type(), script.ErrValue)
}

func (v *vm) tableToGo(t *glua.LTable, depth int, c *valueCheck) (any, error) {
	n := t.Len()
	count := 0
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) != glua.LNil {
			count++
		}
	}
	var k glua.LValue = glua.LNil
	if n > 0 {
		k = glua.LNumber(n)
	}
	hash := 0
	for k, _ = t.Next(k); k != glua.LNil; k, _ = t.Next(k) {
		switch k.(type) {
		case glua.LString, glua.LNumber:
		default:
			return nil, fmt.Errorf("a table key of type %s: %w", k.Type(), script.ErrValue)
		}
		hash++
	}
	if (n > 0 && count == n && hash == 0) || (n == 0 && hash == 0 && isArrayMarked(t)) {
		out := make([]any, n)
		for i := 1; i <= n; i++ {
			if err := c.add(); err != nil {
				return nil, err
			}
			e, err := v.toGo(t.RawGetInt(i), depth+1, c)
			if err != nil {
				return nil, err
			}
			out[i-1] = e
		}
		return out, nil
	}
	out := make(map[string]any, count+hash)
	var err error
	t.ForEach(func(key, val glua.LValue) {
		if err != nil {
			return
		}
		if err = c.add(); err != nil {
			return
		}
		var ks string
		switch kk := key.(type) {
		case glua.LString:
			ks = string(kk)
		case glua.LNumber:
			ks = string(appendNumber(nil, float64(kk)))
		}
		var e any
		if e, err = v.toGo(val, depth+1, c); err != nil {
			err = fmt.Errorf("%s: %w", ks, err)
			return
		}
		out[ks] = e
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hostModule pushes the table of the host module name ("host.NAME"), made
// once per VM.
func (v *vm) hostModule(L *glua.LState, name string) int {
	if t, ok := v.hostMods[name]; ok {
		L.Push(t)
		return 1
	}
	m := script.FindModule(v.b.opts.Modules, name[len(hostPrefix):])
	if m == nil {
		return v.fail(&luaError{msg: fmt.Sprintf("require %q: no such host module (the host program declares its modules; docs/embedding.md)", name), cause: errModule})
	}
	t := L.CreateTable(0, len(m.Funcs)+len(m.Values))
	for i := range m.Funcs {
		t.RawSetString(m.Funcs[i].Name, L.NewFunction(v.hostFunc(m, &m.Funcs[i])))
	}
	for k, val := range m.Values {
		lv, err := v.toLua(val, 0, false)
		if err != nil {
			return v.fail(fmt.Errorf("%s%s.%s: %w", hostPrefix, m.Name, k, err))
		}
		t.RawSetString(k, lv)
	}
	if v.hostMods == nil {
		v.hostMods = map[string]*glua.LTable{}
	}
	v.hostMods[name] = t
	L.Push(t)
	return 1
}

// hostFunc wraps one Go function of a host module.
func (v *vm) hostFunc(m *script.Module, f *script.Func) glua.LGFunction {
	what := hostPrefix + m.Name + "." + f.Name
	return func(L *glua.LState) int {
		n := L.GetTop()
		args := make([]any, n)
		c := valueCheck{ctx: v.runCtx()}
		for i := 1; i <= n; i++ {
			g, err := v.toGo(L.Get(i), 0, &c)
			if err != nil {
				if c.ctx.Err() != nil {
					interrupted(L)
				}
				return v.fail(fmt.Errorf("%s: argument %d: %w", what, i, err))
			}
			args[i-1] = g
		}
		args, err := f.CheckArgs(what, args)
		if err != nil {
			return v.fail(err)
		}
		res, err := f.Fn(v.runCtx(), &script.Call{App: v.b.src.App, Module: m.Name, Func: f.Name, Args: args})
		if err != nil {
			return v.fail(fmt.Errorf("%s: %w", what, err))
		}
		lv, err := v.toLua(res, 0, false)
		if err != nil {
			return v.fail(fmt.Errorf("%s: result: %w", what, err))
		}
		L.Push(lv)
		return 1
	}
}
