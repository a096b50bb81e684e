package js

// This file installs the web-platform globals of README.md "Built-ins"
// (TextEncoder, TextDecoder, atob, btoa, structuredClone, AbortController,
// AbortSignal, DOMException, crypto.getRandomValues, crypto.randomUUID,
// the timers of loop.go, Blob, File, FormData and ReadableStream).
// They are lazy: each global is an accessor until first read; the first
// read of any of them runs web.js (compiled once per process) and turns
// them all into plain data properties, so a VM that never uses them pays
// only for the accessors.

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"encoding/base64"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script/builtin"
)

//go:embed web.js
var webJS string

var webProgram = sync.OnceValues(func() (*goja.Program, error) {
	return goja.Compile("fcgihost:web.js", webJS, true)
})

// webGlobals are the lazy globals; crypto gets getRandomValues the same
// way.
var webGlobals = []string{"DOMException", "TextEncoder", "TextDecoder", "atob", "btoa",
	"structuredClone", "AbortController", "AbortSignal", "queueMicrotask",
	"setTimeout", "clearTimeout", "setInterval", "clearInterval",
	"Blob", "File", "FormData", "ReadableStream", "ReadableStreamDefaultReader",
	"ReadableStreamDefaultController"}

// maxFormEntries bounds the entries of one FormData (and the fields and
// parts formData() parses from one body).
const maxFormEntries = 10000

// maxStreamQueue bounds the chunks (and pending reads) queued in one
// ReadableStream.
const maxStreamQueue = 10000

// maxAbortListeners bounds the listeners (and AbortSignal.any dependents)
// of one signal.
const maxAbortListeners = 10000

// installWeb defines the lazy accessors; crypto is the crypto global.
func (v *jsVM) installWeb(crypto *goja.Object) {
	rt := v.rt
	g := rt.GlobalObject()
	lazy := func(obj *goja.Object, name string) {
		get := rt.ToValue(func(goja.FunctionCall) goja.Value { return v.webExport(name) })
		set := rt.ToValue(func(c goja.FunctionCall) goja.Value {
			_ = obj.DefineDataProperty(name, c.Argument(0), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
			return goja.Undefined()
		})
		_ = obj.DefineAccessorProperty(name, get, set, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	for _, name := range webGlobals {
		lazy(g, name)
	}
	lazy(crypto, "getRandomValues")
	lazy(crypto, "subtle")
	_ = crypto.Set("randomUUID", func(goja.FunctionCall) goja.Value {
		return rt.ToValue(builtin.RandomUUID())
	})
}

// webExport runs web.js on first use and replaces the accessors by the
// values it made.
func (v *jsVM) webExport(name string) goja.Value {
	if v.web == nil {
		prog, err := webProgram()
		if err != nil {
			panic(v.rt.NewGoError(fmt.Errorf("web.js: %w", err)))
		}
		fnv, err := v.rt.RunProgram(prog)
		if err != nil {
			panic(err)
		}
		fn, _ := goja.AssertFunction(fnv)
		exp, err := fn(goja.Undefined(), v.webHost())
		if err != nil {
			panic(err)
		}
		v.web = exp.ToObject(v.rt)
		g := v.rt.GlobalObject()
		for _, n := range webGlobals {
			_ = g.DefineDataProperty(n, v.web.Get(n), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		}
		if c, ok := g.Get("crypto").(*goja.Object); ok {
			for _, n := range []string{"getRandomValues", "subtle"} {
				_ = c.DefineDataProperty(n, v.web.Get(n), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
			}
		}
	}
	return v.web.Get(name)
}

// webHost is the object of Go primitives web.js is given.
func (v *jsVM) webHost() *goja.Object {
	rt := v.rt
	lim := v.b.opts.Limits.WithDefaults()
	h := rt.NewObject()
	_ = h.Set("maxNodes", v.lim.maxElems)
	_ = h.Set("maxBytes", lim.MaxStringSize)
	_ = h.Set("maxListeners", maxAbortListeners)
	_ = h.Set("maxFormEntries", maxFormEntries)
	_ = h.Set("maxQueue", maxStreamQueue)
	v.timerFuncs(h)
	_ = h.Set("utf8Encode", func(c goja.FunctionCall) goja.Value {
		s := c.Argument(0).String() // lone surrogates come out as U+FFFD
		v.checkSize("TextEncoder.encode", int64(len(s)))
		return v.newUint8Array([]byte(s))
	})
	_ = h.Set("utf8Decode", func(c goja.FunctionCall) goja.Value {
		b, _ := bytesOf(c.Argument(0).ToObject(rt))
		v.checkSize("TextDecoder.decode", int64(len(b)))
		s, ok := builtin.DecodeUTF8(b, c.Argument(1).ToBoolean(), c.Argument(2).ToBoolean())
		if !ok {
			return goja.Null()
		}
		return rt.ToValue(s)
	})
	_ = h.Set("atob", func(c goja.FunctionCall) goja.Value {
		s := c.Argument(0).String()
		v.checkSize("atob", int64(len(s)))
		b, err := builtin.ForgivingBase64("atob", s)
		if err != nil {
			return goja.Null()
		}
		return rt.ToValue(latin1(b))
	})
	_ = h.Set("btoa", func(c goja.FunctionCall) goja.Value {
		s := c.Argument(0).String()
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xFF {
				return goja.Null()
			}
			b = append(b, byte(r))
		}
		v.checkSize("btoa", int64((len(b)+2)/3*4))
		return rt.ToValue(base64.StdEncoding.EncodeToString(b))
	})
	_ = h.Set("fillRandom", func(c goja.FunctionCall) goja.Value {
		b, _ := bytesOf(c.Argument(0).ToObject(rt))
		r, err := builtin.RandomBytes("crypto.getRandomValues", float64(len(b)))
		if err != nil {
			v.throw("RangeError", err)
		}
		copy(b, r)
		return goja.Undefined()
	})
	_ = h.Set("digest", func(c goja.FunctionCall) goja.Value {
		b, _ := bytesOf(c.Argument(1).ToObject(rt))
		hf := hashFunc(c.Argument(0).String())
		hh := hf()
		hh.Write(b)
		return rt.ToValue(rt.NewArrayBuffer(hh.Sum(nil)))
	})
	hmacSum := func(c goja.FunctionCall) []byte {
		key, _ := bytesOf(c.Argument(1).ToObject(rt))
		data, _ := bytesOf(c.Argument(2).ToObject(rt))
		m := hmac.New(hashFunc(c.Argument(0).String()), key)
		m.Write(data)
		return m.Sum(nil)
	}
	_ = h.Set("hmac", func(c goja.FunctionCall) goja.Value {
		return rt.ToValue(rt.NewArrayBuffer(hmacSum(c)))
	})
	_ = h.Set("hmacEqual", func(c goja.FunctionCall) goja.Value {
		sig, _ := bytesOf(c.Argument(3).ToObject(rt))
		return rt.ToValue(hmac.Equal(hmacSum(c), sig))
	})
	_ = h.Set("reportError", func(c goja.FunctionCall) goja.Value {
		v.log.Log(v.ctx, slog.LevelError, "uncaught error in an abort listener: "+v.formatArgs(c.Arguments))
		return goja.Undefined()
	})
	return h
}

// hashFunc maps a Web Crypto hash name (checked by web.js) to Go's.
func hashFunc(name string) func() hash.Hash {
	switch name {
	case "SHA-1":
		return sha1.New
	case "SHA-384":
		return sha512.New384
	case "SHA-512":
		return sha512.New
	}
	return sha256.New
}

// latin1 makes the JS string whose code units are the bytes of b.
func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out)
}
