package js

// The Workers handler form (README.md "Coming from Workers / Node"): an ES
// module whose default export is an object with a fetch(request, env, ctx)
// method returning a Response or a Promise of one.
//   - env is built once per VM: env.KEY for each variable of the app's env
//     config key, and env.KV, the app's kv store with the Workers KV
//     interface (Promises, settled before they are returned: the store is
//     called synchronously under the request's context).
//   - ctx.waitUntil(promise) takes promises that run on after the handler
//     returned: the response is sent to the client first (script.Response
//     End), then the host drives the request's timers (loop.go) until they
//     settle, within the request's timeout, and logs a rejection.
//     ctx.passThroughOnException() exists and does nothing (there is no
//     origin to pass through to).

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dop251/goja"

	kvstore "github.com/fcgihost/fcgihost/kv"
)

type workersHandler struct {
	fetch   goja.Callable
	this    goja.Value
	env     *goja.Object
	ctx     *goja.Object    // one per VM; waitUntil adds to pending
	pending []*goja.Promise // the request's waitUntil promises
}

// workersForm recognises export default { fetch }.
func (v *jsVM) workersForm(exp goja.Value) bool {
	o, ok := exp.(*goja.Object)
	if !ok {
		return false
	}
	fn, ok := goja.AssertFunction(o.Get("fetch"))
	if !ok {
		return false
	}
	v.workers = &workersHandler{fetch: fn, this: o}
	return true
}

// callFetch serves the request being served with the fetch handler.
func (v *jsVM) callFetch() error {
	x := v.cur
	w := v.workers
	if w.env == nil {
		w.env = v.workersEnv()
	}
	w.pending = w.pending[:0]
	defer func() { w.pending = w.pending[:0] }()
	var req *goja.Object
	if err := v.catch(func() {
		req = v.incomingRequest(x)
		if w.ctx == nil {
			w.ctx = v.rt.NewObject()
			_ = w.ctx.Set("waitUntil", func(c goja.FunctionCall) goja.Value {
				if o, ok := c.Argument(0).(*goja.Object); ok && v.cur != nil {
					if p, ok := o.Export().(*goja.Promise); ok {
						w.pending = append(w.pending, p)
					}
				}
				return goja.Undefined()
			})
			_ = w.ctx.Set("passThroughOnException", func(goja.FunctionCall) goja.Value { return goja.Undefined() })
		}
	}); err != nil {
		return err
	}
	ret, err := w.fetch(w.this, req, w.env, w.ctx)
	if err != nil {
		return err
	}
	if o, ok := ret.(*goja.Object); ok && o.ExportType() == typePromise {
		if p, ok := o.Export().(*goja.Promise); ok {
			// The timers run until the handler's promise settles (loop.go).
			if err := v.settle(p); err != nil {
				return err
			}
			switch p.State() {
			case goja.PromiseStateRejected:
				return v.rejection(p.Result())
			case goja.PromiseStatePending:
				return v.b.newError(nil, errors.New("the fetch handler's promise never settled (no timer is left that could resolve it)"))
			}
			ret = p.Result()
		}
	}
	s, ok := v.state(ret).(*responseState)
	if !ok {
		return v.b.newError(nil, fmt.Errorf("the fetch handler returned %s, not a Response", describeValue(ret)))
	}
	if err := v.sendResponse(x, s); err != nil {
		return err
	}
	if len(w.pending) == 0 {
		return nil
	}
	return v.afterResponse(x, w)
}

// afterResponse sends the response to the client now, then runs the
// timers until every waitUntil promise has settled, within the request's
// time limit. A rejected promise or a throwing timer callback is logged
// (the client has its answer); the request's end (time limit, client gone)
// stops the work and is returned, as for any request that runs too long.
func (v *jsVM) afterResponse(x *exchange, w *workersHandler) error {
	if err := x.res.End(); err != nil {
		v.log.Info("ctx.waitUntil: sending the response first failed", "err", err)
	}
	settled := func() bool {
		for _, p := range w.pending {
			if p.State() == goja.PromiseStatePending {
				return false
			}
		}
		return true
	}
	err := v.drive(settled)
	if err != nil && v.ctx.Err() != nil {
		return err
	}
	if err != nil {
		se, _ := v.scriptError(err)
		v.log.Error("ctx.waitUntil: uncaught error in a timer", "err", se)
	}
	for _, p := range w.pending {
		switch p.State() {
		case goja.PromiseStateRejected:
			se := v.rejection(p.Result())
			v.log.Error("ctx.waitUntil promise rejected", "err", se)
		case goja.PromiseStatePending:
			v.log.Warn("ctx.waitUntil promise never settled (no timer is left that could resolve it)")
		}
	}
	return nil
}

// describeValue names a value for the log: "undefined", "a string", "an
// object (Object)"...
func describeValue(x goja.Value) string {
	switch {
	case x == nil || goja.IsUndefined(x):
		return "undefined"
	case goja.IsNull(x):
		return "null"
	}
	if o, ok := x.(*goja.Object); ok {
		if _, fn := goja.AssertFunction(o); fn {
			return "a function"
		}
		return "an object (" + o.ClassName() + ")"
	}
	switch x.ExportType().Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "a boolean (" + safeString(x) + ")"
	case "int64", "float64":
		return "a number (" + safeString(x) + ")"
	}
	return "a " + x.ExportType().String() + " (" + safeString(x) + ")"
}

// workersEnv makes env: the app's variables and KV.
func (v *jsVM) workersEnv() *goja.Object {
	rt := v.rt
	env := rt.NewObject()
	keys := make([]string, 0, len(v.b.opts.Env))
	for k := range v.b.opts.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_ = env.Set(k, v.b.opts.Env[k])
	}
	if v.b.opts.KV != nil && env.Get("KV") == nil {
		_ = env.Set("KV", v.workersKV())
	}
	return env
}

// settled returns a Promise settled with what fn returns or throws.
func (v *jsVM) settled(fn func() goja.Value) goja.Value {
	p, resolve, reject := v.rt.NewPromise()
	var val goja.Value
	if err := v.catch(func() { val = fn() }); err != nil {
		var ex *goja.Exception
		if errors.As(err, &ex) {
			_ = reject(ex.Value())
		} else {
			_ = reject(v.errorObject("Error", err))
		}
	} else {
		_ = resolve(val)
	}
	return v.rt.ToValue(p)
}

// workersKV is the Workers KV interface over the app's store.
func (v *jsVM) workersKV() *goja.Object {
	rt := v.rt
	kv := rt.NewObject()
	store := v.b.opts.KV
	fail := func(what string, err error) {
		v.throw("Error", fmt.Errorf("KV.%s: %w", what, err))
	}
	_ = kv.Set("get", func(c goja.FunctionCall) goja.Value {
		return v.settled(func() goja.Value {
			key := c.Argument(0).String()
			typ := "text"
			switch o := c.Argument(1).(type) {
			case goja.String:
				typ = o.String()
			case *goja.Object:
				if t := o.Get("type"); t != nil && !goja.IsUndefined(t) {
					typ = t.String()
				}
			}
			val, ok, err := store.Get(v.ctx, key)
			if err != nil {
				fail("get", err)
			}
			if !ok {
				return goja.Null()
			}
			switch typ {
			case "text":
				return rt.ToValue(val)
			case "json":
				return v.parseJSON("KV.get", "value", []byte(val), false)
			case "arrayBuffer":
				return rt.ToValue(rt.NewArrayBuffer([]byte(val)))
			}
			v.typeError("KV.get: unsupported type %q (text, json or arrayBuffer)", typ)
			return nil
		})
	})
	_ = kv.Set("put", func(c goja.FunctionCall) goja.Value {
		return v.settled(func() goja.Value {
			key := c.Argument(0).String()
			var val string
			if o, ok := c.Argument(1).(*goja.Object); ok {
				b, isBytes := bytesOf(o)
				if !isBytes {
					v.typeError("KV.put: value must be a string, an ArrayBuffer or a typed array")
				}
				val = string(b)
			} else {
				val = c.Argument(1).String()
			}
			var ttl time.Duration
			if o, ok := c.Argument(2).(*goja.Object); ok {
				if t := o.Get("expirationTtl"); t != nil && !goja.IsUndefined(t) {
					n := t.ToInteger()
					if n < 60 {
						v.typeError("KV.put: expirationTtl must be at least 60 seconds")
					}
					ttl = time.Duration(n) * time.Second
				}
				if t := o.Get("expiration"); t != nil && !goja.IsUndefined(t) {
					d := time.Until(time.Unix(t.ToInteger(), 0))
					if d < time.Minute {
						v.typeError("KV.put: expiration must be at least 60 seconds in the future")
					}
					ttl = d
				}
			}
			if err := store.Set(v.ctx, key, val, ttl); err != nil {
				fail("put", err)
			}
			return goja.Undefined()
		})
	})
	_ = kv.Set("delete", func(c goja.FunctionCall) goja.Value {
		return v.settled(func() goja.Value {
			if err := store.Delete(v.ctx, c.Argument(0).String()); err != nil {
				fail("delete", err)
			}
			return goja.Undefined()
		})
	})
	_ = kv.Set("list", func(c goja.FunctionCall) goja.Value {
		return v.settled(func() goja.Value {
			prefix, cursor, limit := "", "", 1000
			if o, ok := c.Argument(0).(*goja.Object); ok {
				if p := o.Get("prefix"); p != nil && !goja.IsUndefined(p) && !goja.IsNull(p) {
					prefix = p.String()
				}
				if p := o.Get("cursor"); p != nil && !goja.IsUndefined(p) && !goja.IsNull(p) {
					b, err := base64.RawURLEncoding.DecodeString(p.String())
					if err != nil {
						v.typeError("KV.list: invalid cursor")
					}
					cursor = string(b)
				}
				if p := o.Get("limit"); p != nil && !goja.IsUndefined(p) {
					limit = int(p.ToInteger())
					if limit < 1 || limit > 1000 {
						v.typeError("KV.list: limit must be between 1 and 1000")
					}
				}
			}
			// A cursor is the last key of the previous page. Every
			// namespace of the host's stores is a kv.Pager: one seek per
			// page, limit+1 keys read to know whether more follow; any
			// other store lists the prefix and the page is cut from it.
			var keys []string
			var err error
			if p, ok := store.(kvstore.Pager); ok {
				keys, err = p.ListAfter(v.ctx, prefix, cursor, limit+1)
				if err != nil {
					fail("list", err)
				}
			} else {
				keys, err = store.List(v.ctx, prefix, 0)
				if err != nil {
					fail("list", err)
				}
				if cursor != "" {
					i := sort.SearchStrings(keys, cursor)
					if i < len(keys) && keys[i] == cursor {
						i++
					}
					keys = keys[i:]
				}
			}
			complete := len(keys) <= limit
			if !complete {
				keys = keys[:limit]
			}
			items := make([]any, len(keys))
			for i, k := range keys {
				o := rt.NewObject()
				_ = o.Set("name", k)
				items[i] = o
			}
			out := rt.NewObject()
			_ = out.Set("keys", rt.NewArray(items...))
			_ = out.Set("list_complete", complete)
			if !complete {
				_ = out.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(keys[len(keys)-1])))
			}
			return out
		})
	})
	return kv
}
