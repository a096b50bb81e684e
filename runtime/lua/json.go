package lua

// This file holds the json library and the conversions between Lua values
// and JSON / generic Go values.
//
// json.encode(v): nil and json.null encode as null; a table whose keys are
// exactly 1..n (n ≥ 1) is an array; a table marked as an array (json.array(t),
// or any metatable with __jsontype = "array"; arrays from json.decode and
// req:json() are marked) is an array even when empty; any other table,
// including an empty unmarked one, is an object, its keys strings or
// numbers (written as strings), sorted. NaN, infinities, functions,
// userdata and cycles are errors; so is nesting deeper than maxJSONDepth.
// The output is bounded by Limits.MaxStringSize.
//
// json.decode(s): objects become tables, arrays marked tables, null becomes
// json.null (so arrays keep their length and objects their keys), numbers
// Lua numbers. A malformed document raises an error.

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
)

// maxJSONDepth bounds the nesting json.encode follows (cycles end here).
const maxJSONDepth = 200

// jsonNull is the Value of the json.null userdata.
type jsonNull struct{}

func (v *vm) jsonDecode(L *glua.LState) int {
	s := L.CheckString(1)
	what := "json.decode"
	// json.decode(req.body) is the client's input: over the budget it is
	// refused as req:json() would refuse it (413).
	fromClient := v.cur != nil && len(s) == len(v.cur.req.Body) && len(s) > 0 && s == string(v.cur.req.Body)
	if fromClient {
		what = "request body"
	}
	val, err := v.decodeJSON(s, what, fromClient, false)
	if err != nil {
		if fromClient {
			return v.fail(fmt.Errorf("json.decode: %w", err))
		}
		return v.fail(err)
	}
	L.Push(val)
	return 1
}

func (v *vm) jsonEncode(L *glua.LState) int {
	b, err := v.encodeJSON(L.Get(1), "json.encode")
	if err != nil {
		return v.fail(err)
	}
	L.Push(glua.LString(string(b)))
	return 1
}

// jsonArray marks a table as a JSON array and returns it.
func (v *vm) jsonArray(L *glua.LState) int {
	t := L.OptTable(1, nil)
	if t == nil {
		t = L.CreateTable(0, 0)
	}
	switch {
	case isArrayMarked(t):
	case t.Metatable == glua.LNil || t.Metatable == nil:
		t.Metatable = v.arrayMT
	default:
		L.RaiseError("json.array: the table already has a metatable; set __jsontype = \"array\" in it instead")
	}
	L.Push(t)
	return 1
}

// jsonEncoder writes JSON. A VM keeps one (vm.enc) and reuses its
// buffers; it never runs Lua code, so it is never re-entered.
type jsonEncoder struct {
	v     *vm
	what  string
	buf   []byte
	max   int64
	check interruptCheck
	// items holds the members of the objects being written, sorted by
	// key: one stack for all nesting levels, each level above its
	// parent's.
	items []jsonItem
}

type jsonItem struct {
	k string
	v glua.LValue
}

var errJSONTooLarge = errors.New("too large")

// encodeJSON encodes a Lua value; what names the caller in errors. The
// result is valid until the next encodeJSON on the VM: use or copy it at
// once.
func (v *vm) encodeJSON(val glua.LValue, what string) ([]byte, error) {
	e := &v.enc
	e.v, e.what, e.max = v, what, v.b.opts.Limits.MaxStringSize
	e.check = interruptCheck{L: v.L}
	e.buf, e.items = e.buf[:0], e.items[:0]
	err := e.encode(val, 0)
	b := e.buf
	if cap(e.buf) > maxScratch {
		e.buf = nil
	}
	if cap(e.items) > maxScratch/16 {
		e.items = nil
	}
	if err != nil {
		if errors.Is(err, errJSONTooLarge) {
			return nil, v.b.opts.Limits.CheckSize(what, int64(len(b)))
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(b)) > e.max {
		return nil, v.b.opts.Limits.CheckSize(what, int64(len(b)))
	}
	return b, nil
}

func (e *jsonEncoder) encode(val glua.LValue, depth int) error {
	if int64(len(e.buf)) > e.max {
		return errJSONTooLarge
	}
	switch x := val.(type) {
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case glua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(x))
	case glua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("cannot encode %v", f)
		}
		e.buf = appendNumber(e.buf, f)
	case glua.LString:
		e.buf = appendJSONString(e.buf, string(x))
	case *glua.LUserData:
		if _, ok := x.Value.(jsonNull); ok {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return errors.New("cannot encode a userdata value")
	case *glua.LTable:
		// A table that holds the same table many times is walked once a
		// reference: {a, a} nested 40 deep is 2^40 tables, bounded only
		// by the output size. Look at the context as it goes.
		e.check.add(64)
		if depth >= maxJSONDepth {
			return fmt.Errorf("nesting deeper than %d levels (a cycle?)", maxJSONDepth)
		}
		return e.table(x, depth+1)
	default:
		return fmt.Errorf("cannot encode a %s value", val.Type())
	}
	return nil
}

func isArrayMarked(t *glua.LTable) bool {
	mt, ok := t.Metatable.(*glua.LTable)
	return ok && mt.RawGetString("__jsontype") == glua.LString("array")
}

// table writes t as an array when its keys are exactly 1..n (n ≥ 1) or it
// is empty and marked, else as an object with sorted keys. It walks the
// array part by index and the hash part with Next, whose keys are the
// table's own values: no key is boxed again.
func (e *jsonEncoder) table(t *glua.LTable, depth int) error {
	n := t.Len() // the array part holds every integer key 1..n, and only nils after n
	count := 0
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) != glua.LNil {
			count++
		}
	}
	base := len(e.items)
	defer func() {
		clear(e.items[base:]) // do not keep the script's values alive
		e.items = e.items[:base]
	}()
	var k glua.LValue = glua.LNil
	if n > 0 {
		k = glua.LNumber(n) // Next after n: the hash part
	}
	for k, val := t.Next(k); k != glua.LNil; k, val = t.Next(k) {
		switch k.(type) {
		case glua.LString, glua.LNumber:
		default:
			return fmt.Errorf("cannot encode a table key of type %s", k.Type())
		}
		e.items = append(e.items, jsonItem{glua.LVAsString(k), val})
	}
	count += len(e.items) - base
	if (n > 0 && count == n) || (count == 0 && isArrayMarked(t)) {
		e.buf = append(e.buf, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				e.buf = append(e.buf, ',')
			}
			if err := e.encode(t.RawGetInt(i), depth); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
	for i := 1; i <= n; i++ {
		if val := t.RawGetInt(i); val != glua.LNil {
			e.items = append(e.items, jsonItem{strconv.Itoa(i), val})
		}
	}
	end := len(e.items)
	slices.SortFunc(e.items[base:end], func(a, b jsonItem) int { return strings.Compare(a.k, b.k) })
	e.buf = append(e.buf, '{')
	for i := base; i < end; i++ {
		it := e.items[i] // nested tables push above end and pop back
		if i > base {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendJSONString(e.buf, it.k)
		e.buf = append(e.buf, ':')
		if err := e.encode(it.v, depth); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// appendNumber writes integers without a fraction and other numbers in
// the shortest form that reads back the same.
func appendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\\ufffd"...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
