package js

import (
	"fmt"
	"math"
	"reflect"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/sandbox"
)

// The second half of the sandbox's share of this engine (see limits.go and
// docs/sandbox.md, "What the JS engine bounds and how"): the native
// recursion and native loops of goja that never return to the interpreter,
// so neither goja's call-stack limit nor its interrupt flag stops them.
//
//   - Prototype cycles through proxies. goja follows a proxy to its target
//     natively whenever the handler has no trap (and a trap can be deleted
//     later), and an ordinary object to its [[Prototype]]; its own cycle
//     check at setPrototypeOf stops at the first proxy, as the spec says.
//     A cycle of such links made a property read recurse until Go's stack
//     overflowed (a fatal error: the whole process ends) and made instanceof
//     and isPrototypeOf loop forever. Every way to change the prototype of
//     an existing object (Object.setPrototypeOf, Reflect.setPrototypeOf, the
//     Object.prototype.__proto__ setter, which `o.__proto__ = p`,
//     Reflect.set and Object.assign reach) first walks those links from the
//     new prototype and refuses a cycle (TypeError "Cyclic __proto__
//     value"); new objects (literals, Object.create, classes, new) and new
//     proxies cannot close a cycle. A proxy target and a new prototype must
//     reach the end of their chain within maxForwardDepth links, so proxy-
//     of-proxy chains stay shallow too.
//   - Built-in iterators (of arrays, strings, maps, sets, regexp matches)
//     check the request's context every iterCheckEvery steps, so the native
//     loops that consume them (Array.from, Promise.all, new Set, spread,
//     Object.fromEntries…) end at the deadline or when the memory watchdog
//     stops the request.
//   - Searches whose cost is not linear in goja (the UTF-16 indexOf,
//     lastIndexOf, includes and split, Array.prototype.indexOf & co. over
//     long strings, the default sort of long strings) are done here in
//     linear time or check the context as they go.

const (
	// maxForwardDepth bounds the links walked from a new prototype or a
	// proxy's target (real code has a handful).
	maxForwardDepth = 1000
	// iterCheckEvery is how often a built-in iterator checks the context.
	iterCheckEvery = 1024
	// workCheckEvery is how many bytes a bounded search compares between
	// two checks of the context.
	workCheckEvery = 1 << 20
	// maxRegexpNest bounds the group nesting of a pattern compiled at run
	// time (regexp2's parser recurses on it).
	maxRegexpNest = 1000
)

var typeProxy = reflect.TypeOf(goja.Proxy{})

// checkCtx throws the request's interrupt as a script error when its
// context has ended; the interrupt flag goja also got makes sure a script
// that catches it stops at its next instruction.
func (v *jsVM) checkCtx() {
	if err := ctxError(v.ctx); err != nil {
		v.throw("Error", err)
	}
}

// forwardNext is the object goja may forward an operation on o to without
// calling script code: a proxy's target, else o's [[Prototype]].
func forwardNext(o *goja.Object) *goja.Object {
	if o.ExportType() == typeProxy {
		p, _ := o.Export().(goja.Proxy)
		return p.Target() // nil once revoked
	}
	return o.Prototype()
}

// forwardDepth counts the links from o to the end of its chain, stopping
// past maxForwardDepth.
func forwardDepth(o *goja.Object) int {
	n := 0
	for p := o; p != nil && n <= maxForwardDepth; p = forwardNext(p) {
		n++
	}
	return n
}

func (v *jsVM) tooDeep(what string) {
	v.throw("RangeError", fmt.Errorf("%s: a chain of prototypes and proxy targets longer than %d: %w", what, maxForwardDepth, sandbox.ErrTooLarge))
}

// protoCycle reports whether making proto the prototype of o would close a
// cycle of forwarding links. o may be a proxy (without a trap goja sets
// the prototype of its target, and so on), so all of o's proxy→target
// chain counts as o. A chain longer than maxForwardDepth is refused.
func (v *jsVM) protoCycle(what string, o, proto *goja.Object) bool {
	self := []*goja.Object{o}
	for p := o; p.ExportType() == typeProxy; {
		px, _ := p.Export().(goja.Proxy)
		if p = px.Target(); p == nil {
			break
		}
		self = append(self, p)
		if len(self) > maxForwardDepth {
			v.tooDeep(what)
		}
	}
	n := 0
	for p := proto; p != nil; p = forwardNext(p) {
		for _, s := range self {
			if p == s {
				return true
			}
		}
		if n++; n > maxForwardDepth {
			v.tooDeep(what)
		}
	}
	return false
}

var protoDescriptor = goja.MustCompile("<init>", `Object.getOwnPropertyDescriptor(Object.prototype, "__proto__")`, true)

// installProtoGuards guards every way to change an existing object's
// prototype, and the Proxy constructor.
func (v *jsVM) installProtoGuards(g, obj, reflectObj *goja.Object) {
	rt := v.rt
	cyclic := func() { v.typeError("Cyclic __proto__ value") }
	v.wrap(obj, "setPrototypeOf", func(c goja.FunctionCall) {
		o, ok1 := c.Argument(0).(*goja.Object)
		p, ok2 := c.Argument(1).(*goja.Object)
		if ok1 && ok2 && v.protoCycle("Object.setPrototypeOf", o, p) {
			cyclic()
		}
	})
	rsp := reflectObj.Get("setPrototypeOf")
	rspFn, _ := goja.AssertFunction(rsp)
	v.replace(reflectObj, "setPrototypeOf", rsp, func(c goja.FunctionCall) goja.Value {
		o, ok1 := c.Argument(0).(*goja.Object)
		p, ok2 := c.Argument(1).(*goja.Object)
		if ok1 && ok2 && v.protoCycle("Reflect.setPrototypeOf", o, p) {
			return rt.ToValue(false) // as for an ordinary cycle
		}
		return v.call(rspFn, c.This, c.Arguments...)
	})
	if d, err := rt.RunProgram(protoDescriptor); err == nil {
		if do, ok := d.(*goja.Object); ok {
			getter, setter := do.Get("get"), do.Get("set")
			setFn, ok := goja.AssertFunction(setter)
			if ok {
				guarded := rt.ToValue(func(c goja.FunctionCall) goja.Value {
					o, ok1 := c.This.(*goja.Object)
					p, ok2 := c.Argument(0).(*goja.Object)
					if ok1 && ok2 && v.protoCycle("Object.prototype.__proto__", o, p) {
						cyclic()
					}
					return v.call(setFn, c.This, c.Arguments...)
				}).(*goja.Object)
				if so, ok := setter.(*goja.Object); ok {
					_ = guarded.DefineDataProperty("name", so.Get("name"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
				}
				op := obj.Get("prototype").(*goja.Object)
				_ = op.DefineAccessorProperty("__proto__", getter, guarded, goja.FLAG_TRUE, goja.FLAG_FALSE)
			}
		}
	}
	// Proxy: a target at the end of a too long chain is refused, so
	// proxy-of-proxy chains stay within maxForwardDepth.
	proxyCheck := func(what string) func(args []goja.Value) {
		return func(args []goja.Value) {
			if len(args) > 0 {
				if t, ok := args[0].(*goja.Object); ok && forwardDepth(t) > maxForwardDepth {
					v.tooDeep(what)
				}
			}
		}
	}
	if p, ok := g.Get("Proxy").(*goja.Object); ok {
		check := proxyCheck("Proxy.revocable")
		v.wrap(p, "revocable", func(c goja.FunctionCall) { check(c.Arguments) })
	}
	v.proxyCtor(g, "Proxy", proxyCheck("Proxy"))
}

// iteratorProtos evaluates to the prototypes of the built-in iterators
// whose next is native.
var iteratorProtos = goja.MustCompile("<init>", `[
	Object.getPrototypeOf([][Symbol.iterator]()),
	Object.getPrototypeOf(""[Symbol.iterator]()),
	Object.getPrototypeOf(new Map()[Symbol.iterator]()),
	Object.getPrototypeOf(new Set()[Symbol.iterator]()),
	Object.getPrototypeOf(/a/g[Symbol.matchAll]("")),
]`, true)

// installIterators makes the built-in iterators check the request's context
// every iterCheckEvery steps.
func (v *jsVM) installIterators() {
	protos, err := v.rt.RunProgram(iteratorProtos)
	if err != nil {
		panic(fmt.Sprintf("js: find iterator prototypes: %v", err))
	}
	po := protos.(*goja.Object)
	for i := int64(0); i < lengthOf(po); i++ {
		proto, ok := po.Get(itoa(i)).(*goja.Object)
		if !ok {
			continue
		}
		v.wrap(proto, "next", func(goja.FunctionCall) {
			if v.lim.iterSteps++; v.lim.iterSteps >= iterCheckEvery {
				v.lim.iterSteps = 0
				v.checkCtx()
			}
		})
	}
}

// typeASCII is the dynamic type of goja's one-byte strings; any other
// String is UTF-16, searched by goja without a linear bound.
var typeASCII = reflect.TypeOf(goja.New().ToValue("a"))

func isUTF16(s goja.String) bool { return reflect.TypeOf(s) != typeASCII }

// naiveRisk reports whether goja's own search of needle in hay could be
// quadratic: hay is UTF-16 (its search restarts on every misaligned byte
// match) and the product of the lengths is large.
func naiveRisk(hay, needle goja.String) bool {
	n, m := int64(hay.Length()), int64(needle.Length())
	return m >= 2 && n >= m && isUTF16(hay) && n*m > 1<<16
}

// units copies the UTF-16 code units of s.
func units(s goja.String) []uint16 {
	u := make([]uint16, s.Length())
	for i := range u {
		u[i] = s.CharAt(i)
	}
	return u
}

// kmp is a Knuth–Morris–Pratt matcher: linear in the haystack whatever the
// input, where goja's UTF-16 search is O(n·m) on adversarial strings.
type kmp struct {
	p    []uint16
	fail []int32
}

func newKMP(p []uint16) *kmp {
	fail := make([]int32, len(p))
	k := int32(0)
	for i := 1; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = fail[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		fail[i] = k
	}
	return &kmp{p: p, fail: fail}
}

// find returns the first i in [from, n) where the pattern starts in the
// sequence at(0..n-1), or -1.
func (m *kmp) find(at func(int) uint16, from, n int) int {
	k := int32(0)
	for i := from; i < n; i++ {
		c := at(i)
		for k > 0 && c != m.p[k] {
			k = m.fail[k-1]
		}
		if c == m.p[k] {
			k++
		}
		if int(k) == len(m.p) {
			return i - len(m.p) + 1
		}
	}
	return -1
}

func reversed(u []uint16) []uint16 {
	r := make([]uint16, len(u))
	for i, c := range u {
		r[len(u)-1-i] = c
	}
	return r
}

// searchArgs converts the receiver and the search string of a String
// method, or reports false when the original must handle the call (a
// null receiver, a RegExp argument).
func searchArgs(c goja.FunctionCall) (hay, needle goja.String, ok bool) {
	if goja.IsUndefined(c.This) || goja.IsNull(c.This) {
		return nil, nil, false
	}
	a := c.Argument(0)
	if o, isObj := a.(*goja.Object); isObj {
		if m := o.GetSymbol(goja.SymMatch); (m != nil && !goja.IsUndefined(m)) || o.ClassName() == "RegExp" {
			return nil, nil, false
		}
	}
	hay, ok1 := c.This.ToString().(goja.String)
	needle, ok2 := a.ToString().(goja.String)
	return hay, needle, ok1 && ok2
}

func clampPos(v goja.Value, def, n int) int {
	if goja.IsUndefined(v) {
		return def
	}
	f := v.ToFloat()
	switch {
	case math.IsNaN(f):
		return def
	case f < 0:
		return 0
	case f > float64(n):
		return n
	}
	return int(f)
}

// installSearch replaces goja's UTF-16 substring searches with linear ones
// where goja's could be quadratic.
func (v *jsVM) installSearch(sp *goja.Object) {
	rt := v.rt
	indexOf := func(hay, needle goja.String, from int) int {
		return newKMP(units(needle)).find(hay.CharAt, from, hay.Length())
	}
	for _, name := range []string{"indexOf", "includes"} {
		origVal := sp.Get(name)
		orig, _ := goja.AssertFunction(origVal)
		incl := name == "includes"
		v.replace(sp, name, origVal, func(c goja.FunctionCall) goja.Value {
			hay, needle, ok := searchArgs(c)
			if !ok || !naiveRisk(hay, needle) {
				if ok {
					return v.call(orig, hay, append([]goja.Value{needle}, c.Arguments[min(1, len(c.Arguments)):]...)...)
				}
				return v.call(orig, c.This, c.Arguments...)
			}
			i := indexOf(hay, needle, clampPos(c.Argument(1), 0, hay.Length()))
			if incl {
				return rt.ToValue(i >= 0)
			}
			return rt.ToValue(i)
		})
	}
	origVal := sp.Get("lastIndexOf")
	orig, _ := goja.AssertFunction(origVal)
	v.replace(sp, "lastIndexOf", origVal, func(c goja.FunctionCall) goja.Value {
		hay, needle, ok := searchArgs(c)
		if !ok || !naiveRisk(hay, needle) {
			if ok {
				return v.call(orig, hay, append([]goja.Value{needle}, c.Arguments[min(1, len(c.Arguments)):]...)...)
			}
			return v.call(orig, c.This, c.Arguments...)
		}
		n, m := hay.Length(), needle.Length()
		pos := clampPos(c.Argument(1), n, n)
		end := min(pos+m, n) // the match lies in hay[:end]
		j := newKMP(reversed(units(needle))).find(func(i int) uint16 { return hay.CharAt(end - 1 - i) }, 0, end)
		if j < 0 {
			return rt.ToValue(-1)
		}
		return rt.ToValue(end - j - m)
	})
}

// split is String.prototype.split with a string separator of two or more
// units on a UTF-16 string, in linear time.
func (v *jsVM) splitLinear(hay, sep goja.String, limitVal goja.Value) (goja.Value, bool) {
	if !naiveRisk(hay, sep) {
		return nil, false
	}
	limit := int64(math.MaxUint32)
	if !goja.IsUndefined(limitVal) {
		limit = int64(uint32(limitVal.ToInteger()))
	}
	var parts []any
	if limit == 0 {
		return v.rt.NewArray(), true
	}
	k := newKMP(units(sep))
	n, m := hay.Length(), sep.Length()
	start := 0
	for int64(len(parts)) < limit {
		i := k.find(hay.CharAt, start, n)
		if i < 0 {
			break
		}
		parts = append(parts, hay.Substring(start, i))
		start = i + m
		if int64(len(parts)) > v.lim.maxElems {
			v.checkElems("String.prototype.split", int64(len(parts)))
		}
	}
	if int64(len(parts)) < limit {
		parts = append(parts, hay.Substring(start, n))
	}
	return v.rt.NewArray(parts...), true
}

// installArraySearch makes Array.prototype.indexOf, lastIndexOf and
// includes check the request's context as they compare long strings (one
// comparison of two equal-length strings reads both whole; 1 Mi elements
// of 16 MiB each was hours of native work).
func (v *jsVM) installArraySearch(ap *goja.Object) {
	rt := v.rt
	for _, name := range []string{"indexOf", "lastIndexOf", "includes"} {
		origVal := ap.Get(name)
		orig, _ := goja.AssertFunction(origVal)
		name := name
		v.replace(ap, name, origVal, func(c goja.FunctionCall) goja.Value {
			needle, isStr := c.Argument(0).(goja.String)
			if !isStr || needle.Length() < 256 || goja.IsUndefined(c.This) || goja.IsNull(c.This) {
				return v.call(orig, c.This, c.Arguments...)
			}
			o := c.This.ToObject(rt)
			n := lengthOf(o)
			v.checkElems("Array.prototype."+name, n)
			L := needle.Length()
			work := 0
			match := func(i int64) bool {
				e, ok := o.Get(itoa(i)).(goja.String)
				if !ok || e.Length() != L {
					return false
				}
				if work += L; work > workCheckEvery {
					work = 0
					v.checkCtx()
				}
				return e.StrictEquals(needle)
			}
			notFound := rt.ToValue(-1)
			if name == "lastIndexOf" {
				k := n - 1
				if len(c.Arguments) > 1 {
					f := c.Argument(1).ToFloat()
					switch {
					case math.IsNaN(f):
						k = 0
					case f >= 0:
						k = int64(math.Min(f, float64(n-1)))
					default:
						k = n + int64(math.Max(math.Trunc(f), float64(-n-1)))
					}
				}
				for i := k; i >= 0; i-- {
					if match(i) {
						return rt.ToValue(i)
					}
				}
				return notFound
			}
			k := int64(0)
			if f := c.Argument(1).ToFloat(); !math.IsNaN(f) {
				f = math.Trunc(f)
				if f >= float64(n) {
					k = n
				} else if f < 0 {
					k = max(n+int64(f), 0)
				} else {
					k = int64(f)
				}
			}
			for i := k; i < n; i++ {
				if match(i) {
					if name == "includes" {
						return rt.ToValue(true)
					}
					return rt.ToValue(i)
				}
			}
			if name == "includes" {
				return rt.ToValue(false)
			}
			return notFound
		})
	}
	// The default order of sort and toSorted compares the elements as
	// strings: a native comparator that checks the context as it goes.
	for _, name := range []string{"sort", "toSorted"} {
		origVal := ap.Get(name)
		orig, _ := goja.AssertFunction(origVal)
		v.replace(ap, name, origVal, func(c goja.FunctionCall) goja.Value {
			if len(c.Arguments) > 0 && !goja.IsUndefined(c.Arguments[0]) {
				return v.call(orig, c.This, c.Arguments...)
			}
			return v.call(orig, c.This, v.defaultCompare())
		})
	}
}

// numericCompare is the comparator of a typed array's sort without one:
// numbers ascending, -0 before +0, NaN last.
func (v *jsVM) numericCompare() goja.Value {
	if v.lim.numericCmp == nil {
		calls := 0
		v.lim.numericCmp = v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			if calls++; calls >= iterCheckEvery {
				calls = 0
				v.checkCtx()
			}
			x, y := c.Argument(0).ToFloat(), c.Argument(1).ToFloat()
			r := 0
			switch {
			case math.IsNaN(x) && math.IsNaN(y):
			case math.IsNaN(x):
				r = 1
			case math.IsNaN(y):
				r = -1
			case x < y:
				r = -1
			case x > y:
				r = 1
			case math.Signbit(x) && !math.Signbit(y):
				r = -1
			case !math.Signbit(x) && math.Signbit(y):
				r = 1
			}
			return v.rt.ToValue(r)
		})
	}
	return v.lim.numericCmp
}

// defaultCompare is the comparator of a sort without one (undefined and
// holes never reach it): the elements as strings, by UTF-16 code units.
func (v *jsVM) defaultCompare() goja.Value {
	if v.lim.defaultCmp == nil {
		work, calls := 0, 0
		v.lim.defaultCmp = v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			x, y := v.jsString(c.Argument(0)), v.jsString(c.Argument(1))
			work += min(x.Length(), y.Length())
			if calls++; work > workCheckEvery || calls >= iterCheckEvery {
				work, calls = 0, 0
				v.checkCtx()
			}
			return v.rt.ToValue(x.CompareTo(y))
		})
	}
	return v.lim.defaultCmp
}

// installGrowth bounds the built-ins whose one call builds a value much
// larger than their input: Array.prototype.toLocaleString (and the typed
// arrays' join and toLocaleString) go through joinWith, String.raw is
// reimplemented with its size bounded, the URI encoders are refused when
// their output would pass MaxStringSize, and case mapping and
// normalization (which can grow a string 3x and 18x) check their result.
func (v *jsVM) installGrowth(g, sp, ap *goja.Object) {
	rt := v.rt
	max := v.b.opts.Limits.MaxStringSize
	tls := ap.Get("toLocaleString")
	v.replace(ap, "toLocaleString", tls, func(c goja.FunctionCall) goja.Value {
		return v.joinWith("Array.prototype.toLocaleString", c.This, nil, true)
	})
	if u8, ok := g.Get("Uint8Array").(*goja.Object); ok {
		if p, ok := u8.Get("prototype").(*goja.Object); ok {
			if tap := p.Prototype(); tap != nil {
				v.replace(tap, "join", tap.Get("join"), func(c goja.FunctionCall) goja.Value {
					var sep goja.Value
					if a := c.Argument(0); !goja.IsUndefined(a) {
						sep = a
					}
					return v.joinWith("TypedArray.prototype.join", c.This, sep, false)
				})
				v.replace(tap, "toLocaleString", tap.Get("toLocaleString"), func(c goja.FunctionCall) goja.Value {
					return v.joinWith("TypedArray.prototype.toLocaleString", c.This, nil, true)
				})
				// The numeric sort of up to 16 Mi elements is seconds of
				// native work: a comparator that checks the context.
				for _, name := range []string{"sort", "toSorted"} {
					origVal := tap.Get(name)
					orig, _ := goja.AssertFunction(origVal)
					v.replace(tap, name, origVal, func(c goja.FunctionCall) goja.Value {
						if len(c.Arguments) > 0 && !goja.IsUndefined(c.Arguments[0]) {
							return v.call(orig, c.This, c.Arguments...)
						}
						return v.call(orig, c.This, v.numericCompare())
					})
				}
			}
		}
	}
	if str, ok := g.Get("String").(*goja.Object); ok {
		v.replace(str, "raw", str.Get("raw"), func(c goja.FunctionCall) goja.Value {
			raw := c.Argument(0).ToObject(rt).Get("raw")
			if raw == nil || goja.IsUndefined(raw) || goja.IsNull(raw) {
				v.typeError("Cannot convert undefined or null to object")
			}
			ro := raw.ToObject(rt)
			n := lengthOf(ro)
			v.checkElems("String.raw", n)
			var b goja.StringBuilder
			size := int64(0)
			add := func(s goja.String) {
				if size += int64(s.Length()); size > max {
					v.tooLarge("String.raw", size)
				}
				b.WriteString(s)
			}
			for i := int64(0); i < n; i++ {
				add(v.jsString(ro.Get(itoa(i))))
				if i+1 < n && int(i)+1 < len(c.Arguments) {
					add(v.jsString(c.Arguments[i+1]))
				}
			}
			return b.String()
		})
	}
	// The URI encoders write up to 9 characters per UTF-16 unit (%XX per
	// UTF-8 byte), escape up to 6 (%uXXXX).
	encSize := func(s goja.String, escape bool) int64 {
		size := int64(0)
		for i, n := 0, s.Length(); i < n; i++ {
			c := s.CharAt(i)
			switch {
			case escape && c < 0x80:
				size += 3
			case escape:
				size += 6
			case c < 0x80:
				size += 3
			case c < 0x800:
				size += 6
			default:
				size += 9
			}
		}
		return size
	}
	for _, name := range []string{"encodeURI", "encodeURIComponent", "escape"} {
		name := name
		esc := name == "escape"
		v.wrap(g, name, func(c goja.FunctionCall) {
			s := v.jsString(c.Argument(0))
			if int64(s.Length())*9 <= max {
				return
			}
			if n := encSize(s, esc); n > max {
				v.tooLarge(name, n)
			}
		})
	}
	// Uint8Array.prototype.toHex writes 2 characters per byte, toBase64 4
	// per 3.
	if u8, ok := g.Get("Uint8Array").(*goja.Object); ok {
		if p, ok := u8.Get("prototype").(*goja.Object); ok {
			for name, size := range map[string]func(n int64) int64{
				"toHex":    func(n int64) int64 { return 2 * n },
				"toBase64": func(n int64) int64 { return (n + 2) / 3 * 4 },
			} {
				what, size := "Uint8Array.prototype."+name, size
				v.wrap(p, name, func(c goja.FunctionCall) {
					if o, ok := c.This.(*goja.Object); ok {
						if b, ok := bytesOf(o); ok && size(int64(len(b))) > max {
							v.tooLarge(what, size(int64(len(b))))
						}
					}
				})
			}
		}
	}
	for _, name := range []string{"toUpperCase", "toLowerCase", "toLocaleUpperCase", "toLocaleLowerCase", "normalize"} {
		origVal := sp.Get(name)
		orig, ok := goja.AssertFunction(origVal)
		if !ok {
			continue
		}
		what := "String.prototype." + name
		v.replace(sp, name, origVal, func(c goja.FunctionCall) goja.Value {
			r := v.call(orig, c.This, c.Arguments...)
			if n := strLen(r); n > max {
				v.tooLarge(what, n)
			}
			return r
		})
	}
}

// regexpNesting is the deepest group nesting of a pattern (escapes and
// character classes skipped).
func regexpNesting(p string) int {
	depth, deepest, inClass := 0, 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == '(':
			if depth++; depth > deepest {
				deepest = depth
			}
		case c == ')':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}

// installRegExpBounds refuses patterns nested deeper than maxRegexpNest
// wherever a pattern is compiled from a string (new RegExp, RegExp(),
// compile, and match, matchAll and search with a string), and makes every
// match check the request's context: exec is wrapped, which also sends
// goja's replace, match, split, search and test through exec once per
// match, so a global replace of a slow pattern ends at the deadline (plus
// at most one match's regexpTimeout) instead of taking regexpTimeout per
// match.
func (v *jsVM) installRegExpBounds(g, sp *goja.Object) {
	checkPattern := func(what string, p goja.Value) {
		if p == nil || goja.IsUndefined(p) {
			return
		}
		if _, isObj := p.(*goja.Object); isObj {
			if po := p.(*goja.Object); po.ClassName() == "RegExp" {
				return // already compiled
			}
		}
		if d := regexpNesting(p.String()); d > maxRegexpNest {
			v.throw("SyntaxError", fmt.Errorf("%s: groups nested %d deep, more than %d: %w", what, d, maxRegexpNest, sandbox.ErrTooLarge))
		}
	}
	ctor, ok := g.Get("RegExp").(*goja.Object)
	if !ok {
		return
	}
	if proto, ok := ctor.Get("prototype").(*goja.Object); ok {
		v.wrap(proto, "compile", func(c goja.FunctionCall) { checkPattern("RegExp.prototype.compile", c.Argument(0)) })
		v.wrap(proto, "exec", v.regexpWork("RegExp.prototype.exec"))
		v.wrap(proto, "test", v.regexpWork("RegExp.prototype.test"))
	}
	for _, name := range []string{"match", "matchAll", "search"} {
		what := "String.prototype." + name
		v.wrap(sp, name, func(c goja.FunctionCall) {
			if _, isObj := c.Argument(0).(*goja.Object); !isObj {
				checkPattern(what, c.Argument(0))
			}
		})
	}
	v.proxyCtor(g, "RegExp", func(args []goja.Value) {
		if len(args) > 0 {
			checkPattern("RegExp", args[0])
		}
	})
}

// replaceLinear is String.prototype.replace/replaceAll with a string
// pattern of two or more units on a UTF-16 string: the matches are found in
// linear time (goja's search is O(n·m) there), counted and bounded before
// the result is built.
func (v *jsVM) replaceLinear(what string, s, pat goja.String, all bool, repl goja.Value) goja.Value {
	fn, isFn := goja.AssertFunction(repl)
	var tmpl goja.String
	if !isFn {
		tmpl = v.jsString(repl)
	}
	k := newKMP(units(pat))
	n, m := s.Length(), pat.Length()
	var pos []int
	for from := 0; ; {
		i := k.find(s.CharAt, from, n)
		if i < 0 {
			break
		}
		pos = append(pos, i)
		if !all {
			break
		}
		if int64(len(pos)) > v.lim.maxElems {
			v.checkElems(what+" (matches)", int64(len(pos)))
		}
		from = i + m
	}
	if len(pos) == 0 {
		return s
	}
	max := v.b.opts.Limits.MaxStringSize // checked as the result grows
	var b goja.StringBuilder
	size := int64(0)
	add := func(x goja.String) {
		if size += int64(x.Length()); size > max {
			v.tooLarge(what, size)
		}
		b.WriteString(x)
	}
	last := 0
	for _, p := range pos {
		add(s.Substring(last, p))
		if isFn {
			add(v.jsString(v.call(fn, goja.Undefined(), pat, v.rt.ToValue(p), s)))
		} else {
			v.substitute(add, tmpl, s, pat, p)
		}
		last = p + m
	}
	add(s.Substring(last, n))
	return b.String()
}

// substitute writes the replacement template tmpl for the match of pat at
// p in s: $$, $&, $` and $' are expanded; a string pattern has no groups,
// so any other $ is literal.
func (v *jsVM) substitute(add func(goja.String), tmpl, s, pat goja.String, p int) {
	start := 0
	for i, l := 0, tmpl.Length(); i+1 < l; i++ {
		if tmpl.CharAt(i) != '$' {
			continue
		}
		var part goja.String
		switch tmpl.CharAt(i + 1) {
		case '$':
			part = tmpl.Substring(i+1, i+2)
		case '&':
			part = pat
		case '`':
			part = s.Substring(0, p)
		case '\'':
			part = s.Substring(min(p+pat.Length(), s.Length()), s.Length())
		default:
			continue
		}
		add(tmpl.Substring(start, i))
		add(part)
		start = i + 2
		i++
	}
	add(tmpl.Substring(start, tmpl.Length()))
}

// callbackCheckMin is the length from which the callback of an array
// method is wrapped to check the context.
const callbackCheckMin = 4096

// installCallbackChecks makes the array methods that call a function per
// element check the request's context every iterCheckEvery calls when the
// array is long: the function may itself be native (a bound built-in, such
// as Function.prototype.call.bind(String.prototype.indexOf)), and then the
// whole loop never returns to the interpreter.
func (v *jsVM) installCallbackChecks(g, ap *goja.Object) {
	names := []string{"every", "filter", "find", "findIndex", "findLast", "findLastIndex", "forEach", "map",
		"reduce", "reduceRight", "some", "flatMap", "sort", "toSorted"}
	protos := []*goja.Object{ap}
	if u8, ok := g.Get("Uint8Array").(*goja.Object); ok {
		if p, ok := u8.Get("prototype").(*goja.Object); ok && p.Prototype() != nil {
			protos = append(protos, p.Prototype())
		}
	}
	for _, proto := range protos {
		for _, name := range names {
			origVal := proto.Get(name)
			orig, ok := goja.AssertFunction(origVal)
			if !ok {
				continue
			}
			v.replace(proto, name, origVal, func(c goja.FunctionCall) goja.Value {
				if len(c.Arguments) > 0 && lengthOf(c.This) > callbackCheckMin {
					if fn, ok := goja.AssertFunction(c.Arguments[0]); ok {
						args := append([]goja.Value{v.checkedCallback(fn)}, c.Arguments[1:]...)
						return v.call(orig, c.This, args...)
					}
				}
				return v.call(orig, c.This, c.Arguments...)
			})
		}
	}
	arr := g.Get("Array").(*goja.Object)
	from := arr.Get("from")
	fromFn, _ := goja.AssertFunction(from)
	v.replace(arr, "from", from, func(c goja.FunctionCall) goja.Value {
		if len(c.Arguments) > 1 {
			if fn, ok := goja.AssertFunction(c.Arguments[1]); ok {
				args := append([]goja.Value{c.Arguments[0], v.checkedCallback(fn)}, c.Arguments[2:]...)
				return v.call(fromFn, c.This, args...)
			}
		}
		return v.call(fromFn, c.This, c.Arguments...)
	})
}

// checkedCallback wraps fn in a function that checks the request's context
// every iterCheckEvery calls.
func (v *jsVM) checkedCallback(fn goja.Callable) goja.Value {
	calls := 0
	return v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
		if calls++; calls >= iterCheckEvery {
			calls = 0
			v.checkCtx()
		}
		return v.call(fn, c.This, c.Arguments...)
	})
}

// pinLength returns val, or for an array-like whose length could read
// differently the next time (a getter, or a proxy anywhere on its chain) a
// proxy of it whose length reads n: the wrappers check the length they read
// once, and goja reads it again, so a getter answering 1 and then 1e15
// slipped past them into a native loop of 1e15 steps.
func (v *jsVM) pinLength(val goja.Value, n int64) goja.Value {
	o, ok := val.(*goja.Object)
	if !ok || n < 0 || !v.lengthUnstable(o) {
		return val
	}
	nv := v.rt.ToValue(n)
	return v.rt.ToValue(v.rt.NewProxy(o, &goja.ProxyTrapConfig{
		Get: func(t *goja.Object, k string, _ goja.Value) goja.Value {
			if k == "length" {
				return nv
			}
			return t.Get(k)
		},
	}))
}

// lengthUnstable reports whether o's length is not a plain data property.
func (v *jsVM) lengthUnstable(o *goja.Object) bool {
	if o.ExportType() == typeProxy {
		return true
	}
	if o.ClassName() == "Array" {
		return false // an own, non-configurable data property
	}
	if t := o.ExportType(); t != nil && t.Kind() == reflect.Slice {
		return false // a typed array: goja uses its internal length
	}
	if v.lim.getOwnDesc == nil {
		v.lim.getOwnDesc, _ = goja.AssertFunction(v.rt.GlobalObject().Get("Object").(*goja.Object).Get("getOwnPropertyDescriptor"))
	}
	key := v.rt.ToValue("length")
	for p, i := o, 0; p != nil && i <= maxForwardDepth; p, i = p.Prototype(), i+1 {
		if p.ExportType() == typeProxy {
			return true
		}
		d, err := v.lim.getOwnDesc(goja.Undefined(), p, key)
		if err != nil {
			return true
		}
		if do, ok := d.(*goja.Object); ok {
			g := do.Get("get")
			return g != nil && !goja.IsUndefined(g)
		}
	}
	return false
}

// maxRegexpWork bounds the native work of one match: Go's regexp engine
// (and regexp2) may take up to pattern length × input length steps in
// one call that no interrupt reaches, so a 64 Ki-unit pattern tried on
// itself ran for minutes (found by FuzzHostileJS; docs/sandbox.md, "What
// the JS engine bounds and how"). 2.5e8 is about a second or two of work:
// a 250-character pattern still matches a 1 MiB body.
const maxRegexpWork = 2.5e8

// regexpWork is the check before each exec/test: the request's context,
// then the match's cost. An object argument is converted to a string
// once here (exec would convert it again, with its side effects twice).
func (v *jsVM) regexpWork(what string) func(c goja.FunctionCall) {
	return func(c goja.FunctionCall) {
		v.checkCtx()
		re, ok := c.This.(*goja.Object)
		if !ok || len(c.Arguments) == 0 {
			return
		}
		arg := c.Arguments[0]
		if _, isObj := arg.(*goja.Object); isObj {
			arg = arg.ToString()
			c.Arguments[0] = arg
		}
		src := re.Get("source")
		if src == nil {
			return
		}
		m, n := strLen(src.ToString()), strLen(arg.ToString())
		if float64(m)*float64(n) > maxRegexpWork {
			v.throw("RangeError", fmt.Errorf("%s: a pattern of %d units against an input of %d units is more work than one match may take (%g steps): %w", what, m, n, float64(maxRegexpWork), sandbox.ErrTooLarge))
		}
	}
}
