package lua

// This file decodes JSON text straight into Lua values, for json.decode
// and req:json(). The text is first priced with script.CheckJSON (the
// request-body budget, see docs/sandbox.md): one that would make more
// table memory than half the app's memory_limit, or nest deeper than
// script.MaxJSONDepth, is refused before a table is made. Decoding then
// builds each table once at its final size (a member or an element list
// is gathered on a stack shared by all levels first), with no generic Go
// value in between.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"

	"github.com/fcgihost/fcgihost/script"
)

// luaCost is what gopher-lua values cost, in bytes, as TestValueCost
// measures them (amd64, go1.26, gopher-lua v1.1.2), rounded up: an empty
// table is an LTable; a member is its share of the table's string map
// plus the key string; a scalar is one interface slot (numbers are boxed
// in a table's slice, 16 bytes, plus 8 when boxed on the heap); a byte of
// string content is copied once. Field prices one form field, query
// parameter or cookie: Go's parse (strings, map entry, slice) plus the
// Lua key and value.
var luaCost = script.ValueCost{Object: 128, Array: 128, Member: 192, Filled: 448, Scalar: 40, Byte: 2, Field: 1024}

// budget is the VM's value budget (half of memory_limit, priced with
// luaCost).
func (v *vm) budget() script.Budget { return script.NewBudget(v.b.opts.Limits, luaCost) }

// errJSONSyntax marks a malformed text.
var errJSONSyntax = errors.New("invalid JSON")

// jsonSyntaxError is a malformed text at Offset.
type jsonSyntaxError struct {
	Msg    string
	Offset int
}

func (e *jsonSyntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset) }
func (e *jsonSyntaxError) Unwrap() error { return errJSONSyntax }

// luaDecoder is one decode. A VM keeps the stacks (vm.dec) between
// decodes; a decode never runs Lua code, so it is never re-entered.
type luaDecoder struct {
	v     *vm
	s     string
	i     int
	vals  []glua.LValue // elements and member values being gathered
	keys  []string      // member keys, parallel to the tail of vals
	depth int
}

// decodeJSON decodes text under the VM's budget. what names the input in
// errors; fromClient says whether the text is the request body, whose
// refusal by the budget is the client's (413, or 400 when too deep) and
// not the script's. badRequest makes a syntax error wrap
// script.ErrBadRequest (req:json()).
func (v *vm) decodeJSON(text, what string, fromClient, badRequest bool) (glua.LValue, error) {
	if err := script.CheckJSON(v.budget(), what, text, fromClient); err != nil {
		return nil, err
	}
	d := &v.dec
	d.v, d.s, d.i, d.depth = v, text, 0, 0
	d.vals, d.keys = d.vals[:0], d.keys[:0]
	defer func() {
		d.s = ""
		clear(d.vals[:cap(d.vals)])
		clear(d.keys[:cap(d.keys)])
		if cap(d.vals) > maxScratch/16 {
			d.vals, d.keys = nil, nil
		}
	}()
	d.space()
	val, err := d.value()
	if err == nil {
		d.space()
		if d.i < len(d.s) {
			err = &jsonSyntaxError{"data after the JSON value", d.i}
		}
	}
	if err != nil {
		if badRequest {
			return nil, fmt.Errorf("request body is not JSON: %w (%w)", err, script.ErrBadRequest)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return val, nil
}

func (d *luaDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *luaDecoder) fail(msg string) error { return &jsonSyntaxError{msg, d.i} }

func (d *luaDecoder) value() (glua.LValue, error) {
	if d.i >= len(d.s) {
		return nil, d.fail("unexpected end of JSON input")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return glua.LString(s), nil
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return glua.LTrue, nil
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return glua.LFalse, nil
	case strings.HasPrefix(d.s[d.i:], "null"):
		d.i += 4
		return d.v.null, nil
	default:
		return nil, d.fail(fmt.Sprintf("invalid character %q looking for the beginning of a value", c))
	}
}

func (d *luaDecoder) enter() error {
	d.depth++
	if d.depth > script.MaxJSONDepth { // CheckJSON has refused it already
		return d.fail("nesting too deep")
	}
	return nil
}

func (d *luaDecoder) array() (glua.LValue, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.i++ // [
	base := len(d.vals)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
	} else {
		for {
			d.space()
			val, err := d.value()
			if err != nil {
				return nil, err
			}
			d.vals = append(d.vals, val)
			d.space()
			if d.i >= len(d.s) {
				return nil, d.fail("unexpected end of JSON input")
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] == ']' {
				d.i++
				break
			}
			return nil, d.fail(fmt.Sprintf("invalid character %q after an array element", d.s[d.i]))
		}
	}
	t := d.v.L.CreateTable(len(d.vals)-base, 0)
	for _, e := range d.vals[base:] {
		t.Append(e) // never nil: null is json.null
	}
	clear(d.vals[base:])
	d.vals = d.vals[:base]
	t.Metatable = d.v.arrayMT
	d.depth--
	return t, nil
}

func (d *luaDecoder) object() (glua.LValue, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.i++ // {
	base, kbase := len(d.vals), len(d.keys)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
	} else {
		for {
			d.space()
			if d.i >= len(d.s) || d.s[d.i] != '"' {
				return nil, d.fail("expected a string key")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.space()
			if d.i >= len(d.s) || d.s[d.i] != ':' {
				return nil, d.fail("expected ':' after an object key")
			}
			d.i++
			d.space()
			val, err := d.value()
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, k)
			d.vals = append(d.vals, val)
			d.space()
			if d.i >= len(d.s) {
				return nil, d.fail("unexpected end of JSON input")
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] == '}' {
				d.i++
				break
			}
			return nil, d.fail(fmt.Sprintf("invalid character %q after an object member", d.s[d.i]))
		}
	}
	t := d.v.L.CreateTable(0, len(d.vals)-base)
	for j, k := range d.keys[kbase:] {
		t.RawSetString(k, d.vals[base+j]) // a repeated key: the last wins
	}
	clear(d.vals[base:])
	clear(d.keys[kbase:])
	d.vals, d.keys = d.vals[:base], d.keys[:kbase]
	d.depth--
	return t, nil
}

// str reads a string literal. Plain ASCII without escapes is copied as
// is; anything else goes through encoding/json, which validates the
// escapes and turns invalid UTF-8 into U+FFFD.
func (d *luaDecoder) str() (string, error) {
	start := d.i
	j := d.i + 1
	simple := true
	for ; j < len(d.s); j++ {
		c := d.s[j]
		if c == '"' {
			break
		}
		if c < 0x20 {
			d.i = j
			return "", d.fail("invalid control character in a string")
		}
		if c == '\\' {
			simple = false
			j++
		} else if c >= utf8.RuneSelf {
			simple = false
		}
	}
	if j >= len(d.s) {
		d.i = j
		return "", d.fail("unexpected end of JSON input in a string")
	}
	d.i = j + 1
	if simple {
		return strings.Clone(d.s[start+1 : j]), nil
	}
	var out string
	if err := json.Unmarshal(unsafeBytes(d.s[start:j+1]), &out); err != nil {
		d.i = start
		return "", d.fail("invalid string: " + err.Error())
	}
	return out, nil
}

// number reads a number with JSON's grammar. One out of float64's range
// is kept as its text, as before.
func (d *luaDecoder) number() (glua.LValue, error) {
	s, start := d.s, d.i
	i := start
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		d.i = i
		return nil, d.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			d.i = i
			return nil, d.fail("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.i = i
			return nil, d.fail("invalid number")
		}
	}
	d.i = i
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		return glua.LString(strings.Clone(s[start:i])), nil
	}
	return glua.LNumber(f), nil
}
