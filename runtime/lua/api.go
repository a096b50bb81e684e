package lua

// This file binds req and res (handler style) and print/io/env (CGI style)
// to script.Request and script.Response.

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/fcgihost/fcgihost/script"
	glua "github.com/yuin/gopher-lua"
)

// reqState is one request as a run sees it. Lua tables of it are built on
// first use and cached, so a request that never reads req.headers never
// pays for them.
type reqState struct {
	v    *vm
	req  *script.Request
	res  *script.Response
	cgiw *script.CGIWriter // CGI style
	done bool              // Serve returned: req/res must not be used

	// req and res as Lua values, allocated with the state (one allocation
	// per request for all three).
	reqUD, resUD glua.LUserData
	body         glua.LValue
	query        *glua.LTable
	headers      *glua.LTable
	params       *glua.LTable
	cookies      *glua.LTable

	formParsed bool
	fields     map[string]string
	files      map[string]*script.File
	formErr    error

	bodyPos int // CGI style: io.read position
}

func newReqState(v *vm, req *script.Request, res *script.Response) *reqState {
	rs := &reqState{v: v, req: req, res: res}
	rs.reqUD = glua.LUserData{Value: rs, Metatable: v.reqMT}
	rs.resUD = glua.LUserData{Value: rs, Metatable: v.resMT}
	return rs
}

func (rs *reqState) reqValue() *glua.LUserData { return &rs.reqUD }

func (rs *reqState) resValue() *glua.LUserData { return &rs.resUD }

// target finds the request a req/res method works on: the userdata in
// argument 1 (method call, req:json()) or, for a plain call (req.json()),
// the current request; it returns the index of the first real argument.
func (v *vm) target(L *glua.LState) (*reqState, int) {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if rs, ok := ud.Value.(*reqState); ok {
			if rs.done {
				L.RaiseError("req/res used after its request finished")
			}
			return rs, 2
		}
	}
	if v.cur == nil {
		L.RaiseError("req/res used outside a request")
	}
	return v.cur, 1
}

func stringMap(L *glua.LState, m map[string]string) *glua.LTable {
	t := L.CreateTable(0, len(m))
	for k, val := range m {
		t.RawSetString(k, glua.LString(val))
	}
	return t
}

// reqIndex is req's __index: fields are computed on first access.
func (v *vm) reqIndex(L *glua.LState) int {
	rs, _ := v.target(L)
	key, ok := L.Get(2).(glua.LString)
	if !ok {
		L.Push(glua.LNil)
		return 1
	}
	r := rs.req
	var out glua.LValue = glua.LNil
	switch key {
	case "method":
		out = glua.LString(r.Method)
	case "path":
		out = glua.LString(r.Path)
	case "uri":
		out = glua.LString(r.URI)
	case "remote_addr":
		out = glua.LString(r.RemoteAddr)
	case "body":
		if rs.body == nil {
			rs.body = glua.LString(string(r.Body))
		}
		out = rs.body
	case "query":
		if rs.query == nil {
			rs.query = stringMap(L, r.Query())
		}
		out = rs.query
	case "headers":
		if rs.headers == nil {
			rs.headers = stringMap(L, r.Headers())
		}
		out = rs.headers
	case "params":
		if rs.params == nil {
			rs.params = stringMap(L, r.Params)
		}
		out = rs.params
	case "cookies":
		if rs.cookies == nil {
			rs.cookies = stringMap(L, r.Cookies())
		}
		out = rs.cookies
	case "query_all":
		out = v.lib.reqQueryAll
	case "json":
		out = v.lib.reqJSON
	case "form":
		out = v.lib.reqForm
	case "files":
		out = v.lib.reqFiles
	}
	L.Push(out)
	return 1
}

// reqQueryAll is req:query_all(name): every value of name, in order.
func (v *vm) reqQueryAll(L *glua.LState) int {
	rs, a := v.target(L)
	vals := rs.req.QueryAll(L.CheckString(a))
	t := L.CreateTable(len(vals), 0)
	for _, s := range vals {
		t.Append(glua.LString(s))
	}
	t.Metatable = v.arrayMT // an empty list still encodes as []
	L.Push(t)
	return 1
}

// reqJSON is req:json(): the body decoded (null → json.null). A body that is
// not JSON raises an error wrapping script.ErrBadRequest (400 if uncaught).
func (v *vm) reqJSON(L *glua.LState) int {
	rs, _ := v.target(L)
	val, err := rs.req.JSON()
	if err != nil {
		return v.fail(fmt.Errorf("req:json: %w", err))
	}
	L.Push(v.toLua(val))
	return 1
}

func (rs *reqState) parseForm() error {
	if !rs.formParsed {
		rs.formParsed = true
		rs.fields, rs.files, rs.formErr = rs.req.Form()
	}
	return rs.formErr
}

// reqForm is req:form(): urlencoded or multipart fields, name → first value.
func (v *vm) reqForm(L *glua.LState) int {
	rs, _ := v.target(L)
	if err := rs.parseForm(); err != nil {
		return v.fail(fmt.Errorf("req:form: %w", err))
	}
	L.Push(stringMap(L, rs.fields))
	return 1
}

// reqFiles is req:files(): name → {filename, type, size, data}.
func (v *vm) reqFiles(L *glua.LState) int {
	rs, _ := v.target(L)
	if err := rs.parseForm(); err != nil {
		return v.fail(fmt.Errorf("req:files: %w", err))
	}
	t := L.CreateTable(0, len(rs.files))
	for name, f := range rs.files {
		ft := L.CreateTable(0, 4)
		ft.RawSetString("filename", glua.LString(f.Filename))
		ft.RawSetString("type", glua.LString(f.Type))
		ft.RawSetString("size", glua.LNumber(len(f.Data)))
		ft.RawSetString("data", glua.LString(string(f.Data)))
		t.RawSetString(name, ft)
	}
	L.Push(t)
	return 1
}

// ret pushes res back for chaining.
func (rs *reqState) ret(L *glua.LState) int {
	L.Push(rs.resValue())
	return 1
}

func (v *vm) resStatus(L *glua.LState) int {
	rs, a := v.target(L)
	if err := rs.res.SetStatus(L.CheckInt(a)); err != nil {
		return v.fail(fmt.Errorf("res:status: %w", err))
	}
	return rs.ret(L)
}

// checkText accepts a string or a number (tostring'd), like io.write.
func checkText(L *glua.LState, n int) string {
	switch val := L.Get(n).(type) {
	case glua.LString:
		return string(val)
	case glua.LNumber:
		return val.String()
	default:
		L.ArgError(n, "string expected, got "+val.Type().String())
		return ""
	}
}

func (v *vm) resHeader(L *glua.LState) int {
	rs, a := v.target(L)
	if err := rs.res.SetHeader(L.CheckString(a), checkText(L, a+1)); err != nil {
		return v.fail(fmt.Errorf("res:header: %w", err))
	}
	return rs.ret(L)
}

func (v *vm) resAddHeader(L *glua.LState) int {
	rs, a := v.target(L)
	if err := rs.res.AddHeader(L.CheckString(a), checkText(L, a+1)); err != nil {
		return v.fail(fmt.Errorf("res:add_header: %w", err))
	}
	return rs.ret(L)
}

// resCookie is res:cookie(name, value, {path, domain, max_age, expires,
// http_only, secure, same_site}); camelCase names are accepted too.
func (v *vm) resCookie(L *glua.LState) int {
	rs, a := v.target(L)
	name := L.CheckString(a)
	value := checkText(L, a+1)
	var o script.CookieOptions
	if opts, ok := L.Get(a + 2).(*glua.LTable); ok {
		get := func(names ...string) glua.LValue {
			for _, n := range names {
				if val := opts.RawGetString(n); val != glua.LNil {
					return val
				}
			}
			return glua.LNil
		}
		o.Path = glua.LVAsString(get("path"))
		o.Domain = glua.LVAsString(get("domain"))
		if n, ok := get("max_age", "maxAge").(glua.LNumber); ok {
			o.MaxAge = int(n)
		}
		if n, ok := get("expires").(glua.LNumber); ok {
			o.Expires = time.Unix(int64(n), 0).UTC()
		}
		o.HTTPOnly = glua.LVAsBool(get("http_only", "httpOnly"))
		o.Secure = glua.LVAsBool(get("secure"))
		o.SameSite = glua.LVAsString(get("same_site", "sameSite"))
	} else if L.Get(a+2) != glua.LNil {
		L.ArgError(a+2, "options table expected")
	}
	if err := rs.res.SetCookie(name, value, o); err != nil {
		return v.fail(fmt.Errorf("res:cookie: %w", err))
	}
	return rs.ret(L)
}

// unsafeBytes views s as bytes without copying; the callee only reads.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (v *vm) resWrite(L *glua.LState) int {
	rs, a := v.target(L)
	top := L.GetTop()
	for i := a; i <= top; i++ {
		if _, err := rs.res.Write(unsafeBytes(checkText(L, i))); err != nil {
			return v.fail(fmt.Errorf("res:write: %w", err))
		}
	}
	return rs.ret(L)
}

func (v *vm) resJSON(L *glua.LState) int {
	rs, a := v.target(L)
	b, err := v.encodeJSON(L.Get(a), "res:json")
	if err != nil {
		return v.fail(err)
	}
	if err := rs.res.WriteJSONBytes(b); err != nil {
		return v.fail(fmt.Errorf("res:json: %w", err))
	}
	return rs.ret(L)
}

func (v *vm) resRedirect(L *glua.LState) int {
	rs, a := v.target(L)
	if err := rs.res.Redirect(L.CheckString(a), L.OptInt(a+1, 0)); err != nil {
		return v.fail(fmt.Errorf("res:redirect: %w", err))
	}
	return rs.ret(L)
}

// cgiOut is the current CGI-style request's writer.
func (v *vm) cgiOut(L *glua.LState) *script.CGIWriter {
	if v.cur == nil || v.cur.cgiw == nil {
		L.RaiseError("no response to write to outside a request")
	}
	return v.cur.cgiw
}

// cgiPrint is CGI style's print: arguments tostring'd, tab-separated, and a
// newline, to the response.
func (v *vm) cgiPrint(L *glua.LState) int {
	w := v.cgiOut(L)
	s := joinArgs(L, 1, "\t") + "\n"
	if _, err := w.Write(unsafeBytes(s)); err != nil {
		return v.fail(fmt.Errorf("print: %w", err))
	}
	return 0
}

// ioWrite is CGI style's io.write: strings and numbers, as they are.
func (v *vm) ioWrite(L *glua.LState) int {
	w := v.cgiOut(L)
	first := 1
	if t, ok := L.Get(1).(*glua.LTable); ok && t == v.env.RawGetString("io") {
		first = 2 // io.write(...):write(...) passes io back in
	}
	top := L.GetTop()
	for i := first; i <= top; i++ {
		if _, err := w.Write(unsafeBytes(checkText(L, i))); err != nil {
			return v.fail(fmt.Errorf("io.write: %w", err))
		}
	}
	L.Push(v.env.RawGetString("io"))
	return 1
}

// ioRead is CGI style's io.read over the request body: "a"/"*a" the rest
// ("" at the end), "l"/"*l" a line without its newline, "L"/"*L" with it,
// "n"/"*n" a number, or a byte count; nil at the end of the body.
func (v *vm) ioRead(L *glua.LState) int {
	if v.cur == nil {
		L.RaiseError("io.read: no request body outside a request")
	}
	rs := v.cur
	body := rs.req.Body
	top := L.GetTop()
	formats := []glua.LValue{glua.LString("l")}
	if top > 0 {
		formats = formats[:0]
		for i := 1; i <= top; i++ {
			formats = append(formats, L.Get(i))
		}
	}
	n := 0
	for i, f := range formats {
		rest := body[rs.bodyPos:]
		switch f := f.(type) {
		case glua.LNumber:
			k := int(f)
			if len(rest) == 0 && (k > 0 || len(body) == rs.bodyPos) {
				L.Push(glua.LNil)
				return n + 1
			}
			if k > len(rest) {
				k = len(rest)
			}
			if k < 0 {
				k = 0
			}
			L.Push(glua.LString(string(rest[:k])))
			rs.bodyPos += k
		case glua.LString:
			switch string(f) {
			case "a", "*a":
				L.Push(glua.LString(string(rest)))
				rs.bodyPos = len(body)
			case "l", "*l", "L", "*L":
				if len(rest) == 0 {
					L.Push(glua.LNil)
					return n + 1
				}
				j := bytes.IndexByte(rest, '\n')
				line, adv := rest, len(rest)
				if j >= 0 {
					line, adv = rest[:j], j+1
					if f == "L" || f == "*L" {
						line = rest[:j+1]
					}
				}
				L.Push(glua.LString(string(line)))
				rs.bodyPos += adv
			case "n", "*n":
				k := 0
				for k < len(rest) && (rest[k] == ' ' || rest[k] == '\t' || rest[k] == '\n' || rest[k] == '\r') {
					k++
				}
				j := scanNumber(rest, k)
				num, err := strconv.ParseFloat(string(rest[k:j]), 64)
				if err != nil {
					if i, ierr := strconv.ParseInt(string(rest[k:j]), 0, 64); ierr == nil {
						num, err = float64(i), nil
					}
				}
				if err != nil {
					L.Push(glua.LNil)
					return n + 1
				}
				L.Push(glua.LNumber(num))
				rs.bodyPos += j
			default:
				L.ArgError(i+1, "invalid format")
			}
		default:
			L.ArgError(i+1, "invalid format")
		}
		n++
	}
	return n
}

// scanNumber returns the end of the decimal or hex number starting at i.
func scanNumber(b []byte, i int) int {
	digits := func(i int, hex bool) int {
		for i < len(b) && ('0' <= b[i] && b[i] <= '9' || hex && ('a' <= b[i]|0x20 && b[i]|0x20 <= 'f')) {
			i++
		}
		return i
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	if i+1 < len(b) && b[i] == '0' && b[i+1]|0x20 == 'x' {
		return digits(i+2, true)
	}
	i = digits(i, false)
	if i < len(b) && b[i] == '.' {
		i = digits(i+1, false)
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if k := digits(j, false); k > j {
			i = k
		}
	}
	return i
}
