package js

// The Fetch standard's Headers, Request and Response (README.md "Coming from
// Workers / Node"), implemented in Go behind goja objects. The three globals
// are accessors on the global object until first read: a VM whose script
// never names them builds nothing (VM start stays as before). Their
// prototypes are made once per VM; each instance carries its Go state under
// a per-VM symbol, as an opaque value (no exported fields).
//
// Bodies are held whole in memory (the request body is already, under
// max_body; a Response body is what the script built). Blob and FormData
// bodies and formData()/blob() are in formdata.go.

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
	"github.com/fcgihost/fcgihost/script/builtin"
)

// fetchTypes is one VM's Headers/Request/Response, built on first use.
type fetchTypes struct {
	key                          *goja.Symbol
	hdrProto, reqProto, resProto *goja.Object
	hdrCtor, reqCtor, resCtor    *goja.Object
	urlProto, uspProto           *goja.Object
	urlCtor, uspCtor             *goja.Object
}

// headerList is a Headers object's state: names lower-cased, in order.
type headerList struct {
	names, values []string
	size          int // bytes of names and values
	immutable     bool
}

// maxHeaderBytes bounds the names and values of one Headers object, so that
// get() joining them stays below the string limits.
const maxHeaderBytes = 1 << 20

type bodyState struct {
	data []byte
	null bool
	used bool
}

type requestState struct {
	method, url string
	headers     *goja.Object
	body        bodyState
	signal      *goja.Object
	live        bool            // the incoming request: signal aborts with it
	from        *script.Request // the incoming request: headers made on first read
	x           *exchange       // the incoming request's exchange (its memory is reused after it)
}

// ended throws when s is an incoming request whose request has ended: its
// headers and body live in memory the host reuses.
func (v *jsVM) ended(s *requestState) {
	if s.x != nil && s.x.done {
		v.typeError("the request has ended")
	}
}

type responseState struct {
	stream     *goja.Object // a ReadableStream body (stream.go)
	status     int
	statusText string
	hl         *headerList  // the headers
	headers    *goja.Object // the Headers object over hl, made on first read
	body       bodyState
	redirected bool
	url        string
}

var fetchGlobals = [...]string{"Headers", "Request", "Response", "URL", "URLSearchParams"}

// installFetchGlobals makes Headers, Request and Response lazy globals.
func (v *jsVM) installFetchGlobals() {
	g := v.rt.GlobalObject()
	for i, name := range fetchGlobals {
		i, name := i, name
		get := v.rt.ToValue(func(goja.FunctionCall) goja.Value {
			t := v.fetchTypes()
			return t.ctors()[i]
		})
		set := v.rt.ToValue(func(call goja.FunctionCall) goja.Value {
			v.fetchSet[i] = true
			_ = g.DefineDataProperty(name, call.Argument(0), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
			return goja.Undefined()
		})
		_ = g.DefineAccessorProperty(name, get, set, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

// fetchTypes builds the constructors on first use and replaces the lazy
// globals by plain ones.
func (v *jsVM) fetchTypes() *fetchTypes {
	if v.ftypes != nil {
		return v.ftypes
	}
	rt := v.rt
	t := &fetchTypes{key: goja.NewSymbol("fcgihost.state")}
	v.ftypes = t
	t.hdrCtor, t.hdrProto = v.makeClass("Headers", v.newHeadersCall, map[string]func(goja.FunctionCall) goja.Value{
		"append":       func(c goja.FunctionCall) goja.Value { v.hdrAppend(c, false); return goja.Undefined() },
		"set":          func(c goja.FunctionCall) goja.Value { v.hdrAppend(c, true); return goja.Undefined() },
		"get":          v.hdrGet,
		"has":          v.hdrHas,
		"delete":       v.hdrDelete,
		"getSetCookie": v.hdrGetSetCookie,
		"forEach":      v.hdrForEach,
		"entries":      func(c goja.FunctionCall) goja.Value { return v.hdrIter(c, 0) },
		"keys":         func(c goja.FunctionCall) goja.Value { return v.hdrIter(c, 1) },
		"values":       func(c goja.FunctionCall) goja.Value { return v.hdrIter(c, 2) },
	})
	_ = t.hdrProto.SetSymbol(goja.SymIterator, t.hdrProto.Get("entries"))
	t.reqCtor, t.reqProto = v.makeClass("Request", v.newRequestCall, map[string]func(goja.FunctionCall) goja.Value{
		"text":        func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "text") },
		"json":        func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "json") },
		"arrayBuffer": func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "arrayBuffer") },
		"formData":    func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "formData") },
		"blob":        func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "blob") },
		"bytes":       func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "bytes") },
		"clone":       v.reqClone,
	})
	v.getters(t.reqProto, map[string]func(*requestState) goja.Value{
		"method":   func(s *requestState) goja.Value { return rt.ToValue(s.method) },
		"url":      func(s *requestState) goja.Value { return rt.ToValue(s.url) },
		"headers":  func(s *requestState) goja.Value { return v.reqHeaders(s) },
		"bodyUsed": func(s *requestState) goja.Value { return rt.ToValue(s.body.used) },
		"body": func(s *requestState) goja.Value {
			// A stream of the body, which is read whole already: getting
			// it uses the body up (README.md "Coming from Workers / Node").
			v.ended(s)
			if s.body.null {
				return goja.Null()
			}
			if s.body.used {
				v.typeError("Request.body: the body was already read")
			}
			s.body.used = true
			return v.webCall("streamOf", v.newUint8Array(append([]byte(nil), s.body.data...)))
		},
		"signal": func(s *requestState) goja.Value {
			if s.signal == nil {
				s.signal = v.newSignal(s.live)
			}
			return s.signal
		},
	}, nil)
	t.resCtor, t.resProto = v.makeClass("Response", v.newResponseCall, map[string]func(goja.FunctionCall) goja.Value{
		"text":        func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "text") },
		"json":        func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "json") },
		"arrayBuffer": func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "arrayBuffer") },
		"formData":    func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "formData") },
		"blob":        func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "blob") },
		"bytes":       func(c goja.FunctionCall) goja.Value { return v.bodyMethod(c, "bytes") },
		"clone":       v.resClone,
	})
	v.getters(t.resProto, nil, map[string]func(*responseState) goja.Value{
		"status":     func(s *responseState) goja.Value { return rt.ToValue(s.status) },
		"statusText": func(s *responseState) goja.Value { return rt.ToValue(s.statusText) },
		"ok":         func(s *responseState) goja.Value { return rt.ToValue(s.status >= 200 && s.status <= 299) },
		"headers":    func(s *responseState) goja.Value { return v.resHeaders(s) },
		"bodyUsed":   func(s *responseState) goja.Value { return rt.ToValue(s.body.used) },
		"redirected": func(s *responseState) goja.Value { return rt.ToValue(s.redirected) },
		"url":        func(s *responseState) goja.Value { return rt.ToValue(s.url) },
		"body": func(s *responseState) goja.Value {
			if s.stream == nil {
				if s.body.null {
					return goja.Null()
				}
				if s.body.used {
					v.typeError("Response.body: the body was already read")
				}
				s.stream = v.webCall("streamOf", v.newUint8Array(s.body.data)).ToObject(rt)
				s.body.data = nil
			}
			return s.stream
		},
		"type": func(s *responseState) goja.Value { return rt.ToValue("default") },
	})
	_ = t.resCtor.Set("json", func(c goja.FunctionCall) goja.Value {
		s := v.jsonString(c.Argument(0))
		o, st := v.newResponse(goja.Undefined(), c.Argument(1))
		st.body = bodyState{data: []byte(s)}
		if !st.hl.has("content-type") {
			st.hl.add("content-type", "application/json", true)
		}
		return o
	})
	_ = t.resCtor.Set("redirect", func(c goja.FunctionCall) goja.Value {
		// As the Fetch standard orders it: the URL is parsed first (a
		// TypeError, relative URLs included: there is no base), then the
		// status is checked; the Location is the parsed URL serialised.
		u, err := builtin.ParseWebURL(c.Argument(0).String(), nil)
		if err != nil {
			v.typeError("Response.redirect: invalid URL %q", c.Argument(0).String())
		}
		loc := u.Href()
		status := 302
		if a := c.Argument(1); !goja.IsUndefined(a) {
			status = int(a.ToInteger())
		}
		switch status {
		case 301, 302, 303, 307, 308:
		default:
			panic(v.errorObject("RangeError", fmt.Errorf("Response.redirect: invalid redirect status %d", status)))
		}
		o, st := v.newResponse(goja.Null(), goja.Undefined())
		st.status = status
		st.hl.add("location", loc, true)
		st.hl.immutable = true
		return o
	})
	_ = t.resCtor.Set("error", func(goja.FunctionCall) goja.Value {
		o, st := v.newResponse(goja.Null(), goja.Undefined())
		st.status = 0
		return o
	})
	v.installURL(t)
	g := rt.GlobalObject()
	for i, name := range fetchGlobals {
		if !v.fetchSet[i] { // not replaced by the script
			_ = g.DefineDataProperty(name, t.ctors()[i], goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
		}
	}
	return t
}

func (t *fetchTypes) ctors() [len(fetchGlobals)]*goja.Object {
	return [...]*goja.Object{t.hdrCtor, t.reqCtor, t.resCtor, t.urlCtor, t.uspCtor}
}

// makeClass makes a constructor (callable only with new) and its prototype.
func (v *jsVM) makeClass(name string, ctor func(goja.ConstructorCall) *goja.Object, methods map[string]func(goja.FunctionCall) goja.Value) (*goja.Object, *goja.Object) {
	rt := v.rt
	c := rt.ToValue(func(call goja.ConstructorCall) *goja.Object {
		o := ctor(call)
		if p := call.NewTarget; p != nil {
			if proto, ok := p.Get("prototype").(*goja.Object); ok {
				o.SetPrototype(proto)
			}
		}
		return o
	}).(*goja.Object)
	proto := rt.NewObject()
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		_ = proto.DefineDataProperty(n, rt.ToValue(methods[n]), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	_ = proto.DefineDataProperty("constructor", c, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = proto.SetSymbol(goja.SymToStringTag, name)
	_ = c.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = c.DefineDataProperty("name", rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	return c, proto
}

func (v *jsVM) getters(proto *goja.Object, req map[string]func(*requestState) goja.Value, res map[string]func(*responseState) goja.Value) {
	for n, f := range req {
		f := f
		_ = proto.DefineAccessorProperty(n, v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			return f(v.reqState(c.This))
		}), nil, goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
	for n, f := range res {
		f := f
		_ = proto.DefineAccessorProperty(n, v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
			return f(v.resState(c.This))
		}), nil, goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
}

// state returns the Go state of a Headers/Request/Response object.
func (v *jsVM) state(this goja.Value) any {
	o, ok := this.(*goja.Object)
	if !ok || v.ftypes == nil {
		return nil
	}
	s := o.GetSymbol(v.ftypes.key)
	if s == nil {
		return nil
	}
	return s.Export()
}

func (v *jsVM) attach(o *goja.Object, s any) {
	_ = o.DefineDataPropertySymbol(v.ftypes.key, v.rt.ToValue(s), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

// stateAs is the Go state attached to this (a Headers, Request, Response,
// URL or URLSearchParams object), or a TypeError naming what was expected.
func stateAs[T any](v *jsVM, this goja.Value, what string) *T {
	s, ok := v.state(this).(*T)
	if !ok {
		v.typeError("Illegal invocation: not a %s object", what)
	}
	return s
}

func (v *jsVM) hdrs(this goja.Value) *headerList { return stateAs[headerList](v, this, "Headers") }

func (v *jsVM) reqState(this goja.Value) *requestState {
	return stateAs[requestState](v, this, "Request")
}

func (v *jsVM) resState(this goja.Value) *responseState {
	return stateAs[responseState](v, this, "Response")
}

// ---- Headers

// validHeaderName is the token rule of RFC 9110.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func (v *jsVM) checkHeader(name, value string) (string, string) {
	if !validHeaderName(name) {
		v.typeError("Headers: invalid header name %q", name)
	}
	value = strings.Trim(value, " \t\r\n")
	if strings.ContainsAny(value, "\r\n\x00") {
		v.typeError("Headers: invalid value for header %q", name)
	}
	return strings.ToLower(name), value
}

// room throws when adding name and value would pass the Headers bounds.
func (v *jsVM) room(h *headerList, name, value string) {
	if len(h.names) >= maxHeaderEntries || h.size+len(name)+len(value) > maxHeaderBytes {
		panic(v.errorObject("RangeError", fmt.Errorf("Headers: more than %d entries or %d bytes", maxHeaderEntries, maxHeaderBytes)))
	}
}

func (h *headerList) add(name, value string, replace bool) {
	if replace {
		h.del(name)
	}
	h.size += len(name) + len(value)
	h.names = append(h.names, name)
	h.values = append(h.values, value)
}

func (h *headerList) del(name string) {
	j := 0
	for i, n := range h.names {
		if n != name {
			h.names[j], h.values[j] = n, h.values[i]
			j++
		} else {
			h.size -= len(n) + len(h.values[i])
		}
	}
	h.names, h.values = h.names[:j], h.values[:j]
}

func (h *headerList) has(name string) bool {
	for _, n := range h.names {
		if n == name {
			return true
		}
	}
	return false
}

func (h *headerList) get(name string) (string, bool) {
	var vals []string
	for i, n := range h.names {
		if n == name {
			vals = append(vals, h.values[i])
		}
	}
	if vals == nil {
		return "", false
	}
	return strings.Join(vals, ", "), true
}

// sorted is the iteration order of the Fetch standard: names sorted, values
// of one name combined, set-cookie kept one entry per value.
func (h *headerList) sorted() [][2]string {
	names := make([]string, 0, len(h.names))
	seen := map[string]bool{}
	for _, n := range h.names {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out [][2]string
	for _, n := range names {
		if n == "set-cookie" {
			for i, m := range h.names {
				if m == n {
					out = append(out, [2]string{n, h.values[i]})
				}
			}
			continue
		}
		val, _ := h.get(n)
		out = append(out, [2]string{n, val})
	}
	return out
}

func (v *jsVM) newHeadersCall(call goja.ConstructorCall) *goja.Object {
	return v.newHeaders(call.Argument(0))
}

// newHeaders makes a Headers object from init: a Headers, an iterable of
// pairs, or a record.
func (v *jsVM) newHeaders(init goja.Value) *goja.Object {
	t := v.fetchTypes()
	h := &headerList{}
	o := v.rt.NewObject()
	o.SetPrototype(t.hdrProto)
	v.attach(o, h)
	v.fillHeaders(h, init)
	return o
}

func (v *jsVM) fillHeaders(h *headerList, init goja.Value) {
	if init == nil || goja.IsUndefined(init) || goja.IsNull(init) {
		return
	}
	io, ok := init.(*goja.Object)
	if !ok {
		v.typeError("Headers: init must be an object")
	}
	if src, ok := v.state(io).(*headerList); ok {
		h.names = append(h.names, src.names...)
		h.values = append(h.values, src.values...)
		h.size = src.size
		return
	}
	if it := io.GetSymbol(goja.SymIterator); it != nil && !goja.IsUndefined(it) {
		var pairs []goja.Value
		from, _ := goja.AssertFunction(v.rt.Get("Array").ToObject(v.rt).Get("from"))
		arr, err := from(goja.Undefined(), io)
		if err != nil {
			panic(err)
		}
		ao := arr.ToObject(v.rt)
		n := int(ao.Get("length").ToInteger())
		if n > maxHeaderEntries {
			v.typeError("Headers: more than %d entries", maxHeaderEntries)
		}
		for i := 0; i < n; i++ {
			pairs = append(pairs, ao.Get(strconv.Itoa(i)))
		}
		for _, p := range pairs {
			po, ok := p.(*goja.Object)
			if !ok || po.Get("length") == nil || po.Get("length").ToInteger() != 2 {
				v.typeError("Headers: each entry must be a [name, value] pair")
			}
			n, val := v.checkHeader(po.Get("0").String(), po.Get("1").String())
			v.room(h, n, val)
			h.add(n, val, false)
		}
		return
	}
	keys := io.Keys()
	if len(keys) > maxHeaderEntries {
		v.typeError("Headers: more than %d entries", maxHeaderEntries)
	}
	for _, k := range keys {
		n, val := v.checkHeader(k, io.Get(k).String())
		v.room(h, n, val)
		h.add(n, val, false)
	}
}

// maxHeaderEntries bounds one Headers object (the response header section
// is bounded again when it is sent).
const maxHeaderEntries = 10000

func (v *jsVM) hdrAppend(c goja.FunctionCall, replace bool) {
	h := v.hdrs(c.This)
	if h.immutable {
		v.typeError("Headers: immutable")
	}
	n, val := v.checkHeader(c.Argument(0).String(), c.Argument(1).String())
	v.room(h, n, val)
	h.add(n, val, replace)
}

func (v *jsVM) hdrGet(c goja.FunctionCall) goja.Value {
	h := v.hdrs(c.This)
	s, ok := h.get(strings.ToLower(c.Argument(0).String()))
	if !ok {
		return goja.Null()
	}
	return v.rt.ToValue(s)
}

func (v *jsVM) hdrHas(c goja.FunctionCall) goja.Value {
	return v.rt.ToValue(v.hdrs(c.This).has(strings.ToLower(c.Argument(0).String())))
}

func (v *jsVM) hdrDelete(c goja.FunctionCall) goja.Value {
	h := v.hdrs(c.This)
	if h.immutable {
		v.typeError("Headers: immutable")
	}
	h.del(strings.ToLower(c.Argument(0).String()))
	return goja.Undefined()
}

func (v *jsVM) hdrGetSetCookie(c goja.FunctionCall) goja.Value {
	h := v.hdrs(c.This)
	out := []any{}
	for i, n := range h.names {
		if n == "set-cookie" {
			out = append(out, h.values[i])
		}
	}
	return v.rt.NewArray(out...)
}

func (v *jsVM) hdrForEach(c goja.FunctionCall) goja.Value {
	h := v.hdrs(c.This)
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		v.typeError("Headers.forEach: callback is not a function")
	}
	for _, p := range h.sorted() {
		if _, err := fn(c.Argument(1), v.rt.ToValue(p[1]), v.rt.ToValue(p[0]), c.This); err != nil {
			panic(err)
		}
	}
	return goja.Undefined()
}

// hdrIter returns an iterator over a snapshot: kind 0 entries, 1 keys, 2
// values.
func (v *jsVM) hdrIter(c goja.FunctionCall, kind int) goja.Value {
	h := v.hdrs(c.This)
	var items []any
	for _, p := range h.sorted() {
		switch kind {
		case 0:
			items = append(items, v.rt.NewArray(p[0], p[1]))
		case 1:
			items = append(items, p[0])
		default:
			items = append(items, p[1])
		}
	}
	arr := v.rt.NewArray(items...)
	fn, _ := goja.AssertFunction(arr.Get("values"))
	it, err := fn(arr)
	if err != nil {
		panic(err)
	}
	return it
}

// ---- bodies

// bodyOf converts a body init to bytes and its default content type.
func (v *jsVM) bodyOf(b goja.Value) (data []byte, ctype string, null bool) {
	if b == nil || goja.IsUndefined(b) || goja.IsNull(b) {
		return nil, "", true
	}
	if o, ok := b.(*goja.Object); ok {
		if bs, ok := bytesOf(o); ok {
			return append([]byte(nil), bs...), "", false
		}
		if tag := o.GetSymbol(goja.SymToStringTag); tag != nil && tag.String() == "URLSearchParams" {
			return []byte(o.String()), "application/x-www-form-urlencoded;charset=UTF-8", false
		}
		if data, ct, ok := v.blobOrFormBody(o); ok {
			return data, ct, false
		}
	}
	return []byte(b.String()), "text/plain;charset=UTF-8", false
}

// bodyMethod is text()/json()/arrayBuffer() of a Request or Response: a
// Promise of the body, which can be read once.
func (v *jsVM) bodyMethod(c goja.FunctionCall, kind string) goja.Value {
	var body *bodyState
	switch s := v.state(c.This).(type) {
	case *requestState:
		v.ended(s)
		body = &s.body
	case *responseState:
		body = &s.body
	default:
		v.typeError("Illegal invocation")
	}
	p, resolve, reject := v.rt.NewPromise()
	if body.used {
		_ = reject(v.errorObject("TypeError", errors.New("body already used")))
		return v.rt.ToValue(p)
	}
	if rs, ok := v.state(c.This).(*responseState); ok && rs.stream != nil {
		if rs.stream.Get("locked").ToBoolean() {
			_ = reject(v.errorObject("TypeError", errors.New("body stream is locked")))
			return v.rt.ToValue(p)
		}
		body.used = true
		var out goja.Value
		if err := v.catch(func() {
			out = v.webCall("consume", rs.stream, v.rt.ToValue(kind), v.rt.ToValue(v.bodyType(c.This)), v.fetchTypes().resCtor)
		}); err != nil {
			var ex *goja.Exception
			if errors.As(err, &ex) {
				_ = reject(ex.Value())
			} else {
				_ = reject(v.errorObject("TypeError", err))
			}
			return v.rt.ToValue(p)
		}
		_ = resolve(out)
		return v.rt.ToValue(p)
	}
	body.used = !body.null
	var val goja.Value
	err := v.catch(func() {
		switch kind {
		case "text":
			val = v.rt.ToValue(v.utf8(body.data))
		case "json":
			_, fromClient := v.state(c.This).(*requestState)
			val = v.parseJSON(kind+"()", "body", body.data, fromClient)
		case "formData":
			rs, fromClient := v.state(c.This).(*requestState)
			fromClient = fromClient && rs.from != nil
			val = v.formDataOf(v.bodyType(c.This), body.data, fromClient)
		case "blob":
			val = v.newBlobOf(body.data, v.bodyType(c.This))
		case "bytes":
			val = v.newUint8Array(append([]byte(nil), body.data...))
		default:
			val = v.rt.ToValue(v.rt.NewArrayBuffer(append([]byte(nil), body.data...)))
		}
	})
	if err != nil {
		var ex *goja.Exception
		if errors.As(err, &ex) {
			_ = reject(ex.Value())
		} else {
			_ = reject(v.errorObject("TypeError", err))
		}
		return v.rt.ToValue(p)
	}
	_ = resolve(val)
	return v.rt.ToValue(p)
}

// bodyType is the content type of a Request or Response, or "".
func (v *jsVM) bodyType(this goja.Value) string {
	var h *headerList
	switch s := v.state(this).(type) {
	case *requestState:
		h = v.hdrs(v.reqHeaders(s))
	case *responseState:
		h = s.hl
	}
	if h == nil {
		return ""
	}
	ct, _ := h.get("content-type")
	return ct
}

// ---- Request

func (v *jsVM) newRequestCall(call goja.ConstructorCall) *goja.Object {
	t := v.fetchTypes()
	in := call.Argument(0)
	init := call.Argument(1)
	s := &requestState{method: "GET", body: bodyState{null: true}}
	var hinit goja.Value
	if src, ok := v.state(in).(*requestState); ok {
		v.ended(src)
		*s = *src
		s.signal, s.live, s.from, s.x = nil, false, nil, nil
		hinit = v.reqHeaders(src)
		s.body.data = append([]byte(nil), src.body.data...)
	} else {
		s.url = v.absoluteURL(in.String())
	}
	if io, ok := init.(*goja.Object); ok {
		if m := io.Get("method"); m != nil && !goja.IsUndefined(m) {
			s.method = normalizeMethod(m.String())
			if !validHeaderName(s.method) {
				v.typeError("Request: invalid method %q", s.method)
			}
		}
		if h := io.Get("headers"); h != nil && !goja.IsUndefined(h) {
			hinit = h
		}
		if b := io.Get("body"); b != nil && !goja.IsUndefined(b) && !goja.IsNull(b) {
			if s.method == "GET" || s.method == "HEAD" {
				v.typeError("Request with GET/HEAD method cannot have body")
			}
			if _, isStream := v.isStream(b); isStream {
				v.typeError("Request: a ReadableStream body is not supported (read it into a Uint8Array first)")
			}
			data, ct, null := v.bodyOf(b)
			s.body = bodyState{data: data, null: null}
			defer func() {
				if ct != "" && !v.hdrs(s.headers).has("content-type") {
					v.hdrs(s.headers).add("content-type", ct, false)
				}
			}()
		}
	}
	s.headers = v.newHeaders(hinit)
	o := v.rt.NewObject()
	o.SetPrototype(t.reqProto)
	v.attach(o, s)
	return o
}

func normalizeMethod(m string) string {
	switch u := strings.ToUpper(m); u {
	case "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT":
		return u
	}
	return m
}

// absoluteURL resolves a Request's URL: absolute, or relative to the
// request being served.
func (v *jsVM) absoluteURL(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	if v.cur != nil {
		base := requestURL(v.cur.req)
		if strings.HasPrefix(s, "/") {
			if i := strings.Index(base[len("https://"):], "/"); i >= 0 {
				return base[:len("https://")+i] + s
			}
		}
	}
	v.typeError("Request: invalid URL %q", s)
	return ""
}

func (v *jsVM) reqClone(c goja.FunctionCall) goja.Value {
	s := v.reqState(c.This)
	if s.body.used {
		v.typeError("Request.clone: body already used")
	}
	t := v.fetchTypes()
	n := &requestState{method: s.method, url: s.url, body: bodyState{data: s.body.data, null: s.body.null}, signal: s.signal}
	n.headers = v.newHeaders(v.reqHeaders(s))
	o := v.rt.NewObject()
	o.SetPrototype(t.reqProto)
	v.attach(o, n)
	return o
}

// requestURL is the absolute URL of a request (README.md "Coming from
// Workers / Node"): https when HTTPS is on; the host from HTTP_HOST, else
// SERVER_NAME and SERVER_PORT without the scheme's default port; the path
// and query from REQUEST_URI.
func requestURL(r *script.Request) string {
	scheme := "http"
	if strings.EqualFold(r.Params["HTTPS"], "on") {
		scheme = "https"
	}
	host := r.Params["HTTP_HOST"]
	if host == "" || strings.ContainsAny(host, "/?#@\\ ") {
		host = r.Params["SERVER_NAME"]
		if host == "" {
			host = "localhost"
		}
		if p := r.Params["SERVER_PORT"]; p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
			host += ":" + p
		}
	}
	uri := r.Params["REQUEST_URI"]
	if uri == "" {
		uri = r.URI
	}
	if uri == "" {
		uri = r.Path
		if r.RawQuery != "" {
			uri += "?" + r.RawQuery
		}
	}
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	return scheme + "://" + strings.ToLower(host) + uri
}

// incomingRequest makes the Request of the request being served.
func (v *jsVM) incomingRequest(x *exchange) *goja.Object {
	t := v.fetchTypes()
	r := x.req
	s := &requestState{method: r.Method, url: requestURL(r)}
	if s.method == "" {
		s.method = "GET"
	}
	s.from, s.x = r, x
	s.body = bodyState{data: r.Body, null: len(r.Body) == 0 && (s.method == "GET" || s.method == "HEAD")}
	s.live = true // request.signal follows the request (made on first read)
	o := v.rt.NewObject()
	o.SetPrototype(t.reqProto)
	v.attach(o, s)
	return o
}

// reqHeaders returns a Request's headers, building the incoming request's
// from the params on first read.
func (v *jsVM) reqHeaders(s *requestState) *goja.Object {
	if s.headers != nil {
		return s.headers
	}
	v.ended(s)
	t := v.fetchTypes()
	r := s.from
	h := &headerList{}
	names := make([]string, 0, len(r.Params))
	for k := range r.Params {
		if strings.HasPrefix(k, "HTTP_") || k == "CONTENT_TYPE" || k == "CONTENT_LENGTH" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		n := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "HTTP_"), "_", "-"))
		if (k == "HTTP_CONTENT_TYPE" || k == "HTTP_CONTENT_LENGTH") && r.Params[strings.TrimPrefix(k, "HTTP_")] != "" {
			continue
		}
		if h.has(n) {
			continue
		}
		h.add(n, r.Params[k], false)
	}
	h.immutable = true
	ho := v.rt.NewObject()
	ho.SetPrototype(t.hdrProto)
	v.attach(ho, h)
	s.headers = ho
	return ho
}

// ---- Response

func (v *jsVM) newResponseCall(call goja.ConstructorCall) *goja.Object {
	o, _ := v.newResponse(call.Argument(0), call.Argument(1))
	return o
}

func (v *jsVM) newResponse(body, init goja.Value) (*goja.Object, *responseState) {
	t := v.fetchTypes()
	s := &responseState{status: 200}
	var hinit goja.Value
	if io, ok := init.(*goja.Object); ok {
		if st := io.Get("status"); st != nil && !goja.IsUndefined(st) {
			s.status = int(st.ToInteger())
			if s.status < 200 || s.status > 599 {
				panic(v.errorObject("RangeError", fmt.Errorf("Response: status %d is not in the range 200 to 599", s.status)))
			}
		}
		if st := io.Get("statusText"); st != nil && !goja.IsUndefined(st) {
			s.statusText = st.String()
		}
		if h := io.Get("headers"); h != nil && !goja.IsUndefined(h) {
			hinit = h
		}
	}
	// The Headers object is made only if the script reads
	// response.headers: a handler returning new Response(body) pays for
	// the list alone (docs/benchmarks.md, the Workers hello).
	s.hl = &headerList{}
	v.fillHeaders(s.hl, hinit)
	if st, ok := v.isStream(body); ok {
		if st.Get("locked").ToBoolean() {
			v.typeError("Response: the body stream is locked to a reader")
		}
		if s.status == 204 || s.status == 205 || s.status == 304 {
			v.typeError("Response with null body status %d cannot have a body", s.status)
		}
		s.stream = st
		o := v.rt.NewObject()
		o.SetPrototype(t.resProto)
		v.attach(o, s)
		return o, s
	}
	data, ct, null := v.bodyOf(body)
	if !null && (s.status == 204 || s.status == 205 || s.status == 304) {
		v.typeError("Response with null body status %d cannot have a body", s.status)
	}
	s.body = bodyState{data: data, null: null}
	if ct != "" && !s.hl.has("content-type") {
		s.hl.add("content-type", ct, false)
	}
	o := v.rt.NewObject()
	o.SetPrototype(t.resProto)
	v.attach(o, s)
	return o, s
}

// resHeaders is response.headers: the Headers object over the response's
// list, made on first read.
func (v *jsVM) resHeaders(s *responseState) *goja.Object {
	if s.headers == nil {
		o := v.rt.NewObject()
		o.SetPrototype(v.fetchTypes().hdrProto)
		v.attach(o, s.hl)
		s.headers = o
	}
	return s.headers
}

func (v *jsVM) resClone(c goja.FunctionCall) goja.Value {
	s := v.resState(c.This)
	if s.body.used {
		v.typeError("Response.clone: body already used")
	}
	if s.stream != nil {
		v.typeError("Response.clone: a stream body cannot be cloned (tee is not supported)")
	}
	o, n := v.newResponse(goja.Null(), goja.Undefined())
	n.status, n.statusText, n.body = s.status, s.statusText, bodyState{data: s.body.data, null: s.body.null}
	n.hl.names = append([]string(nil), s.hl.names...)
	n.hl.values = append([]string(nil), s.hl.values...)
	n.hl.size = s.hl.size
	return o
}

// jsonString is JSON.stringify(x) under the engine's bounds; undefined is
// a TypeError (Response.json).
func (v *jsVM) jsonString(x goja.Value) string {
	if x == nil || goja.IsUndefined(x) {
		v.typeError("Response.json: value is not JSON-serializable")
	}
	return v.stringify(x)
}

// sendResponse writes a Response object to the client.
func (v *jsVM) sendResponse(x *exchange, s *responseState) error {
	res := x.res
	if s.status == 0 {
		return v.b.newError(nil, errors.New("the fetch handler returned Response.error()"))
	}
	if err := res.SetStatus(s.status); err != nil {
		return v.writeErr(err)
	}
	h := s.hl
	for i, n := range h.names {
		name := http.CanonicalHeaderKey(n)
		set := res.SetHeader
		for _, m := range h.names[:i] {
			if m == n {
				set = res.AddHeader
				break
			}
		}
		if err := set(name, h.values[i]); err != nil {
			return v.writeErr(err)
		}
	}
	if s.stream != nil {
		if s.body.used {
			return v.b.newError(nil, errors.New("the Response's body stream was already read"))
		}
		s.body.used = true
		return v.sendStream(x, s.stream)
	}
	if s.body.null {
		return nil
	}
	_, err := res.Write(s.body.data)
	return v.writeErr(err)
}

// newSignal makes a minimal AbortSignal (the full AbortController and
// AbortSignal are globals of their own): live, aborted reads the request's
// context (the client went away, or the deadline passed); otherwise a
// signal that never aborts.
func (v *jsVM) newSignal(live bool) *goja.Object {
	rt := v.rt
	o := rt.NewObject()
	aborted := func() bool { return live && v.ctx.Err() != nil }
	_ = o.DefineAccessorProperty("aborted", rt.ToValue(func(goja.FunctionCall) goja.Value {
		return rt.ToValue(aborted())
	}), nil, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.DefineAccessorProperty("reason", rt.ToValue(func(goja.FunctionCall) goja.Value {
		if !aborted() {
			return goja.Undefined()
		}
		return v.errorObject("AbortError", errors.New("the client went away"))
	}), nil, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.Set("throwIfAborted", func(goja.FunctionCall) goja.Value {
		if aborted() {
			panic(v.errorObject("AbortError", errors.New("the client went away")))
		}
		return goja.Undefined()
	})
	_ = o.Set("addEventListener", func(goja.FunctionCall) goja.Value { return goja.Undefined() })
	_ = o.Set("removeEventListener", func(goja.FunctionCall) goja.Value { return goja.Undefined() })
	_ = o.Set("onabort", goja.Null())
	_ = o.SetSymbol(goja.SymToStringTag, "AbortSignal")
	return o
}
