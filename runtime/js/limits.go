package js

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/sandbox"
)

// The sandbox's share of this engine. goja checks for an interrupt only
// between instructions, so one native call that loops or allocates without
// bound would outlive the request's deadline, and deep Go recursion would
// kill the process. Every built-in that can do so is bounded here before it
// starts:
//
//   - strings: String.prototype.repeat, padStart, padEnd, concat, replace,
//     replaceAll (also a replacer function's total output) and split are
//     refused when their result would pass Limits.MaxStringSize;
//   - arrays: every Array.prototype method that walks the array (all but
//     push, pop, shift, unshift, at) refuses a `this` longer than maxElems
//     (MaxStringSize/16 elements, 1 Mi with the defaults), whether a real
//     array, a sparse one (`a.length = 2**32-1`) or an array-like; join is
//     reimplemented with its output size and nesting bounded; the Array
//     constructor, Array.from, flat/flatMap, concat, spread (the array
//     iterators), Function.prototype.apply, Reflect.apply/construct and
//     Object.keys & co. on typed arrays are bounded the same way;
//   - ArrayBuffer and the typed-array constructors refuse more than
//     MaxStringSize bytes;
//   - JSON.stringify (and res.json, a returned object, console.log of an
//     object) bounds its output size and nesting as it goes;
//   - bind chains are at most maxBindDepth deep;
//   - eval and the Function / AsyncFunction / GeneratorFunction constructors
//     parse with the same nesting bounds as files (eval is always indirect:
//     it runs in the global scope);
//   - regular expressions that need the backtracking engine (regexp2) give
//     up after regexpTimeout and then do not match;
//   - BigInt is disabled (a literal is a compile error; BigInt, the BigInt
//     typed arrays and DataView's BigInt accessors are removed): `2n **
//     10n**10n` is one native operation of unbounded time and memory.
//
// bounds.go adds the native recursion and native loops (prototype cycles
// through proxies, built-in iterators, long searches and sorts, native
// callbacks, regular expressions); docs/sandbox.md, "What the JS engine
// bounds and how", lists every class.
//
// Unbounded recursion in script code ends with a RangeError at
// Limits.MaxCallStack frames. Growth by many small steps (s += s, pushing
// in a loop) is interruptible and left to the pool's memory watchdog.

const (
	maxBindDepth  = 1000
	maxJoinDepth  = 1000
	maxJSONNest   = 1000
	regexpTimeout = time.Second
)

func init() {
	// goja compiles the patterns Go's regexp cannot run with regexp2, whose
	// backtracking can take exponential time inside one native call.
	regexp2.DefaultMatchTimeout = regexpTimeout
}

var errBigInt = errors.New("BigInt is disabled in fcgihost scripts (its arithmetic on huge values cannot be bounded)")

// limitState is the per-VM state of the bounded built-ins.
type limitState struct {
	maxElems   int64
	iterSteps  int
	defaultCmp goja.Value
	numericCmp goja.Value
	getOwnDesc goja.Callable
	joinStack  []*goja.Object
	bindDepth  *goja.Symbol
	reflectCon goja.Callable
	comma      goja.String

	json         *jsonBound // the boundedStringify in progress
	jsonTop      jsonBound  // reused by the outermost one
	jsonReplacer goja.Value // boundJSON
	jsonArgs     [3]goja.Value
}

func (v *jsVM) tooLarge(what string, n int64) {
	v.throw("RangeError", fmt.Errorf("%s: result of %d bytes exceeds the limit of %d: %w", what, n, v.b.opts.Limits.MaxStringSize, sandbox.ErrTooLarge))
}

// checkElems refuses an operation over more than maxElems elements (n is
// -1 for a value with no length: an iterable, or nothing to walk).
func (v *jsVM) checkElems(what string, n int64) {
	if n > v.lim.maxElems {
		v.throw("RangeError", fmt.Errorf("%s: %d elements exceed the limit of %d: %w", what, n, v.lim.maxElems, sandbox.ErrTooLarge))
	}
}

// strLen is the size of a JS string in bytes as goja stores it.
func strLen(s goja.Value) int64 {
	if gs, ok := s.(goja.String); ok {
		return int64(gs.Length())
	}
	return int64(len(s.String()))
}

// jsString converts val to a JS string (calling toString on objects).
func (v *jsVM) jsString(val goja.Value) goja.String {
	if s, ok := val.ToString().(goja.String); ok {
		return s
	}
	return v.rt.ToValue(val.String()).(goja.String)
}

// lengthOf reads the length of an array-like, or -1 if it has none.
func lengthOf(v goja.Value) int64 {
	if s, ok := v.(goja.String); ok {
		return int64(s.Length()) // a string is an array-like of its units
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return -1
	}
	l := o.Get("length")
	if l == nil || goja.IsUndefined(l) {
		return -1
	}
	f := l.ToFloat()
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f > 1<<53 {
		return 1 << 53
	}
	return int64(f)
}

// wrap replaces obj[name] with a native function that runs check and then
// the original, keeping the name and length.
func (v *jsVM) wrap(obj *goja.Object, name string, check func(c goja.FunctionCall)) {
	origVal := obj.Get(name)
	orig, ok := goja.AssertFunction(origVal)
	if !ok {
		return
	}
	v.replace(obj, name, origVal, func(c goja.FunctionCall) goja.Value {
		check(c)
		r, err := orig(c.This, c.Arguments...)
		if err != nil {
			panic(err)
		}
		return r
	})
}

// replace sets obj[name] to fn (non-enumerable, like the built-ins), with
// the name and length of orig.
func (v *jsVM) replace(obj *goja.Object, name string, orig goja.Value, fn func(goja.FunctionCall) goja.Value) {
	f := v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
		v.maybeDeliverStack() // the slow log's chance to read the stack
		defer v.enterNative()()
		return fn(c)
	}).(*goja.Object)
	if o, ok := orig.(*goja.Object); ok {
		_ = f.DefineDataProperty("name", o.Get("name"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		_ = f.DefineDataProperty("length", o.Get("length"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	_ = obj.DefineDataProperty(name, f, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// proxyCtor replaces the constructor global name with a proxy whose call
// and construct traps run check first; prototype.constructor follows.
func (v *jsVM) proxyCtor(holder *goja.Object, name string, check func(args []goja.Value)) {
	target, ok := holder.Get(name).(*goja.Object)
	if !ok {
		return
	}
	fn, _ := goja.AssertFunction(target)
	p := v.rt.NewProxy(target, &goja.ProxyTrapConfig{
		Apply: func(t *goja.Object, this goja.Value, args []goja.Value) goja.Value {
			check(args)
			r, err := fn(this, args...)
			if err != nil {
				panic(err)
			}
			return r
		},
		Construct: func(t *goja.Object, args []goja.Value, newTarget *goja.Object) *goja.Object {
			check(args)
			r, err := v.lim.reflectCon(goja.Undefined(), t, v.rt.NewArray(valuesToAny(args)...), newTarget)
			if err != nil {
				panic(err)
			}
			return r.(*goja.Object)
		},
	})
	// goja's instanceof does not see through a proxy: give the target a
	// Symbol.hasInstance that walks the prototype chain.
	if proto, ok := target.Get("prototype").(*goja.Object); ok {
		_ = target.DefineDataPropertySymbol(goja.SymHasInstance, v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			o, ok := c.Argument(0).(*goja.Object)
			if !ok {
				return v.rt.ToValue(false)
			}
			for p := o.Prototype(); p != nil; p = p.Prototype() {
				if p == proto {
					return v.rt.ToValue(true)
				}
			}
			return v.rt.ToValue(false)
		}), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	}
	pv := v.rt.ToValue(p)
	_ = holder.DefineDataProperty(name, pv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	if proto, ok := target.Get("prototype").(*goja.Object); ok {
		_ = proto.DefineDataProperty("constructor", pv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

func valuesToAny(vs []goja.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

func (v *jsVM) installSandbox() {
	rt := v.rt
	g := rt.GlobalObject()
	lim := v.b.opts.Limits
	v.lim.maxElems = lim.MaxStringSize / 16
	if v.lim.maxElems < 1024 {
		v.lim.maxElems = 1024
	}
	v.lim.bindDepth = goja.NewSymbol("bindDepth")
	reflect := g.Get("Reflect").(*goja.Object)
	v.lim.reflectCon, _ = goja.AssertFunction(reflect.Get("construct"))

	// BigInt off.
	for _, n := range []string{"BigInt", "BigInt64Array", "BigUint64Array", "GoError"} {
		_ = g.Delete(n)
	}
	if dv, ok := g.Get("DataView").(*goja.Object); ok {
		if p, ok := dv.Get("prototype").(*goja.Object); ok {
			for _, n := range []string{"getBigInt64", "setBigInt64", "getBigUint64", "setBigUint64"} {
				_ = p.Delete(n)
			}
		}
	}

	v.installDynamicCode()

	// Strings.
	sp := g.Get("String").(*goja.Object).Get("prototype").(*goja.Object)
	v.wrap(sp, "repeat", func(c goja.FunctionCall) {
		n := c.Argument(0).ToFloat()
		if n > 0 && !math.IsInf(n, 0) {
			size := float64(strLen(c.This.ToString())) * math.Floor(n)
			if size > float64(lim.MaxStringSize) {
				v.tooLarge("String.prototype.repeat", int64(math.Min(size, math.MaxInt64/2)))
			}
		}
	})
	padCheck := func(what string) func(c goja.FunctionCall) {
		return func(c goja.FunctionCall) {
			n := c.Argument(0).ToFloat()
			if n > float64(lim.MaxStringSize) {
				v.tooLarge(what, int64(math.Min(n, math.MaxInt64/2)))
			}
		}
	}
	v.wrap(sp, "padStart", padCheck("String.prototype.padStart"))
	v.wrap(sp, "padEnd", padCheck("String.prototype.padEnd"))
	v.wrap(sp, "concat", func(c goja.FunctionCall) {
		total := strLen(c.This.ToString())
		for _, a := range c.Arguments {
			total += strLen(a.ToString())
			if total > lim.MaxStringSize {
				v.tooLarge("String.prototype.concat", total)
			}
		}
	})
	v.wrapReplace(sp, "replace", false)
	v.wrapReplace(sp, "replaceAll", true)
	v.wrapRegExp(g)
	splitVal := sp.Get("split")
	splitFn, _ := goja.AssertFunction(splitVal)
	v.replace(sp, "split", splitVal, func(c goja.FunctionCall) goja.Value {
		sep := c.Argument(0)
		if _, isObj := sep.(*goja.Object); isObj || goja.IsUndefined(sep) || goja.IsUndefined(c.This) || goja.IsNull(c.This) {
			return v.call(splitFn, c.This, c.Arguments...) // a RegExp's split is bounded by wrapRegExp
		}
		hay := v.jsString(c.This)
		seps := v.jsString(sep)
		if n := int64(hay.Length()) + 1; n > v.lim.maxElems {
			if l := c.Argument(1); goja.IsUndefined(l) || l.ToFloat() > float64(v.lim.maxElems) {
				if ss := seps.String(); ss != "" {
					n = int64(strings.Count(hay.String(), ss)) + 1
				}
				v.checkElems("String.prototype.split", n)
			}
		}
		if r, ok := v.splitLinear(hay, seps, c.Argument(1)); ok {
			return r
		}
		return v.call(splitFn, hay, seps, c.Argument(1))
	})
	v.installSearch(sp)

	// Arrays.
	arr := g.Get("Array").(*goja.Object)
	ap := arr.Get("prototype").(*goja.Object)
	v.replace(ap, "join", ap.Get("join"), v.join)
	skip := map[string]bool{"constructor": true, "push": true, "pop": true, "shift": true, "unshift": true, "at": true, "join": true}
	for _, name := range ap.GetOwnPropertyNames() {
		if skip[name] {
			continue
		}
		what := "Array.prototype." + name
		origVal := ap.Get(name)
		orig, _ := goja.AssertFunction(origVal)
		v.replace(ap, name, origVal, func(c goja.FunctionCall) goja.Value {
			n := lengthOf(c.This)
			v.checkElems(what, n)
			this := v.pinLength(c.This, n)
			r := v.call(orig, this, c.Arguments...)
			if r == this && this != c.This {
				return c.This // fill, copyWithin, reverse, sort return this
			}
			return r
		})
	}
	// Symbol.iterator is the same function as values.
	_ = ap.DefineDataPropertySymbol(goja.SymIterator, ap.Get("values"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	v.wrap(ap, "concat", func(c goja.FunctionCall) {
		n := lengthOf(c.This)
		for i, a := range c.Arguments {
			if l := lengthOf(a); l > 0 {
				n += l
				c.Arguments[i] = v.pinLength(a, l)
			} else {
				n++
			}
		}
		v.checkElems("Array.prototype.concat", n)
	})
	flatCheck := func(what string) func(c goja.FunctionCall) {
		return func(c goja.FunctionCall) {
			depth := 1.0
			if what == "Array.prototype.flat" {
				if d := c.Argument(0); !goja.IsUndefined(d) {
					depth = d.ToFloat()
				}
			}
			v.checkElems(what, v.flatCount(c.This, depth))
		}
	}
	v.wrap(ap, "flat", flatCheck("Array.prototype.flat"))
	v.wrap(ap, "flatMap", flatCheck("Array.prototype.flatMap"))
	v.wrap(arr, "from", func(c goja.FunctionCall) {
		n := lengthOf(c.Argument(0))
		v.checkElems("Array.from", n)
		if len(c.Arguments) > 0 {
			c.Arguments[0] = v.pinLength(c.Arguments[0], n)
		}
	})
	v.proxyCtor(g, "Array", func(args []goja.Value) {
		if len(args) == 1 {
			if _, isObj := args[0].(*goja.Object); !isObj {
				if f := args[0].ToFloat(); f > 0 && f == math.Trunc(f) {
					v.checkElems("Array", int64(math.Min(f, 1<<53)))
				}
			}
		}
	})

	// Typed arrays and buffers.
	v.proxyCtor(g, "ArrayBuffer", func(args []goja.Value) {
		if len(args) > 0 {
			if n := args[0].ToFloat(); n > float64(lim.MaxStringSize) {
				v.tooLarge("ArrayBuffer", int64(math.Min(n, 1<<53)))
			}
		}
	})
	for _, name := range []string{"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
		"Int32Array", "Uint32Array", "Float32Array", "Float64Array"} {
		ctor, ok := g.Get(name).(*goja.Object)
		if !ok {
			continue
		}
		bpe := ctor.Get("BYTES_PER_ELEMENT").ToInteger()
		what := name
		v.proxyCtor(g, name, func(args []goja.Value) {
			if len(args) == 0 {
				return
			}
			var n float64
			if o, ok := args[0].(*goja.Object); ok {
				if o.ExportType() == typeArrayBuffer {
					return // a view: no allocation
				}
				l := lengthOf(o)
				n = float64(l)
				args[0] = v.pinLength(o, l)
			} else {
				n = args[0].ToFloat()
			}
			if n*float64(bpe) > float64(lim.MaxStringSize) {
				v.tooLarge(what, int64(math.Min(n*float64(bpe), 1<<53)))
			}
		})
	}

	// Object key listings amplify typed arrays (one byte → one string).
	obj := g.Get("Object").(*goja.Object)
	keysCheck := func(what string) func(c goja.FunctionCall) {
		return func(c goja.FunctionCall) {
			switch o := c.Argument(0).(type) {
			case goja.String:
				v.checkElems(what, int64(o.Length()))
			case *goja.Object:
				if _, isBytes := bytesOf(o); isBytes || o.ClassName() == "Array" || o.ClassName() == "String" {
					v.checkElems(what, lengthOf(o))
				}
			}
		}
	}
	for _, n := range []string{"keys", "values", "entries", "getOwnPropertyNames"} {
		v.wrap(obj, n, keysCheck("Object."+n))
	}
	v.wrap(reflect, "ownKeys", keysCheck("Reflect.ownKeys"))
	assignCheck := keysCheck("Object.assign")
	v.wrap(obj, "assign", func(c goja.FunctionCall) {
		for _, a := range c.Arguments {
			assignCheck(goja.FunctionCall{Arguments: []goja.Value{a}})
		}
	})

	// Calls with argument lists.
	fp := g.Get("Function").(*goja.Object).Get("prototype").(*goja.Object)
	argList := func(what string, i int) func(c goja.FunctionCall) {
		return func(c goja.FunctionCall) {
			n := lengthOf(c.Argument(i))
			v.checkElems(what, n)
			if len(c.Arguments) > i {
				c.Arguments[i] = v.pinLength(c.Arguments[i], n)
			}
		}
	}
	v.wrap(fp, "apply", argList("Function.prototype.apply", 1))
	v.wrap(reflect, "apply", argList("Reflect.apply", 2))
	v.wrap(reflect, "construct", argList("Reflect.construct", 1))
	bind := fp.Get("bind")
	bindFn, _ := goja.AssertFunction(bind)
	v.replace(fp, "bind", bind, func(c goja.FunctionCall) goja.Value {
		depth := int64(0)
		if o, ok := c.This.(*goja.Object); ok {
			if d := o.GetSymbol(v.lim.bindDepth); d != nil && !goja.IsUndefined(d) {
				depth = d.ToInteger()
			}
		}
		if depth >= maxBindDepth {
			v.throw("RangeError", fmt.Errorf("Function.prototype.bind: more than %d nested bound functions: %w", maxBindDepth, sandbox.ErrTooLarge))
		}
		r, err := bindFn(c.This, c.Arguments...)
		if err != nil {
			panic(err)
		}
		if o, ok := r.(*goja.Object); ok {
			_ = o.DefineDataPropertySymbol(v.lim.bindDepth, rt.ToValue(depth+1), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		}
		return r
	})

	// JSON.stringify.
	jsonObj := g.Get("JSON").(*goja.Object)
	orig := jsonObj.Get("stringify")
	v.api.jsonStringify, _ = goja.AssertFunction(orig)
	v.lim.jsonReplacer = rt.ToValue(v.boundJSON)
	v.replace(jsonObj, "stringify", orig, func(c goja.FunctionCall) goja.Value {
		return v.boundedStringify(c.Argument(0), c.Argument(1), c.Argument(2))
	})

	v.installProtoGuards(g, obj, reflect)
	v.installArraySearch(ap)
	v.installGrowth(g, sp, ap)
	v.installRegExpBounds(g, sp)
	v.installCallbackChecks(g, ap)
	v.installIterators()
}

// wrapReplace bounds String.prototype.replace/replaceAll with a string
// pattern: the matches are counted (strings.Count, cheap) and refused past
// maxElems (goja collects every match's indexes before it replaces), and
// the result size is bounded before the call; with a replacer function,
// the total size of what it returns is bounded as it goes. A RegExp
// pattern is handed to RegExp.prototype[Symbol.replace], bounded by
// wrapRegExp.
func (v *jsVM) wrapReplace(sp *goja.Object, name string, all bool) {
	origVal := sp.Get(name)
	orig, _ := goja.AssertFunction(origVal)
	what := "String.prototype." + name
	v.replace(sp, name, origVal, func(c goja.FunctionCall) goja.Value {
		pattern, repl := c.Argument(0), c.Argument(1)
		if po, ok := pattern.(*goja.Object); ok && po.GetSymbol(goja.SymReplace) != nil && !goja.IsUndefined(po.GetSymbol(goja.SymReplace)) {
			return v.call(orig, c.This, c.Arguments...) // bounded by the RegExp wrapper
		}
		s := c.This.ToString()
		n := strLen(s)
		if hs, ok := s.(goja.String); ok {
			if pv := v.jsString(pattern); naiveRisk(hs, pv) {
				return v.replaceLinear(what, hs, pv, all, repl)
			}
		}
		matches := int64(0)
		ps := pattern.String()
		switch {
		case !all:
			if strings.Contains(s.String(), ps) {
				matches = 1
			}
		case ps == "":
			matches = n + 1
		default:
			matches = int64(strings.Count(s.String(), ps))
		}
		v.checkElems(what+" (matches)", matches)
		args := v.boundReplacement(what, n, matches, repl)
		return v.call(orig, c.This, pattern, args)
	})
}

// boundReplacement checks that replacing matches matches in a string of n
// bytes with repl stays within MaxStringSize, and returns the replacement
// to pass on: repl itself, or for a function a wrapper that bounds the
// total size of what it returns.
func (v *jsVM) boundReplacement(what string, n, matches int64, repl goja.Value) goja.Value {
	max := v.b.opts.Limits.MaxStringSize
	if fn, ok := goja.AssertFunction(repl); ok {
		total := n
		return v.rt.ToValue(func(fc goja.FunctionCall) goja.Value {
			r, err := fn(fc.This, fc.Arguments...)
			if err != nil {
				panic(err)
			}
			rs := r.ToString()
			total += strLen(rs)
			if total > max {
				v.tooLarge(what, total)
			}
			return rs
		})
	}
	rs := repl.ToString()
	rl := strLen(rs)
	if d := int64(strings.Count(rs.String(), "$")); d > 0 {
		rl += d * n // $&, $`, $' insert up to n each
	}
	if bound := n + matches*rl; bound > max || bound < 0 {
		v.tooLarge(what, min(max64(bound, max+1), math.MaxInt64/2))
	}
	return repl
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// call calls fn, rethrowing its exception.
func (v *jsVM) call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	r, err := fn(this, args...)
	if err != nil {
		panic(err)
	}
	return r
}

// wrapRegExp bounds the RegExp methods that collect every match of a
// global regexp before returning (goja's Symbol.replace and Symbol.match
// gather all match indexes, then build the result in one native call, so
// "a".repeat(1e7).replace(/a/g, "xxxxxxxx") was one uninterruptible call
// of seconds and gigabytes). On an input longer than maxElems (or whose
// replacement could pass MaxStringSize) the matches are first counted with
// the original exec on a fresh copy of the regexp, stopping at maxElems+1
// and checking the request's context as it goes; more than maxElems
// matches, or a result past MaxStringSize, is a RangeError.
func (v *jsVM) wrapRegExp(g *goja.Object) {
	ctor, ok := g.Get("RegExp").(*goja.Object)
	if !ok {
		return
	}
	proto, ok := ctor.Get("prototype").(*goja.Object)
	if !ok {
		return
	}
	exec, ok := goja.AssertFunction(proto.Get("exec"))
	if !ok {
		return
	}
	count := func(re goja.Value, s goja.Value) int64 {
		o, ok := re.(*goja.Object)
		if !ok || !o.Get("global").ToBoolean() {
			return 1
		}
		cl, err := v.rt.New(ctor, o)
		if err != nil {
			panic(err)
		}
		var n int64
		for n <= v.lim.maxElems {
			v.checkCtx() // each exec may take up to regexpTimeout
			m, err := exec(cl, s)
			if err != nil {
				panic(err)
			}
			if m == nil || goja.IsNull(m) || goja.IsUndefined(m) {
				break
			}
			n++
			mo, _ := m.(*goja.Object)
			if mo != nil && strLen(mo.Get("0").ToString()) == 0 {
				_ = cl.Set("lastIndex", cl.Get("lastIndex").ToInteger()+1)
			}
		}
		return n
	}
	max := v.b.opts.Limits.MaxStringSize
	wrapSym := func(sym *goja.Symbol, what string, check func(c goja.FunctionCall)) {
		orig, ok := goja.AssertFunction(proto.GetSymbol(sym))
		if !ok {
			return
		}
		origVal := proto.GetSymbol(sym)
		f := v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			defer v.enterNative()()
			check(c)
			return v.call(orig, c.This, c.Arguments...)
		}).(*goja.Object)
		if o, ok := origVal.(*goja.Object); ok {
			_ = f.DefineDataProperty("name", o.Get("name"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
			_ = f.DefineDataProperty("length", o.Get("length"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		}
		_ = proto.DefineDataPropertySymbol(sym, f, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	wrapSym(goja.SymReplace, "String.prototype.replace", func(c goja.FunctionCall) {
		s := c.Argument(0).ToString()
		n := strLen(s)
		repl := c.Argument(1)
		if _, isFn := goja.AssertFunction(repl); isFn {
			if n > v.lim.maxElems {
				v.checkElems("String.prototype.replace (regexp matches)", count(c.This, s))
			}
			c.Arguments[1] = v.boundReplacement("String.prototype.replace", n, 0, repl)
			return
		}
		if n <= v.lim.maxElems {
			rl := strLen(repl.ToString()) + int64(strings.Count(repl.String(), "$"))*n
			if n+(n+1)*rl <= max {
				return
			}
		}
		matches := count(c.This, s)
		v.checkElems("String.prototype.replace (regexp matches)", matches)
		v.boundReplacement("String.prototype.replace", n, matches, repl)
	})
	wrapSym(goja.SymMatch, "String.prototype.match", func(c goja.FunctionCall) {
		s := c.Argument(0).ToString()
		if strLen(s) <= v.lim.maxElems {
			return
		}
		v.checkElems("String.prototype.match (regexp matches)", count(c.This, s))
	})
	wrapSym(goja.SymSplit, "String.prototype.split", func(c goja.FunctionCall) {
		s := c.Argument(0).ToString()
		if n := strLen(s) + 1; n > v.lim.maxElems {
			if l := c.Argument(1); goja.IsUndefined(l) || l.ToFloat() > float64(v.lim.maxElems) {
				v.checkElems("String.prototype.split", n)
			}
		}
	})
}

// flatCount counts the elements flat(depth) would produce, stopping as
// soon as the count (or the number of arrays visited) passes maxElems, and
// refusing arrays nested more than maxJoinDepth deep: goja's flat recurses
// natively on each nested array, so a cyclic array (a.push(a);
// a.flat(Infinity)) recursed until the Go stack overflowed.
func (v *jsVM) flatCount(root goja.Value, depth float64) int64 {
	type item struct {
		o     *goja.Object
		depth float64
		level int
	}
	o, ok := root.(*goja.Object)
	if !ok {
		return 0
	}
	var n, visited int64
	stack := []item{{o, depth, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.level > maxJoinDepth {
			v.throw("RangeError", fmt.Errorf("Array.prototype.flat: arrays nested more than %d deep: %w", maxJoinDepth, sandbox.ErrTooLarge))
		}
		l := lengthOf(it.o)
		if l > v.lim.maxElems {
			return l
		}
		for i := int64(0); i < l; i++ {
			e, isObj := it.o.Get(itoa(i)).(*goja.Object)
			if isObj && it.depth >= 1 && e.ClassName() == "Array" {
				stack = append(stack, item{e, it.depth - 1, it.level + 1})
			} else {
				n++
			}
			if visited++; n > v.lim.maxElems || visited > v.lim.maxElems {
				return max(n, visited)
			}
		}
	}
	return n
}

// join is Array.prototype.join with its output size and nesting bounded
// (goja's own recurses without limit on nested arrays).
func (v *jsVM) join(c goja.FunctionCall) goja.Value {
	sep := goja.Value(nil)
	if a := c.Argument(0); !goja.IsUndefined(a) {
		sep = a
	}
	return v.joinWith("Array.prototype.join", c.This, sep, false)
}

// joinWith joins the elements of the array-like this with sep ("," if
// nil), each converted with ToString or, for locale, its toLocaleString
// method; the output size, the nesting and the element count are bounded,
// and the request's context is checked as it goes.
func (v *jsVM) joinWith(what string, this, sepVal goja.Value, locale bool) goja.Value {
	o := this.ToObject(v.rt)
	n := lengthOf(o)
	v.checkElems(what, n)
	for _, s := range v.lim.joinStack {
		if s == o {
			return v.rt.ToValue("") // a cycle joins as "", as in goja and V8
		}
	}
	if len(v.lim.joinStack) >= maxJoinDepth {
		v.throw("RangeError", fmt.Errorf("%s: arrays nested more than %d deep: %w", what, maxJoinDepth, sandbox.ErrTooLarge))
	}
	v.lim.joinStack = append(v.lim.joinStack, o)
	defer func() { v.lim.joinStack = v.lim.joinStack[:len(v.lim.joinStack)-1] }()
	if v.lim.comma == nil {
		v.lim.comma = v.rt.ToValue(",").(goja.String)
	}
	sep := v.lim.comma
	if sepVal != nil {
		sep = v.jsString(sepVal)
	}
	max := v.b.opts.Limits.MaxStringSize
	if n > 1 && int64(sep.Length())*(n-1) > max {
		v.tooLarge(what, int64(sep.Length())*(n-1))
	}
	var b goja.StringBuilder
	size := int64(0)
	for i := int64(0); i < n; i++ {
		if i > 0 {
			b.WriteString(sep)
			size += int64(sep.Length())
		}
		if i&4095 == 4095 {
			v.checkCtx()
		}
		e := o.Get(itoa(i))
		if e == nil || goja.IsUndefined(e) || goja.IsNull(e) {
			continue
		}
		var s goja.String
		if locale {
			eo := e.ToObject(v.rt)
			fn, ok := goja.AssertFunction(eo.Get("toLocaleString"))
			if !ok {
				v.typeError("toLocaleString is not a function")
			}
			s = v.jsString(v.call(fn, e))
		} else {
			s = v.jsString(e)
		}
		size += int64(s.Length())
		if size > max {
			v.tooLarge(what, size)
		}
		b.WriteString(s)
	}
	return b.String()
}

func itoa(i int64) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return fmt.Sprint(i)
}

// boundedStringify is JSON.stringify with a replacer that tracks the output
// size and the nesting depth as the walk goes, and throws a RangeError
// wrapping sandbox.ErrTooLarge past Limits.MaxStringSize or maxJSONNest
// levels. A user replacer function runs first; a replacer array (key
// allowlist) is emulated for the bounded pass, then the real call runs
// with it (same keys and values, so the same size).
//
// The bounding replacer is one native function per VM (jsonReplacer); the
// state of the call in progress is v.lim.json. A stringify inside another
// (a toJSON or a user replacer calling JSON.stringify) gets its own state
// and restores the outer one when it returns.
func (v *jsVM) boundedStringify(val, replacer, space goja.Value) goja.Value {
	prev := v.lim.json
	st := &v.lim.jsonTop
	if prev != nil {
		st = &jsonBound{}
	}
	st.limit = v.b.opts.Limits.MaxStringSize
	st.gap = 0
	switch s := space.Export().(type) {
	case int64:
		st.gap = min(max(s, 0), 10)
	case float64:
		st.gap = int64(math.Min(math.Max(s, 0), 10))
	case string:
		st.gap = int64(min(len(s), 10))
	}
	if fn, ok := goja.AssertFunction(replacer); ok {
		st.userFn = fn
	} else if o, ok := replacer.(*goja.Object); ok && o.ClassName() == "Array" {
		st.allow = map[string]bool{}
		for i, l := int64(0), lengthOf(o); i < l && i < v.lim.maxElems; i++ {
			if e := o.Get(itoa(i)); e != nil && !goja.IsUndefined(e) {
				st.allow[e.String()] = true
			}
		}
	}
	v.lim.json = st
	defer func() {
		v.lim.json = prev
		clear(st.stack)
		if cap(st.stack) > maxKeptPairs {
			st.stack = nil
		}
		st.stack, st.size, st.userFn, st.allow = st.stack[:0], 0, nil, nil
	}()
	var r goja.Value
	var err error
	if prev == nil {
		args := &v.lim.jsonArgs
		args[0], args[1], args[2] = val, v.lim.jsonReplacer, space
		r, err = v.api.jsonStringify(goja.Undefined(), args[:]...)
		*args = [3]goja.Value{}
	} else {
		r, err = v.api.jsonStringify(goja.Undefined(), val, v.lim.jsonReplacer, space)
	}
	if err != nil {
		panic(err)
	}
	if st.allow != nil {
		r, err = v.api.jsonStringify(goja.Undefined(), val, replacer, space)
		if err != nil {
			panic(err)
		}
	}
	return r
}

// jsonBound is the state of one boundedStringify call.
type jsonBound struct {
	userFn           goja.Callable
	allow            map[string]bool
	stack            []*goja.Object
	size, gap, limit int64
}

// boundJSON is the replacer boundedStringify passes to JSON.stringify.
func (v *jsVM) boundJSON(c goja.FunctionCall) goja.Value {
	st := v.lim.json
	key, value := c.Argument(0), c.Argument(1)
	if st == nil {
		return value // called outside a stringify: not bounding anything
	}
	holder, _ := c.This.(*goja.Object)
	if st.userFn != nil {
		r, err := st.userFn(c.This, key, value)
		if err != nil {
			panic(err)
		}
		value = r
	}
	for len(st.stack) > 0 && st.stack[len(st.stack)-1] != holder {
		st.stack = st.stack[:len(st.stack)-1]
	}
	if st.allow != nil && len(st.stack) > 0 && holder.ClassName() != "Array" && !st.allow[key.String()] {
		return goja.Undefined()
	}
	depth := int64(len(st.stack))
	if depth > maxJSONNest {
		v.throw("RangeError", fmt.Errorf("JSON.stringify: value nested more than %d levels: %w", maxJSONNest, sandbox.ErrTooLarge))
	}
	st.size += strLen(key) + 4 + st.gap*depth
	switch t := value.(type) {
	case *goja.Object:
		if _, isFn := goja.AssertFunction(t); !isFn {
			st.stack = append(st.stack, t)
		}
		st.size += 2
	case goja.String:
		st.size += int64(t.Length()) + 2
	default:
		st.size += 24
	}
	if st.size > st.limit {
		v.tooLarge("JSON.stringify", st.size)
	}
	return value
}

// functionProtos evaluates to the prototypes of async and generator
// functions, whose constructors are reachable only through them.
var functionProtos = goja.MustCompile("<init>", `[Object.getPrototypeOf(async function(){}), Object.getPrototypeOf(function*(){})]`, true)

// installDynamicCode replaces eval and the function constructors with
// versions that apply the file nesting bounds (and the BigInt ban) before
// goja parses the text.
func (v *jsVM) installDynamicCode() {
	rt := v.rt
	g := rt.GlobalObject()
	evalVal := g.Get("eval")
	v.replace(g, "eval", evalVal, func(c goja.FunctionCall) goja.Value {
		src, ok := c.Argument(0).(goja.String)
		if !ok {
			return c.Argument(0)
		}
		prog, _, serr := compileSource("<eval>", src.String(), 0)
		if serr != nil {
			v.throw("SyntaxError", errors.New(strings.TrimPrefix(serr.Error(), "<eval>: ")))
		}
		r, err := rt.RunProgram(prog)
		if err != nil {
			panic(err)
		}
		return r
	})
	protos, err := rt.RunProgram(functionProtos)
	if err != nil {
		panic(fmt.Sprintf("js: find function prototypes: %v", err))
	}
	check := func(prefix string) func(args []goja.Value) {
		return func(args []goja.Value) {
			var params []string
			body := ""
			for i, a := range args {
				if i == len(args)-1 {
					body = a.String()
				} else {
					params = append(params, a.String())
				}
			}
			src := prefix + " anonymous(" + strings.Join(params, ",") + "\n) {\n" + body + "\n})"
			if _, _, serr := compileSource("<function>", src, 0); serr != nil {
				v.throw("SyntaxError", errors.New(strings.TrimPrefix(serr.Error(), "<function>: ")))
			}
		}
	}
	v.proxyCtor(g, "Function", check("(function"))
	po := protos.(*goja.Object)
	for i, prefix := range []string{"(async function", "(function*"} {
		proto := po.Get(itoa(int64(i))).(*goja.Object)
		holder := rt.NewObject()
		_ = holder.Set("F", proto.Get("constructor"))
		v.proxyCtor(holder, "F", check(prefix))
	}
}

// maxNativeDepth bounds how deeply wrapped built-ins may call each other
// without a script frame in between. Such a chain recurses in Go, where
// goja's call-stack limit does not count it: an array whose length is an
// array whose toString calls the wrapped join, which reads the length…,
// ended the process with a Go stack overflow (found by FuzzHostileJS;
// docs/sandbox.md, "What the JS engine bounds and how").
const maxNativeDepth = 2500 // above maxJoinDepth, whose nesting recurses through the wrappers too

// enterNative counts one wrapped built-in on the Go stack and returns the
// function that uncounts it; past maxNativeDepth it throws the RangeError
// a script sees for any too-deep recursion.
func (v *jsVM) enterNative() func() {
	v.nativeDepth++
	if v.nativeDepth > maxNativeDepth {
		v.nativeDepth--
		v.throw("RangeError", fmt.Errorf("maximum call stack size exceeded: built-ins calling each other more than %d deep", maxNativeDepth))
	}
	return v.leaveNative
}

func (v *jsVM) leaveNative() { v.nativeDepth-- }
