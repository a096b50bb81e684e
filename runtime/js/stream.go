package js

// ReadableStream bodies (README.md "Coming from Workers / Node"): a
// Response whose body is a ReadableStream (web.js) is sent as its chunks
// come: the host reads the stream, driving the request's timers and
// promise jobs until each read settles (loop.go), and writes and flushes
// every chunk (one FastCGI STDOUT record each). The request's time limit
// and max_response bound it like any response; a stream that errors after
// the head went out ends the body there (the client sees a cut response).

import (
	"errors"
	"fmt"

	"github.com/dop251/goja"
)

// isStream reports whether x is a ReadableStream of web.js.
func (v *jsVM) isStream(x goja.Value) (*goja.Object, bool) {
	o, ok := x.(*goja.Object)
	if !ok {
		return nil, false
	}
	tag := o.GetSymbol(goja.SymToStringTag)
	if tag == nil || tag.String() != "ReadableStream" || v.web == nil {
		return nil, false
	}
	ctor, _ := v.web.Get("ReadableStream").(*goja.Object)
	if ctor == nil {
		return nil, false
	}
	if proto, _ := ctor.Get("prototype").(*goja.Object); proto == nil || !v.instanceOf(o, proto) {
		return nil, false
	}
	return o, true
}

// instanceOf walks o's prototype chain (bounded like every chain, see
// docs/sandbox.md) looking for proto.
func (v *jsVM) instanceOf(o, proto *goja.Object) bool {
	for p, i := o.Prototype(), 0; p != nil && i < 1000; p, i = p.Prototype(), i+1 {
		if p == proto {
			return true
		}
	}
	return false
}

// webCall calls the web.js helper name with args.
func (v *jsVM) webCall(name string, args ...goja.Value) goja.Value {
	fn, ok := goja.AssertFunction(v.webExport(name))
	if !ok {
		panic(v.rt.NewTypeError("web.js has no " + name))
	}
	r, err := fn(goja.Undefined(), args...)
	if err != nil {
		panic(err)
	}
	return r
}

// sendStream writes a stream body chunk by chunk.
func (v *jsVM) sendStream(x *exchange, stream *goja.Object) error {
	var reader *goja.Object
	if err := v.catch(func() { reader = v.webCall("streamReader", stream).ToObject(v.rt) }); err != nil {
		return err
	}
	read, _ := goja.AssertFunction(reader.Get("read"))
	for {
		pv, err := read(reader)
		if err != nil {
			return err
		}
		p, ok := pv.Export().(*goja.Promise)
		if !ok {
			return v.b.newError(nil, errors.New("ReadableStream: read() did not return a Promise"))
		}
		if err := v.settle(p); err != nil {
			return err
		}
		switch p.State() {
		case goja.PromiseStateRejected:
			return v.rejection(p.Result())
		case goja.PromiseStatePending:
			return v.b.newError(nil, errors.New("the response body stream never produced its next chunk (no timer is left that could)"))
		}
		res, _ := p.Result().(*goja.Object)
		if res == nil {
			return v.b.newError(nil, errors.New("ReadableStream: read() gave no result"))
		}
		if res.Get("done").ToBoolean() {
			return nil
		}
		var b []byte
		switch c := res.Get("value").(type) {
		case goja.String:
			b = []byte(c.String())
		case *goja.Object:
			bs, ok := bytesOf(c)
			if !ok {
				return v.b.newError(nil, fmt.Errorf("ReadableStream: a response body chunk must be a Uint8Array or a string, not %s", describeValue(c)))
			}
			b = bs
		default:
			return v.b.newError(nil, fmt.Errorf("ReadableStream: a response body chunk must be a Uint8Array or a string, not %s", describeValue(c)))
		}
		if len(b) == 0 {
			continue
		}
		if _, err := x.res.Write(b); err != nil {
			return v.writeErr(err)
		}
		if err := x.res.Flush(); err != nil {
			return v.writeErr(err)
		}
	}
}
