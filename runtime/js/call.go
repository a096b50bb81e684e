package js

// This file is the JavaScript side of the plugin host (docs/embedding.md):
// calling an exported function from Go (handlerVM.Call), the host modules
// a script requires ("host:NAME"), and the conversions between goja values
// and the JSON-like Go values of script.Normalize.
//
// Go → JS: nil → null, bool → boolean, int64 → number when |n| ≤ 2^53
// (larger is an error: it would be rounded, and BigInt is disabled in
// fcgihost scripts), float64 → number, string → string, []byte →
// a new Uint8Array (a copy), []any → Array, map[string]any → plain Object
// (keys in sorted order).
// JS → Go: undefined and null → nil, boolean → bool, a whole number within
// ±2^53 → int64, any other number (fractions, NaN, ±Infinity, larger) →
// float64, string → string,
// Uint8Array (any byte view) or ArrayBuffer → []byte (a copy), Array →
// []any (holes → nil), any other object → map[string]any of its own
// enumerable string keys, except functions, symbols, Dates, Maps, Sets,
// Promises and other built-in class objects, which are errors wrapping
// script.ErrValue, as is nesting deeper than script.MaxValueDepth.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

var typeMap = reflect.TypeOf(map[string]any(nil))

// hostPrefix starts the name of a host module in require and import.
const hostPrefix = "host:"

// maxArrayLength bounds the length of one array converted to Go (a sparse
// `new Array(4e9)` would otherwise be walked element by element).
const maxArrayLength = 1 << 24

var _ script.Caller = (*handlerVM)(nil)

// noHandler is the handler of an app that exports functions only.
func (v *jsVM) noHandler(goja.Value, ...goja.Value) (goja.Value, error) {
	return nil, &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry,
		Err: errors.New("this app exports no request handler (module.exports is not a function and has no handle function); it can only be called")}
}

// Call calls the exported function fn with args; see script.Caller.
func (v *handlerVM) Call(ctx context.Context, fn string, args []any) (any, error) {
	if !v.healthy {
		return nil, &script.ScriptError{App: v.b.src.App, Err: errors.New("VM is unhealthy after an earlier failure")}
	}
	var out any
	err := v.run(ctx, func() error {
		f, this, err := v.exported(fn)
		if err != nil {
			return err
		}
		jargs := make([]goja.Value, len(args))
		for i, a := range args {
			if jargs[i], err = v.toJS(a, 0); err != nil {
				return fmt.Errorf("call %s: argument %d: %w", fn, i+1, err)
			}
		}
		ret, err := f(this, jargs...)
		if err != nil {
			return err
		}
		if o, ok := ret.(*goja.Object); ok && o.ExportType() == typePromise {
			if p, ok := o.Export().(*goja.Promise); ok {
				switch p.State() {
				case goja.PromiseStateRejected:
					return v.rejection(p.Result())
				case goja.PromiseStatePending:
					return v.b.newError(nil, fmt.Errorf("%s: the promise it returned never settled (nothing is left that could resolve it)", fn))
				}
				ret = p.Result()
			}
		}
		var cerr error
		if ex := v.rt.Try(func() { out, cerr = v.toGo(ret, 0) }); ex != nil {
			return ex
		}
		if cerr != nil {
			return fmt.Errorf("call %s: result: %w", fn, cerr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// exported finds the function the app exports as name: a property of
// module.exports (own or inherited, but not one every object or function
// has, such as toString or call).
func (v *jsVM) exported(name string) (goja.Callable, goja.Value, error) {
	o := v.exports
	if o == nil {
		return nil, nil, fmt.Errorf("%s: module.exports is not an object: %w", name, script.ErrNoFunction)
	}
	val := o.Get(name)
	f, ok := goja.AssertFunction(val)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %w", name, script.ErrNoFunction)
	}
	if v.protoKey == nil {
		v.protoKey = map[string]bool{}
		for i, ctor := range [...]string{"Object", "Function"} {
			if c, ok := v.rt.GlobalObject().Get(ctor).(*goja.Object); ok {
				if p, ok := c.Get("prototype").(*goja.Object); ok {
					v.protos[i] = p
					for _, k := range p.GetOwnPropertyNames() {
						v.protoKey[k] = true
					}
				}
			}
		}
	}
	if v.protoKey[name] {
		for _, p := range v.protos {
			if p != nil {
				if pv := p.Get(name); pv != nil && pv.SameAs(val) {
					return nil, nil, fmt.Errorf("%s: %w", name, script.ErrNoFunction)
				}
			}
		}
	}
	return f, o, nil
}

// toJS converts a Go value (script.Normalize's types, or any it
// normalises) to a JS value.
func (v *jsVM) toJS(val any, depth int) (goja.Value, error) {
	if depth > script.MaxValueDepth {
		return nil, fmt.Errorf("nested more than %d deep: %w", script.MaxValueDepth, script.ErrValue)
	}
	switch t := val.(type) {
	case nil:
		return goja.Null(), nil
	case bool:
		return v.rt.ToValue(t), nil
	case int64:
		if t > script.MaxSafeInt || t < -script.MaxSafeInt {
			return nil, fmt.Errorf("integer %d is beyond ±2^53, which a JS number cannot hold exactly (and BigInt is disabled): %w", t, script.ErrValue)
		}
		return v.rt.ToValue(t), nil
	case int:
		return v.toJS(int64(t), depth)
	case float64:
		return v.rt.ToValue(t), nil
	case string:
		return v.rt.ToValue(t), nil
	case []byte:
		return v.newUint8Array(append([]byte(nil), t...)), nil
	case []any:
		items := make([]any, len(t))
		for i, e := range t {
			jv, err := v.toJS(e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = jv
		}
		return v.rt.NewArray(items...), nil
	case map[string]any:
		o := v.rt.NewObject()
		for _, k := range script.SortedKeys(t) {
			jv, err := v.toJS(t[k], depth+1)
			if err != nil {
				return nil, err
			}
			if err := o.Set(k, jv); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
	n, err := script.Normalize(val)
	if err != nil {
		return nil, err
	}
	return v.toJS(n, depth)
}

// toGo converts a JS value to a Go value. Getters and proxies it reads may
// throw (a panic the caller catches with Try).
func (v *jsVM) toGo(val goja.Value, depth int) (any, error) {
	if depth > script.MaxValueDepth {
		return nil, fmt.Errorf("nested more than %d deep: %w", script.MaxValueDepth, script.ErrValue)
	}
	if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
		return nil, nil
	}
	o, isObj := val.(*goja.Object)
	if _, ok := val.(*goja.Symbol); ok {
		return nil, fmt.Errorf("a JS symbol: %w", script.ErrValue)
	}
	if !isObj {
		switch t := val.Export().(type) {
		case bool, int64, string:
			return t, nil
		case float64:
			if t == math.Trunc(t) && t <= script.MaxSafeInt && t >= -script.MaxSafeInt {
				return int64(t), nil
			}
			return t, nil
		case *big.Int:
			if !t.IsInt64() {
				return nil, fmt.Errorf("BigInt %s does not fit in an int64: %w", t, script.ErrValue)
			}
			return t.Int64(), nil
		}
		return nil, fmt.Errorf("a JS %s: %w", typeName(val), script.ErrValue)
	}
	if _, ok := goja.AssertFunction(o); ok {
		return nil, fmt.Errorf("a JS function: %w", script.ErrValue)
	}
	if b, ok := bytesOf(o); ok {
		return append([]byte(nil), b...), nil
	}
	if err := v.ctx.Err(); err != nil {
		return nil, ctxError(v.ctx)
	}
	switch o.ClassName() {
	case "Array":
		n := o.Get("length").ToInteger()
		if n > maxArrayLength {
			return nil, fmt.Errorf("an array of %d elements (at most %d): %w", n, maxArrayLength, script.ErrValue)
		}
		out := make([]any, n)
		for i := range out {
			e, err := v.toGo(o.Get(strconv.Itoa(i)), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case "Object":
		if o.ExportType() != typeMap { // a Map, a Set, a Promise…
			return nil, fmt.Errorf("a JS object that is not a plain object (a Map, a Set, a Promise…): %w", script.ErrValue)
		}
		keys := o.Keys()
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			e, err := v.toGo(o.Get(k), depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("a JS %s: %w", o.ClassName(), script.ErrValue)
}

func typeName(val goja.Value) string {
	if _, ok := val.(*goja.Symbol); ok {
		return "symbol"
	}
	return fmt.Sprintf("%T", val.Export())
}

// hostModule returns the object of the host module name ("host:NAME"),
// made once per VM.
func (v *jsVM) hostModule(name string) goja.Value {
	if o, ok := v.hostMods[name]; ok {
		return o
	}
	m := script.FindModule(v.b.opts.Modules, name[len(hostPrefix):])
	if m == nil {
		v.throw("Error", fmt.Errorf("require(%q): no such host module (the host program declares its modules; docs/embedding.md): %w", name, errModule))
	}
	o := v.rt.NewObject()
	for i := range m.Funcs {
		_ = o.Set(m.Funcs[i].Name, v.hostFunc(m, &m.Funcs[i]))
	}
	for _, k := range script.SortedKeys(m.Values) {
		jv, err := v.toJS(m.Values[k], 0)
		if err != nil {
			v.throw("TypeError", fmt.Errorf("%s%s.%s: %w", hostPrefix, m.Name, k, err))
		}
		_ = o.Set(k, jv)
	}
	if v.hostMods == nil {
		v.hostMods = map[string]*goja.Object{}
	}
	v.hostMods[name] = o
	return o
}

// hostFunc wraps one Go function of a host module.
func (v *jsVM) hostFunc(m *script.Module, f *script.Func) goja.Value {
	what := hostPrefix + m.Name + "." + f.Name
	return v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
		args := make([]any, len(c.Arguments))
		for i, a := range c.Arguments {
			g, err := v.toGo(a, 0)
			if err != nil {
				v.throw("TypeError", fmt.Errorf("%s: argument %d: %w", what, i+1, err))
			}
			args[i] = g
		}
		args, err := f.CheckArgs(what, args)
		if err != nil {
			v.throw("TypeError", err)
		}
		ctx := v.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		res, err := f.Fn(ctx, &script.Call{App: v.b.src.App, Module: m.Name, Func: f.Name, Args: args})
		if err != nil {
			v.throw("Error", fmt.Errorf("%s: %w", what, err))
		}
		jv, err := v.toJS(res, 0)
		if err != nil {
			v.throw("TypeError", fmt.Errorf("%s: result: %w", what, err))
		}
		return jv
	})
}
