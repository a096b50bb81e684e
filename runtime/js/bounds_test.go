package js

import "testing"

// cycle is the prototype cycle of issue 13, row 1: a's prototype is a
// proxy of a with no traps.
const cycle = "const a = {}; const p = new Proxy(a, {}); Object.setPrototypeOf(a, p);\n"

// TestHostileProtoCycles: every way to close a cycle of prototype links
// through a proxy is refused with a TypeError (a script error, 500) before
// a read, in, a write, instanceof or isPrototypeOf can recurse or loop
// natively; the process stays up.
func TestHostileProtoCycles(t *testing.T) {
	const cyc = "Cyclic __proto__ value"
	checkHostile(t, []hostileCase{
		{"get", cycle + "return String(a.nothere);", "error", cyc},
		{"has", cycle + "return String('x' in a);", "error", cyc},
		{"set", cycle + "a.x = 1; return 'set';", "error", cyc},
		{"instanceof", cycle + "return String(a instanceof Date);", "error", cyc},
		{"isPrototypeOf", cycle + "return String(Date.prototype.isPrototypeOf(a));", "error", cyc},
		{"proto setter", "const a = {}; a.__proto__ = new Proxy(a, {}); return String(a.x);", "error", cyc},
		{"Reflect.set __proto__", "const a = {}; Reflect.set(a, '__proto__', new Proxy(a, {})); return String(a.x);", "error", cyc},
		{"Object.assign __proto__", "const a = {}; const src = {}; Object.defineProperty(src, '__proto__', {value: new Proxy(a, {}), enumerable: true}); Object.assign(a, src); return String(a.x);", "error", cyc},
		{"Reflect.setPrototypeOf returns false", "const a = {}; const ok = Reflect.setPrototypeOf(a, new Proxy(a, {})); return String(ok) + String(a.x);", "ok", ""},
		{"through an ordinary object", "const a = {}; const b = Object.create(new Proxy(a, {})); Object.setPrototypeOf(a, b); return String(a.x);", "error", cyc},
		{"through a proxy chain", "const a = {}; let p = a; for (let i = 0; i < 100; i++) p = new Proxy(p, {}); Object.setPrototypeOf(a, p); return String(a.x);", "error", cyc},
		{"on the proxy", "const a = {}; Object.setPrototypeOf(new Proxy(a, {}), new Proxy(a, {})); return String(a.x);", "error", cyc},
		{"function proxy", "const f = function () {}; Object.setPrototypeOf(f, new Proxy(f, {})); return String(f.x);", "error", cyc},
		{"revocable", "const a = {}; Object.setPrototypeOf(a, Proxy.revocable(a, {}).proxy); return String(a.x);", "error", cyc},
		{"trap deleted later", "const a = {}; const h = {getPrototypeOf() { return null; }}; const p = new Proxy(a, h); Object.setPrototypeOf(a, p); delete h.getPrototypeOf; return String(a.x);", "error", cyc},
		{"setPrototypeOf trap", "const a = {}; const p = new Proxy(a, {setPrototypeOf(t, v) { return Reflect.setPrototypeOf(t, v); }}); Object.setPrototypeOf(p, new Proxy(a, {})); return String(a.x);", "error", cyc},
		{"globalThis", "Object.setPrototypeOf(globalThis, new Proxy(globalThis, {})); return String(globalThis.nothere);", "error", cyc},
		{"deep proxy chain", "let p = {}; for (let i = 0; i < 2e4; i++) p = new Proxy(p, {}); return String(p.x);", "limit", "proxy targets"},
		{"deep chain then setPrototypeOf", "let p = {}; for (let i = 0; i < 2e4; i++) p = Object.create(p); Object.setPrototypeOf({}, p); return 'x';", "limit", "proxy targets"},
		{"legit", "class A {}; class B extends A {}; const o = Object.setPrototypeOf({}, new Proxy(B.prototype, {})); o.__proto__ = Object.create(A.prototype); return String(o instanceof A);", "ok", ""},
	})
}

// TestHostileNativeLoops: the native loops of issue 13, row 3, end with a
// limit error (RangeError) or at the deadline.
func TestHostileNativeLoops(t *testing.T) {
	checkHostile(t, []hostileCase{
		{"flat cyclic", "const a = []; a.push(a); return String(a.flat(Infinity).length);", "limit", "nested"},
		{"flat cyclic finite depth", "const a = []; a.push(a); return String(a.flat(1e9).length);", "limit", "nested"},
		{"flatMap cyclic", "const a = []; a.push(a); return String(a.flatMap(x => x).length);", "ok", ""},
		{"flat deep", "let a = [1]; for (let i = 0; i < 2e4; i++) a = [a]; return String(a.flat(Infinity).length);", "limit", "nested"},
		{"flat wide cyclic", "const a = [1, 2, 3]; a.push(a, a); return String(a.flat(30).length);", "limit", ""},
		{"join cyclic", "const a = [1]; a.push(a); return String(a) + a.join('-');", "ok", ""},
		{"toLocaleString cyclic", "const a = [1]; a.push(a); return a.toLocaleString();", "ok", ""},
		{"stringify cyclic via proxy", "const a = {}; a.x = new Proxy(a, {}); return JSON.stringify(a);", "error", "circular"},
		{"Array.from string", "return String(Array.from('x'.repeat(16 << 20)).length);", "limit", ""},
		{"Promise.all string", "Promise.all('x'.repeat(16 << 20)); return 'x';", "timeout", ""},
		{"new Set of a long string iterator", "const s = 'x'.repeat(16 << 20); for (;;) new Set(s);", "timeout", ""},
		{"spread of a long string", "const s = 'x'.repeat(16 << 20); for (;;) [...s].length;", "timeout", ""},
	})
}
