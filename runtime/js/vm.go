package js

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// jsVM is one goja runtime with the API installed. Handler style: one per
// pool VM, reused for every request. CGI style: one per request (cgiVM).
// Owned by one goroutine at a time.
type jsVM struct {
	// nativeDepth counts wrapped built-ins now on the Go stack
	// (enterNative).
	nativeDepth int

	b   *bundle
	rt  *goja.Runtime
	log *slog.Logger

	ctx     context.Context // the request (or NewVM) context in force
	cur     *exchange       // the request being served, nil between requests
	healthy bool

	handler     goja.Callable
	handlerThis goja.Value
	exports     *goja.Object // module.exports after the top level, for Call (call.go)

	hostMods map[string]*goja.Object // host modules required so far (call.go)
	protos   [2]*goja.Object         // Object.prototype, Function.prototype as first found (call.go)
	protoKey map[string]bool         // the names of their properties (call.go)

	modules map[string]*goja.Object // absolute path → module object
	web     *goja.Object            // web.js's exports, once used (web.go)
	loop    *timerLoop              // the request's timers, once one is set (loop.go)

	// interruptDone receives once the AfterFunc that interrupts the
	// runtime has run; onCancel is that func (allocated once).
	interruptDone chan struct{}
	onCancel      func()

	// cgi is the CGI-style writer of the request being served.
	cgi *script.CGIWriter

	api     apiFuncs
	lim     limitState
	scratch reqScratch
	serveFn func() error // callHandler, bound once

	stack stackState // CurrentStack requests from the slow log

	ftypes   *fetchTypes // Headers/Request/Response, built on first use (fetchapi.go)
	fetchSet [len(fetchGlobals)]bool
	workers  *workersHandler // the Workers form's fetch handler (workers.go)
}

var (
	_ script.VM = (*handlerVM)(nil)
	_ script.VM = (*cgiVM)(nil)
)

var errInterrupted = errors.New("script interrupted")

// newJSVM makes a runtime with the script API and the sandbox installed.
func (b *bundle) newJSVM() *jsVM {
	rt := goja.New()
	rt.SetParserOptions(parser.WithDisableSourceMaps)
	rt.SetMaxCallStackSize(b.opts.Limits.MaxCallStack)
	if b.opts.Now != nil {
		rt.SetTimeSource(goja.Now(b.opts.Now))
	}
	logger := b.opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	v := &jsVM{
		b:             b,
		rt:            rt,
		log:           logger,
		ctx:           context.Background(),
		healthy:       true,
		modules:       map[string]*goja.Object{},
		interruptDone: make(chan struct{}, 1),
	}
	v.onCancel = func() {
		v.rt.Interrupt(errInterrupted)
		v.interruptDone <- struct{}{}
	}
	v.serveFn = v.callHandler
	v.installSandbox()
	v.installAPI()
	v.installJSONBudget()
	v.installFetchGlobals()
	return v
}

// run calls fn with ctx bound to the runtime: cancelling ctx interrupts the
// script. A Go panic is recovered into a ScriptError and marks the VM
// unhealthy, as does an interrupt or a stack overflow.
func (v *jsVM) run(ctx context.Context, fn func() error) (err error) {
	v.ctx = ctx
	// The interrupt: the request's sandbox.Context takes it in a slot,
	// without allocating; any other context through AfterFunc.
	var stop func() bool
	sc, _ := ctx.(*sandbox.Context)
	if sc != nil {
		if !sc.SetInterrupt(v.onCancel) {
			go v.onCancel() // ended already
		}
	} else {
		stop = context.AfterFunc(ctx, v.onCancel)
	}
	defer func() {
		if p := recover(); p != nil {
			v.healthy = false
			err = &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("internal error (Go panic): %v", p)}
		}
		var stopped bool
		if sc != nil {
			stopped = sc.ClearInterrupt()
		} else {
			stopped = stop()
		}
		if !stopped {
			// The interrupt fired (or is firing): wait for it, then clear
			// the flag it may have left. The VM is not reused.
			<-v.interruptDone
			v.rt.ClearInterrupt()
			// A script that had already finished keeps its result.
			v.healthy = false
		}
		v.ctx = context.Background()
	}()
	if err = fn(); err != nil {
		se, fatal := v.scriptError(err)
		if fatal {
			v.healthy = false
		}
		return se
	}
	return nil
}

// handlerVM is a handler-style VM: the top-level code ran once; each Serve
// calls the exported handler.
type handlerVM struct {
	*jsVM
}

func (b *bundle) NewVM(ctx context.Context) (script.VM, error) {
	if b.style == script.StyleCGI {
		return &cgiVM{b: b, healthy: true}, nil
	}
	// The top-level code is watched like a request (memory_limit).
	ctx, unwatch := sandbox.Process().Watch(ctx, b.src.App, b.opts.Limits.MemoryLimit)
	defer unwatch()
	v := b.newJSVM()
	module := v.newModuleObject(b.src.Entry)
	g := v.rt.GlobalObject()
	_ = g.Set("module", module)
	_ = g.Set("exports", module.Get("exports"))
	_ = g.Set("require", v.requireFunc(b.src.Entry))
	err := v.run(ctx, func() error {
		_, err := v.rt.RunProgram(b.prog)
		return err
	})
	if err != nil {
		return nil, err
	}
	exp := module.Get("exports")
	v.exports, _ = exp.(*goja.Object)
	if b.esm != nil {
		// An ES module's default export (export default function (req,
		// res) or export default {handle}) is the handler.
		if o, ok := exp.(*goja.Object); ok {
			if d := o.Get("default"); d != nil && !goja.IsUndefined(d) && !goja.IsNull(d) {
				exp = d
			}
		}
	}
	if b.esm != nil && v.workersForm(exp) {
		v.handler = func(goja.Value, ...goja.Value) (goja.Value, error) { return nil, v.callFetch() }
		v.serveFn = v.callFetch
	} else if fn, ok := goja.AssertFunction(exp); ok {
		v.handler, v.handlerThis = fn, goja.Undefined()
	} else if o, ok := exp.(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(o.Get("handle")); ok {
			v.handler, v.handlerThis = fn, o
		}
	}
	if v.handler == nil && b.opts.AllowNoHandler {
		v.handler = v.noHandler // a plugin exporting functions only (call.go)
	}
	if v.handler == nil {
		return nil, &script.ScriptError{App: b.src.App, File: b.src.Entry,
			Err: errors.New("module.exports is not a handler: export a function (module.exports = function (req, res) {…}) or an object with a handle function (exports.handle = …)")}
	}
	return &handlerVM{v}, nil
}

// Serve calls the handler with req and res, and waits for the promise it
// returns, if any.
func (v *handlerVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	if !v.healthy {
		return &script.ScriptError{App: v.b.src.App, Err: errors.New("VM is unhealthy after an earlier failure")}
	}
	x := v.newExchange(req, res)
	v.cur = x
	defer func() {
		x.done = true
		v.cur = nil
		v.dropTimers()
	}()
	return v.run(ctx, v.serveFn)
}

// callHandler calls the handler for the request being served (v.cur).
func (v *jsVM) callHandler() error {
	x := v.cur
	args := &v.scratch.args
	args[0], args[1] = x.reqObj, x.resObj
	ret, err := v.handler(v.handlerThis, args[:]...)
	*args = [2]goja.Value{}
	if err != nil {
		return err
	}
	return v.finish(x, ret)
}

// finish applies what the handler returned: a string is the body, a plain
// object or array is sent as JSON, bytes are written raw, a promise is
// awaited (its job queue has already run when the call returned).
func (v *jsVM) finish(x *exchange, ret goja.Value) error {
	o, isObj := ret.(*goja.Object)
	if isObj && o.ExportType() == typePromise {
		p, ok := o.Export().(*goja.Promise)
		if ok {
			switch p.State() {
			case goja.PromiseStateRejected:
				return v.rejection(p.Result())
			case goja.PromiseStatePending:
				if err := v.settle(p); err != nil {
					return err
				}
				switch p.State() {
				case goja.PromiseStateRejected:
					return v.rejection(p.Result())
				case goja.PromiseStatePending:
					return v.b.newError(nil, errors.New("the handler's promise never settled (no timer is left that could resolve it)"))
				}
			}
			ret = p.Result()
			o, isObj = ret.(*goja.Object)
		}
	}
	if ret == nil || goja.IsUndefined(ret) || goja.IsNull(ret) {
		return nil
	}
	if !isObj {
		if s, ok := ret.(goja.String); ok {
			return v.writeErr(v.writeString(x.res, s.String()))
		}
		return nil
	}
	if o == x.resObj || o == x.reqObj {
		return nil // "return res.status(404)" chaining
	}
	if _, ok := goja.AssertFunction(o); ok {
		return nil
	}
	if b, ok := bytesOf(o); ok {
		_, err := x.res.Write(b)
		return v.writeErr(err)
	}
	var out string
	if err := v.catch(func() { out = v.stringify(o) }); err != nil {
		se, _ := v.scriptError(err)
		if se.File == "" {
			se.File = v.b.src.Entry // the handler's return value
		}
		return se
	}
	return v.writeErr(v.writeJSON(x.res, out))
}

func (v *jsVM) writeErr(err error) error {
	if err == nil {
		return nil
	}
	return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("write response: %w", err)}
}

// catch runs fn, which may throw a JS exception (panic), and returns it as
// an error.
func (v *jsVM) catch(fn func()) error {
	if ex := v.rt.Try(fn); ex != nil {
		return ex
	}
	return nil
}

func (v *jsVM) Healthy() bool { return v.healthy }

func (v *jsVM) Close() {
	v.healthy = false
	v.handler = nil
	v.modules = nil
	v.exports, v.hostMods = nil, nil
}

// cgiVM is a CGI-style VM: each Serve runs the whole program in a fresh
// runtime, so no global survives from one request to the next.
type cgiVM struct {
	b       *bundle
	healthy bool
}

func (c *cgiVM) Healthy() bool { return c.healthy }
func (c *cgiVM) Close()        { c.healthy = false }

func (c *cgiVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	if !c.healthy {
		return &script.ScriptError{App: c.b.src.App, Err: errors.New("VM is unhealthy after an earlier failure")}
	}
	v := c.b.newJSVM()
	defer v.Close()
	x := v.newExchange(req, res)
	v.cur = x
	v.cgi = script.NewCGIWriter(res)
	v.installCGI(x)
	module := v.newModuleObject(c.b.src.Entry)
	g := v.rt.GlobalObject()
	_ = g.Set("module", module)
	_ = g.Set("require", v.requireFunc(c.b.src.Entry))
	err := v.run(ctx, func() error {
		if _, err := v.rt.RunProgram(c.b.prog); err != nil {
			return err
		}
		// A CGI script ends when its last timer has run (loop.go).
		return v.drive(func() bool { return false })
	})
	x.done = true
	v.dropTimers()
	if !v.healthy {
		c.healthy = false
	}
	if err != nil {
		return err
	}
	if err := v.cgi.Close(); err != nil {
		return &script.ScriptError{App: c.b.src.App, File: c.b.src.Entry, Err: fmt.Errorf("%s: %w", filepath.Base(c.b.src.Entry), err)}
	}
	return nil
}

var (
	typeBytes       = reflect.TypeOf([]byte(nil))
	typeArrayBuffer = reflect.TypeOf(goja.ArrayBuffer{})
	typePromise     = reflect.TypeOf((*goja.Promise)(nil))
)

// bytesOf returns the bytes of a Uint8Array (or other byte view) or
// ArrayBuffer, sharing their memory.
func bytesOf(o *goja.Object) ([]byte, bool) {
	switch o.ExportType() {
	case typeBytes:
		b, ok := o.Export().([]byte)
		return b, ok
	case typeArrayBuffer:
		ab, ok := o.Export().(goja.ArrayBuffer)
		return ab.Bytes(), ok
	}
	return nil, false
}
