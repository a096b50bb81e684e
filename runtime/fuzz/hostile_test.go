package fuzz

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzHostileJS builds random JavaScript programs out of the pieces the
// red team used (docs/sandbox.md, "Hostile input"): built-in calls,
// Proxies with and without traps, getters, prototype links and cyclic
// structures, long one- and two-byte strings. Each run must end without a
// Go panic or fatal error (the fuzzer reports a crashed worker as a find)
// and must return within the grace period after its short deadline:
//
//	go test ./runtime/fuzz -run '^$' -fuzz FuzzHostileJS -fuzztime 10m
//
// The program text is made from the input bytes by hostileProgram, so a
// kept find in testdata/fuzz/FuzzHostileJS replays exactly.
func FuzzHostileJS(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	// The rows of the red-team table, spelled as decision bytes.
	f.Add([]byte{sNew, 0, eObject, sNew, 1, eProxy, 0, 0, 0, sSetProto, 0, 1, sUse, 0, 0, uGet})        // row 1
	f.Add([]byte{sNew, 0, eObject, sNew, 1, eProxy, 0, 0, 0, sSetProto, 0, 1, sUse, 0, 0, uInstanceof}) // row 3
	f.Add([]byte{sNew, 0, eArray, sPush, 0, 0, sUse, 0, 0, uFlat})                                      // row 3
	f.Add([]byte{sNew, 0, eWide, 9, sNew, 1, eArrayOf, 9, 0, sUse, 1, 0, uLocale})                      // row 2
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			return
		}
		code := hostileProgram(data)
		run(t, "js", code, newRequest("GET", "/x", "", "", "", nil))
	})
}

// Statement kinds; the byte after each picks its operands.
const (
	sNew = iota
	sSetProto
	sProtoSetter
	sReflectProto
	sPush
	sSetProp
	sGetter
	sUse
	sLoop
	nStmt
)

// Expression kinds for sNew.
const (
	eObject = iota
	eArray
	eProxy
	eCreate
	eNarrow
	eWide
	eArrayOf
	eFunc
	eNumber
	eRevocable
	eConcat
	eBound
	nExpr
)

// Uses: built-ins applied to a variable.
const (
	uGet = iota
	uHas
	uSet
	uKeys
	uForIn
	uJSON
	uString
	uInstanceof
	uIsProto
	uFlat
	uJoin
	uLocale
	uSort
	uIndexOf
	uIncludes
	uStrIndexOf
	uSplit
	uReplace
	uRegExp
	uSpread
	uFrom
	uAssign
	uEntries
	uFreeze
	uTemplate
	uConcat
	uDelete
	uDefine
	uOwnKeys
	uToStringTag
	uFill
	uReverse
	nUse
)

const nVars = 6

// hostileProgram turns decision bytes into a program. Every statement is
// wrapped in try/catch so that one thrown error does not end the run.
func hostileProgram(data []byte) string {
	r := &byteReader{b: data}
	var b strings.Builder
	b.WriteString("module.exports = () => {\n")
	for i := 0; i < nVars; i++ {
		fmt.Fprintf(&b, "  let v%d = {};\n", i)
	}
	for n := 0; n < 48 && r.more(); n++ {
		b.WriteString("  try { ")
		b.WriteString(statement(r))
		b.WriteString(" } catch (e) {}\n")
	}
	b.WriteString("  return \"done\";\n};\n")
	return b.String()
}

func statement(r *byteReader) string {
	v := func() string { return fmt.Sprintf("v%d", r.next()%nVars) }
	switch r.next() % nStmt {
	case sNew:
		return v() + " = " + expr(r) + ";"
	case sSetProto:
		return fmt.Sprintf("Object.setPrototypeOf(%s, %s);", v(), v())
	case sProtoSetter:
		return fmt.Sprintf("%s.__proto__ = %s;", v(), v())
	case sReflectProto:
		return fmt.Sprintf("Reflect.setPrototypeOf(%s, %s);", v(), v())
	case sPush:
		return fmt.Sprintf("%s.push(%s);", v(), v())
	case sSetProp:
		return fmt.Sprintf("%s[%q] = %s;", v(), key(r), v())
	case sGetter:
		a, c := v(), v()
		return fmt.Sprintf("Object.defineProperty(%s, %q, {get() { return %s; }, configurable: true});", a, key(r), c)
	case sUse:
		return use(r)
	default: // sLoop: a short loop around one use
		return fmt.Sprintf("for (let i = 0; i < %d; i++) { %s }", 1+r.next()%64, use(r))
	}
}

func key(r *byteReader) string {
	return []string{"x", "length", "__proto__", "constructor", "toString", "valueOf", "0", "then", "toJSON", "prototype"}[r.next()%10]
}

func size(r *byteReader) int {
	return []int{0, 1, 7, 100, 1000, 1 << 12, 1 << 16, 1 << 18, 1 << 19, 1 << 20}[r.next()%10]
}

func handler(r *byteReader, other string) string {
	return []string{
		"{}",
		"{get(t, k, rc) { return Reflect.get(t, k, rc); }}",
		"{getPrototypeOf() { return " + other + "; }}",
		"{ownKeys() { return [\"a\", \"b\", \"a\"]; }}",
		"{has() { return true; }}",
		"{get(t, k) { return " + other + "; }}",
		"{getOwnPropertyDescriptor(t, k) { return Reflect.getOwnPropertyDescriptor(t, k); }}",
		"{apply(t, th, a) { return " + other + "; }}",
	}[r.next()%8]
}

func expr(r *byteReader) string {
	v := func() string { return fmt.Sprintf("v%d", r.next()%nVars) }
	switch r.next() % nExpr {
	case eObject:
		return "{}"
	case eArray:
		return "[]"
	case eProxy:
		t := v()
		return fmt.Sprintf("new Proxy(%s, %s)", t, handler(r, v()))
	case eCreate:
		return fmt.Sprintf("Object.create(%s)", v())
	case eNarrow:
		return fmt.Sprintf("\"x\".repeat(%d)", size(r))
	case eWide:
		return fmt.Sprintf("\"\\u00e9\".repeat(%d)", size(r))
	case eArrayOf:
		return fmt.Sprintf("new Array(%d).fill(%s)", size(r), v())
	case eFunc:
		return fmt.Sprintf("function () { return %s; }", v())
	case eNumber:
		return []string{"0", "-0", "NaN", "Infinity", "1e308", "2**53", "-1", "4294967295"}[r.next()%8]
	case eRevocable:
		return fmt.Sprintf("Proxy.revocable(%s, %s).proxy", v(), handler(r, v()))
	case eConcat:
		return fmt.Sprintf("String(%s) + String(%s)", v(), v())
	default: // eBound
		return fmt.Sprintf("Function.prototype.bind.call(function () { return this; }, %s)", v())
	}
}

func use(r *byteReader) string {
	x := fmt.Sprintf("v%d", r.next()%nVars)
	y := fmt.Sprintf("v%d", r.next()%nVars)
	switch r.next() % nUse {
	case uGet:
		return "String(" + x + ".nothere);"
	case uHas:
		return "\"nothere\" in " + x + ";"
	case uSet:
		return x + ".nothere = 1;"
	case uKeys:
		return "Object.keys(" + x + ");"
	case uForIn:
		return "for (const k in " + x + ") {}"
	case uJSON:
		return "JSON.stringify(" + x + ");"
	case uString:
		return "String(" + x + ");"
	case uInstanceof:
		return x + " instanceof Date;"
	case uIsProto:
		return "Date.prototype.isPrototypeOf(" + x + ");"
	case uFlat:
		return "Array.prototype.flat.call(" + x + ", Infinity);"
	case uJoin:
		return "Array.prototype.join.call(" + x + ", String(" + y + "));"
	case uLocale:
		return "Array.prototype.toLocaleString.call(" + x + ");"
	case uSort:
		return "Array.prototype.sort.call(" + x + ");"
	case uIndexOf:
		return "Array.prototype.indexOf.call(" + x + ", " + y + ");"
	case uIncludes:
		return "Array.prototype.includes.call(" + x + ", " + y + ");"
	case uStrIndexOf:
		return "String(" + x + ").indexOf(String(" + y + "));"
	case uSplit:
		return "String(" + x + ").split(String(" + y + "));"
	case uReplace:
		return "String(" + x + ").replace(/(x+)+(?=y)/g, String(" + y + "));"
	case uRegExp:
		return "new RegExp(String(" + x + ")).test(String(" + y + "));"
	case uSpread:
		return "[..." + x + "];"
	case uFrom:
		return "Array.from(" + x + ");"
	case uAssign:
		return "Object.assign({}, " + x + ");"
	case uEntries:
		return "Object.entries(" + x + ");"
	case uFreeze:
		return "Object.freeze(" + x + ");"
	case uTemplate:
		return "`${" + x + "}${" + y + "}`;"
	case uConcat:
		return "Array.prototype.concat.call(" + x + ", " + y + ");"
	case uDelete:
		return "delete " + x + ".nothere;"
	case uDefine:
		return "Object.defineProperty(" + x + ", \"nothere\", {value: 1});"
	case uOwnKeys:
		return "Reflect.ownKeys(" + x + ");"
	case uToStringTag:
		return "Object.prototype.toString.call(" + x + ");"
	case uFill:
		return "Array.prototype.fill.call(" + x + ", " + y + ");"
	default: // uReverse
		return "Array.prototype.reverse.call(" + x + ");"
	}
}

// byteReader hands out decision bytes, then zeros.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) more() bool { return r.i < len(r.b) }

func (r *byteReader) next() int {
	if r.i >= len(r.b) {
		return 0
	}
	c := r.b[r.i]
	r.i++
	return int(c)
}

// TestHostileProgram pins the generator: the same bytes make the same
// program, and the row-1 seed spells the red team's script.
func TestHostileProgram(t *testing.T) {
	got := hostileProgram([]byte{sNew, 0, eObject, sNew, 1, eProxy, 0, 0, 0, sSetProto, 0, 1, sUse, 0, 0, uGet})
	for _, want := range []string{"v0 = {};", "v1 = new Proxy(v0, {});", "Object.setPrototypeOf(v0, v1);", "String(v0.nothere);"} {
		if !strings.Contains(got, want) {
			t.Errorf("program lacks %q:\n%s", want, got)
		}
	}
	if hostileProgram([]byte{1, 2, 3}) != hostileProgram([]byte{1, 2, 3}) {
		t.Error("the generator is not deterministic")
	}
}
