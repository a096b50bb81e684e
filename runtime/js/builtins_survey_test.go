package js

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// surveyBuiltins lists every function reachable from the global object of
// a real handler VM (globals, constructors, prototypes, statics, getters
// and setters, and the intrinsics reachable only through them), as
// "Path.name" (or "get Path.name", "set Path.name").
var surveyBuiltins = goja.MustCompile("<survey>", `(function () {
	const seen = new Map();
	const out = [];
	const queue = [];
	function visit(o, name) {
		if ((typeof o !== "object" && typeof o !== "function") || o === null || seen.has(o)) return;
		seen.set(o, name);
		queue.push([o, name]);
	}
	visit(globalThis, "globalThis");
	const intrinsics = {
		"%TypedArray%": Object.getPrototypeOf(Int8Array),
		"%IteratorPrototype%": Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
		"%ArrayIteratorPrototype%": Object.getPrototypeOf([][Symbol.iterator]()),
		"%StringIteratorPrototype%": Object.getPrototypeOf(""[Symbol.iterator]()),
		"%MapIteratorPrototype%": Object.getPrototypeOf(new Map()[Symbol.iterator]()),
		"%SetIteratorPrototype%": Object.getPrototypeOf(new Set()[Symbol.iterator]()),
		"%RegExpStringIteratorPrototype%": Object.getPrototypeOf(/a/g[Symbol.matchAll]("")),
		"%GeneratorFunction%": Object.getPrototypeOf(function* () {}).constructor,
		"%GeneratorPrototype%": Object.getPrototypeOf(function* () {}).prototype,
		"%AsyncFunction%": Object.getPrototypeOf(async function () {}).constructor,
	};
	for (const k of Object.keys(intrinsics)) visit(intrinsics[k], k);
	while (queue.length) {
		const [o, name] = queue.shift();
		visit(Object.getPrototypeOf(o), "Object.getPrototypeOf(" + name + ")");
		const keys = Object.getOwnPropertyNames(o).concat(Object.getOwnPropertySymbols(o));
		for (const k of keys) {
			const key = typeof k === "symbol" ? "[" + k.description + "]" : k;
			const path = (name === "globalThis" ? "" : name + ".") + key;
			let d;
			try { d = Object.getOwnPropertyDescriptor(o, k); } catch (e) { continue; }
			if (!d) continue;
			if (typeof d.value === "function") out.push(path);
			if (typeof d.get === "function") out.push("get " + path);
			if (typeof d.set === "function") out.push("set " + path);
			for (const v of [d.value, d.get, d.set]) visit(v, path);
		}
	}
	return out;
})()`, true)

func surveyVM(t *testing.T) []string {
	t.Helper()
	a := newApp(t, map[string]string{"app.js": "module.exports = () => 'ok';"})
	vm, err := a.mustCompile("app.js").NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	rt := vm.(*handlerVM).rt
	r, err := rt.RunProgram(surveyBuiltins)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range r.Export().([]any) {
		out = append(out, v.(string))
	}
	sort.Strings(out)
	return out
}

func TestBuiltinsDump(t *testing.T) {
	for _, p := range surveyVM(t) {
		t.Log(p)
	}
	_ = strings.Join
}
