package lua

// This file binds the ground every script gets beside the host API (see
// README.md, "Built-ins"): crypto.random_bytes/random_uuid, url, html and
// the Lua 5.3 utf8 library. The checks and limits are those of package
// script/builtin, shared with the JS globals.

import (
	"errors"
	"unicode/utf8"

	"github.com/fcgihost/fcgihost/script/builtin"
	glua "github.com/yuin/gopher-lua"
)

// maxMultiResults bounds the values one call pushes (utf8.codepoint of a
// long slice), as Lua's own "string slice too long" does.
const maxMultiResults = 4096

// raise turns an error of package builtin into a script error.
func (v *vm) raise(err error) int {
	if errors.Is(err, builtin.ErrQuota) {
		return v.fail(&luaError{msg: err.Error(), cause: err})
	}
	return v.fail(err)
}

// cryptoRandomBytes is crypto.random_bytes(n) → n bytes from a secure
// source, n ≤ 65536.
func (v *vm) cryptoRandomBytes(L *glua.LState) int {
	b, err := builtin.RandomBytes("crypto.random_bytes", float64(L.CheckNumber(1)))
	if err != nil {
		return v.raise(err)
	}
	L.Push(glua.LString(string(b)))
	return 1
}

// cryptoRandomUUID is crypto.random_uuid() → a version 4 UUID.
func cryptoRandomUUID(L *glua.LState) int {
	L.Push(glua.LString(builtin.RandomUUID()))
	return 1
}

// urlEncode is url.encode(s), as JS encodeURIComponent.
func (v *vm) urlEncode(L *glua.LState) int {
	s, err := builtin.URLEncode("url.encode", checkText(L, 1), v.maxString())
	if err != nil {
		return v.raise(err)
	}
	L.Push(glua.LString(s))
	return 1
}

// urlDecode is url.decode(s), as JS decodeURIComponent ('+' stays '+').
func (v *vm) urlDecode(L *glua.LState) int {
	s, err := builtin.URLDecode("url.decode", checkText(L, 1))
	if err != nil {
		return v.raise(err)
	}
	L.Push(glua.LString(s))
	return 1
}

// urlParse is url.parse(s [, base]) → {href, scheme, user, host, port,
// path, query, fragment}; absent parts are nil. The WHATWG URL parser
// shared with JS URL (docs/url.md).
func (v *vm) urlParse(L *glua.LState) int {
	var base *string
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		b := checkText(L, 2)
		base = &b
	}
	u, err := builtin.ParseURL("url.parse", checkText(L, 1), base)
	if err != nil {
		return v.raise(err)
	}
	t := L.CreateTable(0, 8)
	set := func(k, s string) {
		if s != "" {
			t.RawSetString(k, glua.LString(s))
		}
	}
	set("href", u.Href)
	set("scheme", u.Scheme)
	set("user", u.User)
	set("host", u.Host)
	if u.Port != 0 {
		t.RawSetString("port", glua.LNumber(u.Port))
	}
	set("path", u.Path)
	set("query", u.Query)
	set("fragment", u.Fragment)
	L.Push(t)
	return 1
}

// htmlEscape is html.escape(s): & < > " ' become entities.
func (v *vm) htmlEscape(L *glua.LState) int {
	s, err := builtin.HTMLEscape("html.escape", checkText(L, 1), v.maxString())
	if err != nil {
		return v.raise(err)
	}
	L.Push(glua.LString(s))
	return 1
}

func (v *vm) maxString() int64 {
	return v.b.opts.Limits.WithDefaults().MaxStringSize
}

// The utf8 library, as Lua 5.3's except that decoding is strict (as Go's
// and Lua 5.4's default): surrogates and code points past U+10FFFF are
// invalid.

const utf8CharPattern = "[\x00-\x7F\xC2-\xF4][\x80-\xBF]*"

func u8posrelat(pos int64, n int) int64 {
	if pos >= 0 {
		return pos
	}
	if -pos > int64(n) {
		return 0
	}
	return int64(n) + pos + 1
}

func iscont(s string, i int) bool { return i < len(s) && s[i]&0xC0 == 0x80 }

// decodeAt decodes the character at byte i of s; size 0 means invalid.
func decodeAt(s string, i int) (rune, int) {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return 0, 0
	}
	return r, size
}

// utf8Char is utf8.char(...).
func (v *vm) utf8Char(L *glua.LState) int {
	n := L.GetTop()
	v.checkSize("utf8.char", float64(n)*4)
	b := make([]byte, 0, n)
	for i := 1; i <= n; i++ {
		c := L.CheckInt64(i)
		if c < 0 || c > utf8.MaxRune || (c >= 0xD800 && c <= 0xDFFF) {
			L.ArgError(i, "value out of range")
		}
		b = utf8.AppendRune(b, rune(c))
	}
	L.Push(glua.LString(string(b)))
	return 1
}

// utf8Codepoint is utf8.codepoint(s [, i [, j]]).
func (v *vm) utf8Codepoint(L *glua.LState) int {
	s := L.CheckString(1)
	posi := u8posrelat(L.OptInt64(2, 1), len(s))
	pose := u8posrelat(L.OptInt64(3, posi), len(s))
	if posi < 1 {
		L.ArgError(2, "out of range")
	}
	if pose > int64(len(s)) {
		L.ArgError(3, "out of range")
	}
	if posi > pose {
		return 0
	}
	if pose-posi >= maxMultiResults {
		L.RaiseError("string slice too long")
	}
	n := 0
	for i := int(posi - 1); i < int(pose); {
		r, size := decodeAt(s, i)
		if size == 0 {
			L.RaiseError("invalid UTF-8 code")
		}
		L.Push(glua.LNumber(r))
		n++
		i += size
	}
	return n
}

// utf8Len is utf8.len(s [, i [, j]]) → count, or nil and the position of
// the first invalid byte.
func (v *vm) utf8Len(L *glua.LState) int {
	s := L.CheckString(1)
	posi := u8posrelat(L.OptInt64(2, 1), len(s))
	posj := u8posrelat(L.OptInt64(3, -1), len(s))
	if posi < 1 || posi-1 > int64(len(s)) {
		L.ArgError(2, "initial position out of string")
	}
	if posj-1 >= int64(len(s)) {
		L.ArgError(3, "final position out of string")
	}
	n := 0
	for i := int(posi - 1); i <= int(posj-1); {
		_, size := decodeAt(s, i)
		if size == 0 {
			L.Push(glua.LNil)
			L.Push(glua.LNumber(i + 1))
			return 2
		}
		i += size
		n++
	}
	L.Push(glua.LNumber(n))
	return 1
}

// utf8Offset is utf8.offset(s, n [, i]).
func (v *vm) utf8Offset(L *glua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt64(2)
	def := int64(1)
	if n < 0 {
		def = int64(len(s)) + 1
	}
	posi := u8posrelat(L.OptInt64(3, def), len(s))
	if posi < 1 || posi-1 > int64(len(s)) {
		L.ArgError(3, "position out of range")
	}
	p := int(posi - 1)
	if n == 0 {
		for p > 0 && iscont(s, p) {
			p--
		}
		L.Push(glua.LNumber(p + 1))
		return 1
	}
	if iscont(s, p) {
		L.RaiseError("initial position is a continuation byte")
	}
	if n < 0 {
		for n < 0 && p > 0 {
			p--
			for p > 0 && iscont(s, p) {
				p--
			}
			n++
		}
	} else {
		n--
		for n > 0 && p < len(s) {
			p++
			for iscont(s, p) {
				p++
			}
			n--
		}
	}
	if n == 0 {
		L.Push(glua.LNumber(p + 1))
	} else {
		L.Push(glua.LNil)
	}
	return 1
}

// utf8Codes is utf8.codes(s): for p, c in utf8.codes(s).
func (v *vm) utf8Codes(L *glua.LState) int {
	L.CheckString(1)
	L.Push(v.lib.utf8Iter)
	L.Push(L.Get(1))
	L.Push(glua.LNumber(0))
	return 3
}

func utf8IterAux(L *glua.LState) int {
	s := L.CheckString(1)
	n := int(L.CheckInt64(2)) - 1
	if n < 0 {
		n = 0
	} else if n < len(s) {
		n++
		for iscont(s, n) {
			n++
		}
	}
	if n >= len(s) {
		return 0
	}
	r, size := decodeAt(s, n)
	if size == 0 || iscont(s, n+size) {
		L.RaiseError("invalid UTF-8 code")
	}
	L.Push(glua.LNumber(n + 1))
	L.Push(glua.LNumber(r))
	return 2
}

// groundTables are the tables of this file (crypto gets its fields in
// stdlib.go beside sha256).
func (v *vm) groundTables(lb *libs, fn func(glua.LGFunction) *glua.LFunction) []libTable {
	lb.utf8Iter = fn(utf8IterAux)
	return []libTable{
		{"url", []field{{"encode", fn(v.urlEncode)}, {"decode", fn(v.urlDecode)}, {"parse", fn(v.urlParse)}}},
		{"html", []field{{"escape", fn(v.htmlEscape)}}},
		{"utf8", []field{{"char", fn(v.utf8Char)}, {"charpattern", glua.LString(utf8CharPattern)},
			{"codepoint", fn(v.utf8Codepoint)}, {"len", fn(v.utf8Len)}, {"offset", fn(v.utf8Offset)},
			{"codes", fn(v.utf8Codes)}}},
	}
}
