package js

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

// The request and response objects are goja dynamic objects over one
// exchange. Their members are built only when a script reads them, so a
// request that touches only res.write builds no query, header or cookie
// object. Their methods are shared per VM and find their exchange through
// `this` (or, called detached, the request being served).

// exchange is one request's state as the script sees it. It is made per
// request (the req and res objects point at it, so a reference a script
// keeps after its request ended still sees that request, never a later
// one); everything reusable lives in the jsVM instead.
type exchange struct {
	v              *jsVM
	req            *script.Request
	res            *script.Response
	reqObj, resObj *goja.Object
	done           bool // the request ended; the objects are stale
	stdinUse       bool // CGI stdin already read

	cache     [nReqKeys]goja.Value
	jsonVal   goja.Value
	form      *formState   // req.form()/req.files(), parsed on first use
	queryIx   *queryIndex  // req.query parsed, when it had to be
	queryOv   *overlay     // the script's own changes to req.query
	headersIx *headerIndex // req.headers gathered from the params
	headersOv *overlay     // the script's own changes to req.headers

	reqExtra, resExtra map[string]goja.Value // properties the script set
}

// formState is the parsed form body of one request.
type formState struct {
	fields map[string]string
	files  map[string]*script.File
	err    error
}

type (
	reqView exchange
	resView exchange
)

var (
	typeReqView = reflect.TypeOf((*reqView)(nil))
	typeResView = reflect.TypeOf((*resView)(nil))
)

// Indexes of the lazily built request members in exchange.cache.
const (
	kMethod = iota
	kPath
	kURI
	kRemoteAddr
	kBody
	kQuery
	kHeaders
	kParams
	kCookies
	nReqKeys
)

var reqKeys = []string{"method", "path", "base", "uri", "query", "queryAll", "headers", "params", "remoteAddr",
	"body", "bytes", "json", "form", "files", "cookies"}

var resKeys = []string{"status", "header", "addHeader", "cookie", "write", "json", "redirect"}

// apiFuncs are the native functions shared by every request of a VM.
type apiFuncs struct {
	queryAll, bytes, json, form, files                          goja.Value
	status, header, addHeader, cookie, write, resJSON, redirect goja.Value

	uint8Array    goja.Value
	jsonParse     goja.Callable
	jsonStringify goja.Callable // the original JSON.stringify
}

// reqScratch is per-VM working memory of the request path, reused from one
// request to the next (never holding a value a script can see).
type reqScratch struct {
	args   [2]goja.Value // the handler's arguments
	pairs  []headerPair  // req.headers being built
	buf    []byte        // a string being written to the response
	method struct {      // the last req.method value (strings are immutable)
		s string
		v goja.Value
	}
	hdrNames map[string]string // HTTP_* param → header name, bounded
}

// headerPair is a header name, its value and the param it came from.
type headerPair struct{ k, v, param string }

// Bounds on what reqScratch keeps between requests.
const (
	maxKeptPairs   = 256
	maxKeptBuf     = 16 << 10
	maxHeaderNames = 64
)

func (v *jsVM) newExchange(req *script.Request, res *script.Response) *exchange {
	x := &exchange{v: v, req: req, res: res}
	x.reqObj = v.rt.NewDynamicObject((*reqView)(x))
	x.resObj = v.rt.NewDynamicObject((*resView)(x))
	return x
}

func (x *exchange) str(k int, s string) goja.Value {
	if x.cache[k] == nil {
		x.cache[k] = x.v.rt.ToValue(s)
	}
	return x.cache[k]
}

// Get implements goja.DynamicObject for req.
func (r *reqView) Get(key string) goja.Value {
	x := (*exchange)(r)
	x.live()
	if x.reqExtra != nil {
		if v, ok := x.reqExtra[key]; ok {
			return v
		}
	}
	a := &x.v.api
	switch key {
	case "method":
		if x.cache[kMethod] == nil {
			x.cache[kMethod] = x.v.methodValue(x.req.Method)
		}
		return x.cache[kMethod]
	case "path":
		return x.str(kPath, x.req.Path)
	case "uri":
		return x.str(kURI, x.req.URI)
	case "base":
		return x.v.rt.ToValue(x.req.Base)
	case "remoteAddr":
		return x.str(kRemoteAddr, x.req.RemoteAddr)
	case "body":
		if x.cache[kBody] == nil {
			x.cache[kBody] = x.v.utf8(x.req.Body)
		}
		return x.cache[kBody]
	case "query":
		if x.cache[kQuery] == nil {
			x.v.checkFields("req.query", x.v.budget().CheckQuery(x.req.RawQuery))
			x.cache[kQuery] = x.v.rt.NewDynamicObject((*queryView)(x))
		}
		return x.cache[kQuery]
	case "headers":
		if x.cache[kHeaders] == nil {
			x.cache[kHeaders] = x.v.rt.NewDynamicObject((*headersView)(x))
		}
		return x.cache[kHeaders]
	case "params":
		if x.cache[kParams] == nil {
			x.cache[kParams] = x.v.stringMap(x.req.Params)
		}
		return x.cache[kParams]
	case "cookies":
		if x.cache[kCookies] == nil {
			x.v.checkFields("req.cookies", x.v.budget().CheckCookies(x.req.Params["HTTP_COOKIE"]))
			x.cache[kCookies] = x.v.stringMap(x.req.Cookies())
		}
		return x.cache[kCookies]
	case "queryAll":
		return a.queryAll
	case "bytes":
		return a.bytes
	case "json":
		return a.json
	case "form":
		return a.form
	case "files":
		return a.files
	}
	return nil
}

func (r *reqView) Set(key string, val goja.Value) bool {
	if r.reqExtra == nil {
		r.reqExtra = map[string]goja.Value{}
	}
	r.reqExtra[key] = val
	return true
}

func (r *reqView) Has(key string) bool { return r.Get(key) != nil }

func (r *reqView) Delete(key string) bool {
	if r.reqExtra == nil {
		r.reqExtra = map[string]goja.Value{}
	}
	if isStd(reqKeys, key) {
		r.reqExtra[key] = goja.Undefined()
	} else {
		delete(r.reqExtra, key)
	}
	return true
}

func (r *reqView) Keys() []string {
	(*exchange)(r).live()
	return keysWith(reqKeys, r.reqExtra)
}

// errEnded is what a req or res a script kept throws once its request is
// over.
var errEnded = errors.New("the request has ended: req and res may not be used after their handler finished")

// live throws errEnded when x's request is over. The host reuses a
// request's memory (its params, its script.Request and Response) for later
// requests, so a req a script kept must not read any of it, as in Lua.
func (x *exchange) live() {
	if x.done {
		panic(x.v.errorObject("Error", errEnded))
	}
}

// Get implements goja.DynamicObject for res.
func (r *resView) Get(key string) goja.Value {
	x := (*exchange)(r)
	if x.resExtra != nil {
		if v, ok := x.resExtra[key]; ok {
			return v
		}
	}
	a := &x.v.api
	switch key {
	case "write":
		return a.write
	case "status":
		return a.status
	case "header":
		return a.header
	case "addHeader":
		return a.addHeader
	case "cookie":
		return a.cookie
	case "json":
		return a.resJSON
	case "redirect":
		return a.redirect
	}
	return nil
}

func (r *resView) Set(key string, val goja.Value) bool {
	if r.resExtra == nil {
		r.resExtra = map[string]goja.Value{}
	}
	r.resExtra[key] = val
	return true
}

func (r *resView) Has(key string) bool { return r.Get(key) != nil }

func (r *resView) Delete(key string) bool {
	if r.resExtra == nil {
		r.resExtra = map[string]goja.Value{}
	}
	if isStd(resKeys, key) {
		r.resExtra[key] = goja.Undefined()
	} else {
		delete(r.resExtra, key)
	}
	return true
}

func (r *resView) Keys() []string { return keysWith(resKeys, r.resExtra) }

func isStd(keys []string, k string) bool {
	for _, s := range keys {
		if s == k {
			return true
		}
	}
	return false
}

func keysWith(std []string, extra map[string]goja.Value) []string {
	out := make([]string, 0, len(std)+len(extra))
	for _, k := range std {
		if v, ok := extra[k]; ok && goja.IsUndefined(v) {
			continue
		}
		out = append(out, k)
	}
	var more []string
	for k := range extra {
		if !isStd(std, k) {
			more = append(more, k)
		}
	}
	sort.Strings(more)
	return append(out, more...)
}

// stringMap makes a plain JS object of m, keys sorted.
func (v *jsVM) stringMap(m map[string]string) *goja.Object {
	o := v.rt.NewObject()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_ = o.Set(k, v.rt.ToValue(m[k]))
	}
	return o
}

// thisExchange finds the exchange a req/res method was called on: the
// request being served when `this` is its req or res (the usual case, no
// lookup) or when the method was called detached; otherwise the exchange
// behind `this`, which must not have ended.
func (v *jsVM) thisExchange(this goja.Value) *exchange {
	x := v.cur
	if x != nil && (this == goja.Value(x.resObj) || this == goja.Value(x.reqObj)) {
		return x
	}
	if o, ok := this.(*goja.Object); ok {
		switch o.ExportType() {
		case typeResView:
			x = (*exchange)(o.Export().(*resView))
		case typeReqView:
			x = (*exchange)(o.Export().(*reqView))
		}
	}
	if x == nil || x.done {
		panic(v.errorObject("Error", errEnded))
	}
	return x
}

// methodValue is s as a JS string, the same value as last time when the
// method is the same.
func (v *jsVM) methodValue(s string) goja.Value {
	m := &v.scratch.method
	if m.v == nil || m.s != s {
		m.s, m.v = s, v.rt.ToValue(s)
	}
	return m.v
}

// headerName is the header name of a param of req.headers
// ("HTTP_X_API_KEY" → "x-api-key", "CONTENT_TYPE" → "content-type").
func (v *jsVM) headerName(param string) string {
	if name, ok := v.scratch.hdrNames[param]; ok {
		return name
	}
	name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(param, "HTTP_"), "_", "-"))
	if v.scratch.hdrNames == nil {
		v.scratch.hdrNames = make(map[string]string)
	}
	if len(v.scratch.hdrNames) < maxHeaderNames {
		// Clones: the cache must not pin one request's memory.
		v.scratch.hdrNames[strings.Clone(param)] = strings.Clone(name)
	}
	return name
}

// keepPairs keeps pairs' memory for the next request, emptied, unless it
// grew past maxKeptPairs.
func (v *jsVM) keepPairs(pairs []headerPair) {
	clear(pairs)
	if cap(pairs) > maxKeptPairs {
		pairs = nil
	}
	v.scratch.pairs = pairs[:0]
}

// errorObject makes a JS error of the given name carrying err (so an
// uncaught one unwraps to err).
func (v *jsVM) errorObject(name string, err error) *goja.Object {
	o := v.rt.NewGoError(err)
	_ = o.Set("name", name)
	return o
}

func (v *jsVM) throw(name string, err error) { panic(v.errorObject(name, err)) }

func (v *jsVM) typeError(format string, args ...any) {
	panic(v.rt.NewTypeError(fmt.Sprintf(format, args...)))
}

func (v *jsVM) installReqRes() {
	rt := v.rt
	a := &v.api
	a.uint8Array = rt.Get("Uint8Array")
	jsonObj := rt.Get("JSON").(*goja.Object)
	a.jsonParse, _ = goja.AssertFunction(jsonObj.Get("parse"))

	a.queryAll = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		name := c.Argument(0).String()
		v.checkFields("req.queryAll", v.budget().CheckQuery(x.req.RawQuery))
		vals := x.req.QueryAll(name)
		items := make([]any, len(vals))
		for i, s := range vals {
			items[i] = s
		}
		return rt.NewArray(items...)
	})
	a.bytes = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		return v.newUint8Array(append([]byte(nil), x.req.Body...))
	})
	a.json = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		if x.jsonVal == nil {
			x.jsonVal = v.parseJSON("req.json", "request body", x.req.Body, true)
		}
		return x.jsonVal
	})
	a.form = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		return v.stringMap(x.parseForm().fields)
	})
	a.files = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		files := x.parseForm().files
		o := rt.NewObject()
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			f := files[n]
			fo := rt.NewObject()
			_ = fo.Set("filename", f.Filename)
			_ = fo.Set("type", f.Type)
			_ = fo.Set("size", len(f.Data))
			_ = fo.Set("data", v.newUint8Array(f.Data))
			_ = o.Set(n, fo)
		}
		return o
	})

	a.status = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		code := c.Argument(0).ToFloat()
		if code != math.Trunc(code) || code < 100 || code > 999 {
			panic(rt.NewTypeError("res.status: %s is not an HTTP status code (100–999)", c.Argument(0).String()))
		}
		if err := x.res.SetStatus(int(code)); err != nil {
			v.throw("Error", fmt.Errorf("res.status: %w", err))
		}
		return x.resObj
	})
	a.header = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		if err := x.res.SetHeader(c.Argument(0).String(), headerValue(c.Argument(1))); err != nil {
			v.throw("TypeError", fmt.Errorf("res.header: %w", err))
		}
		return x.resObj
	})
	a.addHeader = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		if err := x.res.AddHeader(c.Argument(0).String(), headerValue(c.Argument(1))); err != nil {
			v.throw("TypeError", fmt.Errorf("res.addHeader: %w", err))
		}
		return x.resObj
	})
	a.cookie = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		opts := v.cookieOptions(c.Argument(2))
		if err := x.res.SetCookie(c.Argument(0).String(), c.Argument(1).String(), opts); err != nil {
			v.throw("TypeError", fmt.Errorf("res.cookie: %w", err))
		}
		return x.resObj
	})
	a.write = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		v.maybeDeliverStack()
		x := v.thisExchange(c.This)
		for _, arg := range c.Arguments {
			v.writeValue("res.write", x.res, arg, true)
		}
		return x.resObj
	})
	a.resJSON = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		if err := v.writeJSON(x.res, v.stringify(c.Argument(0))); err != nil {
			v.throw("Error", fmt.Errorf("res.json: %w", err))
		}
		return x.resObj
	})
	a.redirect = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		x := v.thisExchange(c.This)
		code := 0
		if arg := c.Argument(1); !goja.IsUndefined(arg) && !goja.IsNull(arg) {
			code = int(arg.ToInteger())
		}
		if err := x.res.Redirect(c.Argument(0).String(), code); err != nil {
			v.throw("TypeError", fmt.Errorf("res.redirect: %w", err))
		}
		return x.resObj
	})
}

// utf8 decodes b as UTF-8 into a JS string; each invalid byte becomes
// U+FFFD (goja would otherwise keep the raw bytes).
func (v *jsVM) utf8(b []byte) goja.Value {
	if utf8.Valid(b) {
		return v.rt.ToValue(string(b))
	}
	return v.rt.ToValue(string([]rune(string(b))))
}

func headerValue(v goja.Value) string {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return ""
	}
	return v.String()
}

// writeValue writes one argument of res.write / write / print: strings as
// UTF-8, Uint8Array/ArrayBuffer as raw bytes, numbers and booleans as text.
func (v *jsVM) writeValue(what string, w interface{ Write([]byte) (int, error) }, arg goja.Value, strict bool) {
	var err error
	switch {
	case strict && (goja.IsUndefined(arg) || goja.IsNull(arg)):
		v.typeError("%s: cannot write %s", what, arg.String())
	default:
		if o, ok := arg.(*goja.Object); ok {
			if b, ok := bytesOf(o); ok {
				_, err = w.Write(b)
				break
			}
			if _, isFn := goja.AssertFunction(o); strict && (isFn || o.ClassName() == "Object" || o.ClassName() == "Array") {
				v.typeError("%s: cannot write an object (use res.json or JSON.stringify)", what)
			}
		}
		s := arg.String()
		if r, ok := w.(*script.Response); ok {
			err = v.writeString(r, s)
		} else if sw, ok := w.(interface{ WriteString(string) (int, error) }); ok {
			_, err = sw.WriteString(s)
		} else {
			_, err = w.Write([]byte(s))
		}
	}
	if err != nil {
		v.throw("Error", fmt.Errorf("%s: %w", what, err))
	}
}

// writeString writes s to r through the VM's scratch buffer (Response.Write
// copies or sends what it is given and keeps nothing), so a short string
// costs no allocation.
func (v *jsVM) writeString(r *script.Response, s string) error {
	if len(s) > maxKeptBuf {
		_, err := r.Write([]byte(s))
		return err
	}
	b := append(v.scratch.buf[:0], s...)
	_, err := r.Write(b)
	v.scratch.buf = b[:0]
	return err
}

// writeJSON writes JSON text s with its content type, through the scratch
// buffer as writeString does.
func (v *jsVM) writeJSON(r *script.Response, s string) error {
	if len(s) > maxKeptBuf {
		return r.WriteJSONBytes([]byte(s))
	}
	b := append(v.scratch.buf[:0], s...)
	err := r.WriteJSONBytes(b)
	v.scratch.buf = b[:0]
	return err
}

func (v *jsVM) cookieOptions(arg goja.Value) script.CookieOptions {
	var o script.CookieOptions
	obj, ok := arg.(*goja.Object)
	if !ok {
		return o
	}
	get := func(name string) goja.Value {
		val := obj.Get(name)
		if val == nil || goja.IsUndefined(val) || goja.IsNull(val) {
			return nil
		}
		return val
	}
	if val := get("path"); val != nil {
		o.Path = val.String()
	}
	if val := get("domain"); val != nil {
		o.Domain = val.String()
	}
	if val := get("maxAge"); val != nil {
		o.MaxAge = int(val.ToInteger())
		if o.MaxAge == 0 {
			o.MaxAge = -1 // maxAge: 0 means "expire now", as in Express
		}
	}
	if val := get("expires"); val != nil {
		o.Expires = v.toTime("res.cookie: expires", val)
	}
	if val := get("httpOnly"); val != nil {
		o.HTTPOnly = val.ToBoolean()
	}
	if val := get("secure"); val != nil {
		o.Secure = val.ToBoolean()
	}
	if val := get("sameSite"); val != nil {
		o.SameSite = val.String()
	}
	return o
}

// toTime accepts a Date, a number of milliseconds since the epoch, or an
// HTTP / RFC 3339 date string.
func (v *jsVM) toTime(what string, val goja.Value) time.Time {
	if o, ok := val.(*goja.Object); ok && o.ClassName() == "Date" {
		if t, ok := o.Export().(time.Time); ok {
			return t
		}
	}
	switch e := val.Export().(type) {
	case int64:
		return time.UnixMilli(e)
	case float64:
		return time.UnixMilli(int64(e))
	case string:
		if t, err := http.ParseTime(e); err == nil {
			return t
		}
		if t, err := time.Parse(time.RFC3339, e); err == nil {
			return t
		}
	}
	v.typeError("%s: %s is not a Date, a number of milliseconds or a date string", what, val.String())
	return time.Time{}
}

func (v *jsVM) newUint8Array(b []byte) goja.Value {
	ab := v.rt.NewArrayBuffer(b)
	o, err := v.rt.New(v.api.uint8Array, v.rt.ToValue(ab))
	if err != nil {
		panic(err)
	}
	return o
}

func (x *exchange) parseForm() *formState {
	if x.form == nil {
		f := &formState{}
		if f.err = x.v.budget().CheckForm(x.req); f.err == nil {
			f.fields, f.files, f.err = x.req.Form()
		}
		x.form = f
	}
	if x.form.err != nil {
		if errors.Is(x.form.err, script.ErrTooManyValues) {
			x.v.throwBudget("req.form", x.form.err)
		}
		x.v.throw("Error", fmt.Errorf("req.form: %w", x.form.err))
	}
	return x.form
}

// goToJS converts a generic Go value (JSON-shaped) into a JS value.
func (v *jsVM) goToJS(val any) goja.Value {
	switch t := val.(type) {
	case nil:
		return goja.Null()
	case map[string]any:
		o := v.rt.NewObject()
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_ = o.Set(k, v.goToJS(t[k]))
		}
		return o
	case []any:
		items := make([]any, len(t))
		for i, e := range t {
			items[i] = v.goToJS(e)
		}
		return v.rt.NewArray(items...)
	case []string:
		items := make([]any, len(t))
		for i, e := range t {
			items[i] = e
		}
		return v.rt.NewArray(items...)
	default:
		return v.rt.ToValue(val)
	}
}

// canonicalHeaders lower-cases header names for scripts.
func canonicalHeaders(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, vs := range h {
		m[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return m
}
