package js

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"

	kvstore "github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/script"
	"github.com/fcgihost/fcgihost/script/builtin"
)

// installAPI sets the globals every script gets: log, console, crypto,
// base64, kv, fetch (require, module, exports and the CGI-style globals are
// set by the caller).
func (v *jsVM) installAPI() {
	rt := v.rt
	v.installReqRes()
	g := rt.GlobalObject()

	logAt := func(level slog.Level) goja.Value {
		return rt.ToValue(func(c goja.FunctionCall) goja.Value {
			v.log.Log(v.ctx, level, v.formatArgs(c.Arguments))
			return goja.Undefined()
		})
	}
	_ = g.Set("log", logAt(slog.LevelInfo))
	console := rt.NewObject()
	_ = console.Set("log", logAt(slog.LevelInfo))
	_ = console.Set("info", logAt(slog.LevelInfo))
	_ = console.Set("warn", logAt(slog.LevelWarn))
	_ = console.Set("error", logAt(slog.LevelError))
	_ = console.Set("debug", logAt(slog.LevelDebug))
	_ = g.Set("console", console)

	crypto := rt.NewObject()
	_ = crypto.Set("sha256", func(c goja.FunctionCall) goja.Value {
		sum := sha256.Sum256(v.bytesArg("crypto.sha256", c.Argument(0)))
		return rt.ToValue(hex.EncodeToString(sum[:]))
	})
	_ = crypto.Set("hmacSha256", func(c goja.FunctionCall) goja.Value {
		m := hmac.New(sha256.New, v.bytesArg("crypto.hmacSha256 key", c.Argument(0)))
		m.Write(v.bytesArg("crypto.hmacSha256", c.Argument(1)))
		return rt.ToValue(hex.EncodeToString(m.Sum(nil)))
	})
	_ = g.Set("crypto", crypto)
	v.installWeb(crypto)

	b64 := rt.NewObject()
	_ = b64.Set("encode", func(c goja.FunctionCall) goja.Value {
		b := v.bytesArg("base64.encode", c.Argument(0))
		v.checkSize("base64.encode", int64(base64.StdEncoding.EncodedLen(len(b))))
		return rt.ToValue(base64.StdEncoding.EncodeToString(b))
	})
	_ = b64.Set("decode", func(c goja.FunctionCall) goja.Value {
		return v.utf8(v.base64Decode(c.Argument(0)))
	})
	_ = b64.Set("decodeBytes", func(c goja.FunctionCall) goja.Value {
		return v.newUint8Array(v.base64Decode(c.Argument(0)))
	})
	_ = g.Set("base64", b64)

	v.installKV()
	_ = g.Set("fetch", v.fetch)
	v.installAppEnv()
}

// formatArgs joins log arguments with spaces: strings as they are, objects
// and arrays as JSON, the rest as String() does.
func (v *jsVM) formatArgs(args []goja.Value) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if o, ok := a.(*goja.Object); ok {
			if cls := o.ClassName(); cls == "Object" || cls == "Array" {
				var out string
				if v.catch(func() { out = v.stringify(o) }) == nil {
					b.WriteString(out)
					continue
				}
			}
			if cls := o.ClassName(); cls == "Error" {
				if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
					b.WriteString(st.String())
					continue
				}
			}
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// bytesArg takes a string (as UTF-8) or a Uint8Array/ArrayBuffer.
func (v *jsVM) bytesArg(what string, arg goja.Value) []byte {
	if o, ok := arg.(*goja.Object); ok {
		if b, ok := bytesOf(o); ok {
			return b
		}
	}
	if goja.IsUndefined(arg) || goja.IsNull(arg) {
		v.typeError("%s: expected a string or bytes, got %s", what, arg.String())
	}
	return []byte(arg.String())
}

func (v *jsVM) base64Decode(arg goja.Value) []byte {
	s := strings.TrimSpace(arg.String())
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	v.typeError("base64.decode: the input is not valid base64")
	return nil
}

func (v *jsVM) checkSize(what string, n int64) {
	if err := v.b.opts.Limits.CheckSize(what, n); err != nil {
		v.throw("RangeError", err)
	}
}

// stringify is JSON.stringify with the output size bounded (see
// boundedStringify); undefined becomes "null".
func (v *jsVM) stringify(val goja.Value) string {
	out := v.boundedStringify(val, goja.Undefined(), goja.Undefined())
	if out == nil || goja.IsUndefined(out) {
		return "null"
	}
	return out.String()
}

var errNotConfigured = func(what string) error {
	return fmt.Errorf("%s is not configured: %w", what, script.ErrNotConfigured)
}

// installKV sets the kv global. Every call passes the request context.
func (v *jsVM) installKV() {
	rt := v.rt
	kv := rt.NewObject()
	store := func(what string) script.KV {
		if v.b.opts.KV == nil {
			v.throw("Error", fmt.Errorf("%s: %w", what, errNotConfigured("kv")))
		}
		return v.b.opts.KV
	}
	key := func(what string, a goja.Value) string {
		if goja.IsUndefined(a) || goja.IsNull(a) {
			v.typeError("%s: key must be a string", what)
		}
		if _, ok := a.(*goja.Object); ok {
			v.typeError("%s: key must be a string", what)
		}
		return a.String()
	}
	value := func(what string, a goja.Value) string {
		if goja.IsUndefined(a) || goja.IsNull(a) {
			v.typeError("%s: value must be a string or a number, not %s", what, a.String())
		}
		if _, ok := a.(*goja.Object); ok {
			v.typeError("%s: value must be a string or a number (use JSON.stringify for objects)", what)
		}
		return a.String()
	}
	fail := func(what string, err error) {
		v.throw("Error", fmt.Errorf("%s: %w", what, err))
	}
	_ = kv.Set("get", func(c goja.FunctionCall) goja.Value {
		s := store("kv.get")
		val, ok, err := s.Get(v.ctx, key("kv.get", c.Argument(0)))
		if err != nil {
			fail("kv.get", err)
		}
		if !ok {
			return goja.Null()
		}
		return rt.ToValue(val)
	})
	_ = kv.Set("set", func(c goja.FunctionCall) goja.Value {
		s := store("kv.set")
		k, val := key("kv.set", c.Argument(0)), value("kv.set", c.Argument(1))
		var ttl time.Duration
		if o, ok := c.Argument(2).(*goja.Object); ok {
			if t := o.Get("ttl"); t != nil && !goja.IsUndefined(t) && !goja.IsNull(t) {
				d, err := builtin.TTL("kv.set", t.ToFloat())
				if err != nil {
					v.typeError("%v", err)
				}
				ttl = d
			}
		}
		if err := s.Set(v.ctx, k, val, ttl); err != nil {
			fail("kv.set", err)
		}
		return goja.Undefined()
	})
	_ = kv.Set("delete", func(c goja.FunctionCall) goja.Value {
		s := store("kv.delete")
		if err := s.Delete(v.ctx, key("kv.delete", c.Argument(0))); err != nil {
			fail("kv.delete", err)
		}
		return goja.Undefined()
	})
	_ = kv.Set("incr", func(c goja.FunctionCall) goja.Value {
		s := store("kv.incr")
		k := key("kv.incr", c.Argument(0))
		n := int64(1)
		if a := c.Argument(1); !goja.IsUndefined(a) && !goja.IsNull(a) {
			f := a.ToFloat()
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				v.typeError("kv.incr: n must be an integer")
			}
			n = int64(f)
		}
		got, err := s.Incr(v.ctx, k, n)
		if err != nil {
			fail("kv.incr", err)
		}
		return rt.ToValue(got)
	})
	_ = kv.Set("cas", func(c goja.FunctionCall) goja.Value {
		s := store("kv.cas")
		k := key("kv.cas", c.Argument(0))
		var old *string
		if a := c.Argument(1); !goja.IsUndefined(a) && !goja.IsNull(a) {
			o := value("kv.cas", a)
			old = &o
		}
		ok, err := s.CAS(v.ctx, k, old, value("kv.cas", c.Argument(2)))
		if err != nil {
			fail("kv.cas", err)
		}
		return rt.ToValue(ok)
	})
	_ = kv.Set("list", func(c goja.FunctionCall) goja.Value {
		s := store("kv.list")
		prefix := ""
		if a := c.Argument(0); !goja.IsUndefined(a) && !goja.IsNull(a) {
			prefix = a.String()
		}
		limit, after := 0, ""
		if o, ok := c.Argument(1).(*goja.Object); ok {
			if l := o.Get("limit"); l != nil && !goja.IsUndefined(l) && !goja.IsNull(l) {
				limit = int(l.ToInteger())
				if limit < 0 {
					v.typeError("kv.list: limit must be ≥ 0")
				}
			}
			// after: the last key of the previous page (docs/storage.md).
			if a := o.Get("after"); a != nil && !goja.IsUndefined(a) && !goja.IsNull(a) {
				after = a.String()
			}
		}
		var (
			keys []string
			err  error
		)
		if p, ok := s.(kvstore.Pager); ok && after != "" {
			keys, err = p.ListAfter(v.ctx, prefix, after, limit)
		} else if after != "" {
			err = errNotConfigured("a kv store that pages")
		} else {
			keys, err = s.List(v.ctx, prefix, limit)
		}
		if err != nil {
			fail("kv.list", err)
		}
		return v.goToJS(keys)
	})
	_ = kv.Set("batch", func(c goja.FunctionCall) goja.Value {
		s := store("kv.batch")
		b, ok := s.(kvstore.Batcher)
		if !ok {
			v.throw("Error", fmt.Errorf("kv.batch: %w", errNotConfigured("a batch-capable kv store")))
		}
		list, ok := c.Argument(0).(*goja.Object)
		if !ok || list.ClassName() != "Array" {
			v.typeError("kv.batch: expected an array of {op, key, value, ttl}")
		}
		n := list.Get("length").ToInteger()
		if n > kvstore.MaxBatchOps {
			v.typeError("kv.batch: %d operations (limit %d)", n, kvstore.MaxBatchOps)
		}
		field := func(o *goja.Object, name string) goja.Value {
			if x := o.Get(name); x != nil {
				return x
			}
			return goja.Undefined()
		}
		ops := make([]kvstore.Op, 0, n)
		total := 0
		for i := int64(0); i < n; i++ {
			o, ok := list.Get(fmt.Sprint(i)).(*goja.Object)
			if !ok {
				v.typeError("kv.batch: operation %d must be an object {op, key, value, ttl}", i)
			}
			what := fmt.Sprintf("kv.batch: operation %d", i)
			op := kvstore.Op{Key: key(what, field(o, "key"))}
			switch field(o, "op").String() {
			case "set":
				op.Kind, op.Value = kvstore.OpSet, value(what, field(o, "value"))
				if t := field(o, "ttl"); !goja.IsUndefined(t) && !goja.IsNull(t) {
					d, err := builtin.TTL(what, t.ToFloat())
					if err != nil {
						v.typeError("%v", err)
					}
					op.TTL = d
				}
			case "delete":
				op.Kind = kvstore.OpDelete
			default:
				v.typeError("%s: op must be \"set\" or \"delete\"", what)
			}
			// Bounded as it is gathered, before the copies add up
			// (kv.MaxBatchBytes).
			if total += len(op.Key) + len(op.Value); total > kvstore.MaxBatchBytes {
				v.throw("RangeError", fmt.Errorf("%s: the batch's keys and values pass %d bytes: %w", what, kvstore.MaxBatchBytes, kvstore.ErrValueTooLarge))
			}
			ops = append(ops, op)
		}
		if err := b.Batch(v.ctx, ops); err != nil {
			fail("kv.batch", err)
		}
		return goja.Undefined()
	})
	_ = rt.GlobalObject().Set("kv", kv)
}

// fetch performs the request synchronously (the VM's goroutine waits, the
// request context bounds it) and returns a settled Promise of a standard
// Response (fetchapi.go; README.md "Coming from Workers / Node"). The input
// is a URL string (or URL) or a Request; init takes method, headers (an
// object, pairs or a Headers), body (the Response body types but a
// stream) and signal (an aborted one rejects with its reason). The
// Fetcher applies the app's fetch_allow list and the limits.
func (v *jsVM) fetch(c goja.FunctionCall) goja.Value {
	rt := v.rt
	p, resolve, reject := rt.NewPromise()
	settle := func(val goja.Value, err error) goja.Value {
		if err != nil {
			var ex *goja.Exception
			if errors.As(err, &ex) {
				_ = reject(ex.Value())
			} else {
				_ = reject(v.errorObject("TypeError", err))
			}
		} else {
			_ = resolve(val)
		}
		return rt.ToValue(p)
	}
	if v.b.opts.Fetch == nil {
		return settle(nil, fmt.Errorf("fetch: %w", errNotConfigured("outbound HTTP (fetch_allow)")))
	}
	var fr *script.FetchRequest
	if err := v.catch(func() { fr = v.fetchRequest(c.Argument(0), c.Argument(1)) }); err != nil {
		return settle(nil, err)
	}
	resp, err := v.b.opts.Fetch.Fetch(v.ctx, fr)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "fetch ") { // package fetch's errors name the URL already
			err = fmt.Errorf("fetch %s: %w", fr.URL, err)
		}
		return settle(nil, err)
	}
	var res goja.Value
	if err := v.catch(func() { res = v.fetchResponse(fr, resp) }); err != nil {
		return settle(nil, err)
	}
	return settle(res, nil)
}

// fetchRequest reads fetch's input and init into a FetchRequest.
func (v *jsVM) fetchRequest(input, initv goja.Value) *script.FetchRequest {
	fr := &script.FetchRequest{Method: http.MethodGet, Headers: http.Header{}}
	var hinit goja.Value
	if src, ok := v.state(input).(*requestState); ok {
		v.ended(src)
		fr.URL, fr.Method = src.url, src.method
		hinit = v.reqHeaders(src)
		if !src.body.null {
			fr.Body = append([]byte(nil), src.body.data...)
		}
	} else {
		fr.URL = input.String()
	}
	if init, ok := initv.(*goja.Object); ok {
		if m := init.Get("method"); m != nil && !goja.IsUndefined(m) {
			fr.Method = strings.ToUpper(m.String())
		}
		if h := init.Get("headers"); h != nil && !goja.IsUndefined(h) && !goja.IsNull(h) {
			hinit = h
		}
		if sig, ok := init.Get("signal").(*goja.Object); ok {
			if sig.Get("aborted").ToBoolean() {
				reason := sig.Get("reason")
				if reason == nil || goja.IsUndefined(reason) {
					reason = v.errorObject("AbortError", errors.New("fetch: the signal is aborted"))
				}
				panic(reason)
			}
		}
		if body := init.Get("body"); body != nil && !goja.IsUndefined(body) && !goja.IsNull(body) {
			if _, isStream := v.isStream(body); isStream {
				v.typeError("fetch: a ReadableStream request body is not supported (read it into a Uint8Array first)")
			}
			data, ct, _ := v.bodyOf(body)
			fr.Body = data
			if ct != "" {
				fr.Headers.Set("Content-Type", ct)
			}
		}
	}
	if hinit != nil {
		if v.ftypes == nil {
			v.fetchTypes()
		}
		h := &headerList{}
		v.fillHeaders(h, hinit)
		for i, n := range h.names {
			fr.Headers.Add(n, h.values[i])
		}
	}
	return fr
}

// fetchResponse makes the standard Response of an outbound call: its
// headers are immutable, its body is read in full (bounded by the
// Fetcher).
func (v *jsVM) fetchResponse(fr *script.FetchRequest, resp *script.FetchResponse) goja.Value {
	o, s := v.newResponse(goja.Null(), goja.Undefined())
	s.status = resp.Status
	s.statusText = http.StatusText(resp.Status)
	s.url = resp.URL
	s.redirected = resp.URL != "" && resp.URL != fr.URL
	s.body = bodyState{data: resp.Body}
	h := s.hl
	names := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, val := range resp.Headers[k] {
			n, val := strings.ToLower(k), strings.Trim(val, " \t")
			v.room(h, n, val)
			h.add(n, val, false)
		}
	}
	h.immutable = true
	return o
}

// installCGI sets the CGI-style globals: env, stdin, write, print.
func (v *jsVM) installCGI(x *exchange) {
	rt := v.rt
	g := rt.GlobalObject()
	_ = g.Set("env", v.stringMap(v.cgiEnv(x.req.Params)))
	stdin := rt.NewObject()
	readOnce := func() []byte {
		x.live()
		if x.stdinUse {
			return nil
		}
		x.stdinUse = true
		return x.req.Body
	}
	_ = stdin.Set("read", func(goja.FunctionCall) goja.Value { return v.utf8(readOnce()) })
	_ = stdin.Set("readBytes", func(goja.FunctionCall) goja.Value {
		return v.newUint8Array(append([]byte(nil), readOnce()...))
	})
	_ = g.Set("stdin", stdin)
	_ = g.Set("write", func(c goja.FunctionCall) goja.Value {
		for _, a := range c.Arguments {
			v.writeValue("write", v.cgi, a, false)
		}
		return goja.Undefined()
	})
	_ = g.Set("print", func(c goja.FunctionCall) goja.Value {
		for i, a := range c.Arguments {
			if i > 0 {
				v.writeValue("print", v.cgi, rt.ToValue(" "), false)
			}
			v.writeValue("print", v.cgi, a, false)
		}
		v.writeValue("print", v.cgi, rt.ToValue("\n"), false)
		return goja.Undefined()
	})
}
