package lua

// This file binds req and res (handler style) and print/io/env (CGI style)
// to script.Request and script.Response.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	glua "github.com/yuin/gopher-lua"

	"github.com/fcgihost/fcgihost/script"
)

// reqState is the request a VM is serving. There is one per VM, reused:
// Serve points it at the request (begin) and clears it when the request
// ends (end), so that a request costs no allocation for it. Lua tables of
// the request are built on first use and cached for the request, so a
// request that never reads req.headers never pays for them.
//
// The script sees req and res as userdata that are new for each request
// (cut from a slab, see nextUDs). Their Value is the reqState, and a
// method checks that the userdata it was called on is the current
// request's: a req or res the script kept from an earlier request fails
// with an error and never reads or writes another request.
type reqState struct {
	v    *vm
	req  *script.Request
	res  *script.Response
	cgiw *script.CGIWriter // CGI style

	// The current request's req and res; nil outside Serve.
	reqUD, resUD *glua.LUserData

	body    glua.LValue
	query   *glua.LTable
	headers *glua.LTable
	params  *glua.LTable
	cookies *glua.LTable

	formParsed bool
	fields     map[string]string
	files      map[string]*script.File
	formErr    error

	bodyPos int // CGI style: io.read position
}

// udPair is one request's req and res userdata.
type udPair struct{ req, res glua.LUserData }

// udSlabSize is how many requests' userdata one allocation holds. A slab
// stays alive while the script keeps any of its userdata (80 bytes each
// pair), which is harmless.
const udSlabSize = 16

// nextUDs returns fresh req and res userdata for a request.
func (v *vm) nextUDs() (*glua.LUserData, *glua.LUserData) {
	if len(v.udSlab) == 0 {
		v.udSlab = make([]udPair, udSlabSize)
	}
	p := &v.udSlab[0]
	v.udSlab = v.udSlab[1:]
	p.req = glua.LUserData{Value: &v.rs, Metatable: v.reqMT}
	p.res = glua.LUserData{Value: &v.rs, Metatable: v.resMT}
	return &p.req, &p.res
}

// begin points the VM's reqState at a request and returns it.
func (v *vm) begin(req *script.Request, res *script.Response) *reqState {
	rs := &v.rs
	rs.v, rs.req, rs.res = v, req, res
	rs.reqUD, rs.resUD = v.nextUDs()
	return rs
}

// end forgets the request: its userdata go stale and nothing of it stays
// reachable from the VM.
func (rs *reqState) end() {
	*rs = reqState{v: rs.v}
}

func (rs *reqState) reqValue() *glua.LUserData { return rs.reqUD }

func (rs *reqState) resValue() *glua.LUserData { return rs.resUD }

// target finds the request a req/res method works on: the userdata in
// argument 1 (method call, req:json()) or, for a plain call (req.json()),
// the current request; it returns the index of the first real argument.
func (v *vm) target(L *glua.LState) (*reqState, int) {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if rs, ok := ud.Value.(*reqState); ok {
			if ud != rs.reqUD && ud != rs.resUD {
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

// Methods as Lua values boxed once (boxing a string allocates).
var (
	lGET     glua.LValue = glua.LString("GET")
	lPOST    glua.LValue = glua.LString("POST")
	lHEAD    glua.LValue = glua.LString("HEAD")
	lPUT     glua.LValue = glua.LString("PUT")
	lDELETE  glua.LValue = glua.LString("DELETE")
	lPATCH   glua.LValue = glua.LString("PATCH")
	lOPTIONS glua.LValue = glua.LString("OPTIONS")
)

func methodValue(m string) glua.LValue {
	switch m {
	case "GET":
		return lGET
	case "POST":
		return lPOST
	case "HEAD":
		return lHEAD
	case "PUT":
		return lPUT
	case "DELETE":
		return lDELETE
	case "PATCH":
		return lPATCH
	case "OPTIONS":
		return lOPTIONS
	}
	return glua.LString(m)
}

// queryTable is req.query: name → first value of the raw query string,
// parsed straight into the table as script.Request parses it (lenient: a
// bad escape is kept as written, ';' is not a separator), without the
// intermediate url.Values and map copy of Request.Query.
// TestQueryTable_MatchesRequest keeps the two in step.
func queryTable(L *glua.LState, raw string) *glua.LTable {
	if raw == "" {
		return L.CreateTable(0, 0)
	}
	t := L.CreateTable(0, min(strings.Count(raw, "&")+1, 32))
	script.QueryParts(raw, func(k, val string) bool {
		k = script.QueryUnescape(k)
		if t.RawGetString(k) == glua.LNil { // the first value wins
			t.RawSetString(k, glua.LString(script.QueryUnescape(val)))
		}
		return true
	})
	return t
}

// maxHeaderNames bounds a VM's cache of header names.
const maxHeaderNames = 64

// headersTable is req.headers: lower-case name → value, from the HTTP_*
// params plus content-type and content-length when not empty, as
// script.Request.Headers makes them, but built straight from the params
// with the names cached per VM (the same few headers come every time).
// Where two params give one name (CONTENT_TYPE and HTTP_CONTENT_TYPE), the
// smaller param name wins, as in the JS engine, so that map order never
// shows. TestHeadersTable_MatchesRequest keeps it in step with
// script.Request.
func (v *vm) headersTable(L *glua.LState, params map[string]string) *glua.LTable {
	n := 0
	for k, val := range params {
		if _, ok := v.headerOf(k, val); ok {
			n++
		}
	}
	t := L.CreateTable(0, n)
	clash := false
	for k, val := range params {
		if name, ok := v.headerOf(k, val); ok {
			clash = clash || t.RawGetString(name) != glua.LNil
			t.RawSetString(name, glua.LString(val))
		}
	}
	if clash { // rare: settle each name on its smallest param
		winner := map[string]string{}
		for k, val := range params {
			if name, ok := v.headerOf(k, val); ok {
				if w, seen := winner[name]; !seen || k < w {
					winner[name] = k
				}
			}
		}
		for name, k := range winner {
			t.RawSetString(name, glua.LString(params[k]))
		}
	}
	return t
}

// headerOf reports the header a param gives, if any.
func (v *vm) headerOf(param, val string) (string, bool) {
	switch {
	case strings.HasPrefix(param, "HTTP_"):
		return v.headerName(param), true
	case param == "CONTENT_TYPE" && val != "":
		return "content-type", true
	case param == "CONTENT_LENGTH" && val != "":
		return "content-length", true
	}
	return "", false
}

// headerName turns an HTTP_* param name into a header name
// ("HTTP_X_API_KEY" → "x-api-key").
func (v *vm) headerName(param string) string {
	if name, ok := v.hdrNames[param]; ok {
		return name
	}
	name := strings.ToLower(strings.ReplaceAll(param[len("HTTP_"):], "_", "-"))
	if v.hdrNames == nil {
		v.hdrNames = make(map[string]string)
	}
	if len(v.hdrNames) < maxHeaderNames {
		// Clones: the cache must not pin the buffers of one request.
		v.hdrNames[strings.Clone(param)] = strings.Clone(name)
	}
	return name
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
		out = methodValue(r.Method)
	case "path":
		out = glua.LString(r.Path)
	case "uri":
		out = glua.LString(r.URI)
	case "base":
		out = glua.LString(r.Base)
	case "remote_addr":
		out = glua.LString(r.RemoteAddr)
	case "body":
		if rs.body == nil {
			rs.body = glua.LString(string(r.Body))
		}
		out = rs.body
	case "query":
		if rs.query == nil {
			if err := v.budget().CheckQuery(r.RawQuery); err != nil {
				return v.fail(fmt.Errorf("req.query: %w", err))
			}
			rs.query = queryTable(L, r.RawQuery)
		}
		out = rs.query
	case "headers":
		if rs.headers == nil {
			rs.headers = v.headersTable(L, r.Params)
		}
		out = rs.headers
	case "params":
		if rs.params == nil {
			rs.params = stringMap(L, r.Params)
		}
		out = rs.params
	case "cookies":
		if rs.cookies == nil {
			if err := v.budget().CheckCookies(r.Params["HTTP_COOKIE"]); err != nil {
				return v.fail(fmt.Errorf("req.cookies: %w", err))
			}
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
	name := L.CheckString(a)
	if err := v.budget().CheckQuery(rs.req.RawQuery); err != nil {
		return v.fail(fmt.Errorf("req:query_all: %w", err))
	}
	vals := rs.req.QueryAll(name)
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
	if rs.body == nil {
		rs.body = glua.LString(string(rs.req.Body))
	}
	val, err := v.decodeJSON(string(rs.body.(glua.LString)), "request body", true, true)
	if err != nil {
		return v.fail(fmt.Errorf("req:json: %w", err))
	}
	L.Push(val)
	return 1
}

// parseForm parses the form body once, after the budget has priced its
// fields (see decode.go).
func (rs *reqState) parseForm(b script.Budget) error {
	if !rs.formParsed {
		rs.formParsed = true
		if rs.formErr = b.CheckForm(rs.req); rs.formErr == nil {
			rs.fields, rs.files, rs.formErr = rs.req.Form()
		}
	}
	return rs.formErr
}

// reqForm is req:form(): urlencoded or multipart fields, name → first value.
func (v *vm) reqForm(L *glua.LState) int {
	rs, _ := v.target(L)
	if err := rs.parseForm(v.budget()); err != nil {
		return v.fail(fmt.Errorf("req:form: %w", err))
	}
	L.Push(stringMap(L, rs.fields))
	return 1
}

// reqFiles is req:files(): name → {filename, type, size, data}.
func (v *vm) reqFiles(L *glua.LState) int {
	rs, _ := v.target(L)
	if err := rs.parseForm(v.budget()); err != nil {
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
		return numberString(val)
	default:
		L.ArgError(n, "string expected, got "+val.Type().String())
		return ""
	}
}

// numberString is tostring(n) (LNumber.String) without fmt for integers.
func numberString(n glua.LNumber) string {
	if f := float64(n); f == float64(int64(f)) { // gopher-lua's isInteger
		return strconv.FormatInt(int64(f), 10)
	}
	return n.String()
}

// appendNumberText appends tostring(n).
func appendNumberText(b []byte, n glua.LNumber) []byte {
	if f := float64(n); f == float64(int64(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return append(b, n.String()...)
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

// maxScratch bounds the buffer a VM keeps between calls (res:write's
// gathering, json encoding); a bigger one is dropped after use.
const maxScratch = 8 << 10

// resWrite is res:write(...): strings and numbers, gathered into one
// Write (one copy into the response instead of one per argument). A
// long string goes straight through; a bad argument raises after what
// came before it is written, as if each were written in turn.
func (v *vm) resWrite(L *glua.LState) int {
	rs, a := v.target(L)
	top := L.GetTop()
	buf := v.scratch[:0]
	for i := a; i <= top; i++ {
		switch val := L.Get(i).(type) {
		case glua.LString:
			if len(val) <= maxScratch-len(buf) {
				buf = append(buf, val...)
				continue
			}
			if err := v.writeRes(rs, buf); err != nil {
				return v.fail(err)
			}
			buf = buf[:0]
			if err := v.writeRes(rs, unsafeBytes(string(val))); err != nil {
				return v.fail(err)
			}
		case glua.LNumber:
			buf = appendNumberText(buf, val)
		default:
			if err := v.writeRes(rs, buf); err != nil {
				return v.fail(err)
			}
			checkText(L, i) // raises
		}
	}
	if err := v.writeRes(rs, buf); err != nil {
		return v.fail(err)
	}
	v.keepScratch(buf)
	return rs.ret(L)
}

// writeRes writes p (if any) to the response.
func (v *vm) writeRes(rs *reqState, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if _, err := rs.res.Write(p); err != nil {
		return fmt.Errorf("res:write: %w", err)
	}
	return nil
}

// keepScratch keeps b's array for the next use unless it grew too big.
func (v *vm) keepScratch(b []byte) {
	if cap(b) <= maxScratch {
		v.scratch = b[:0]
	} else {
		v.scratch = nil
	}
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
	// Each argument is written as it is converted, as C Lua's print does:
	// joining them first would build their sum in one native call
	// (print(unpack(t)) with many references to one large string), while
	// the response itself is bounded by max_response.
	top := L.GetTop()
	for i := 1; i <= top; i++ {
		s := L.ToStringMeta(L.Get(i)).String()
		if i > 1 {
			s = "\t" + s
		}
		if _, err := w.Write(unsafeBytes(s)); err != nil {
			return v.fail(fmt.Errorf("print: %w", err))
		}
	}
	if _, err := w.Write([]byte("\n")); err != nil {
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
