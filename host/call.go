package host

// This file is the plugin host's call path (docs/embedding.md): a Go
// program calls a function an app exports, on a VM of the app's pool, with
// the app's time and memory limits, counted in the app's metrics like a
// request.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/internal/callwire"
	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// Errors of Call (besides script.ErrNoFunction, script.ErrValue, the
// pool's and *script.ScriptError).
var (
	// ErrNoApp: no app of that name.
	ErrNoApp = callwire.ErrNoApp
	// ErrNotCallable: the app cannot be called (a CGI-style script, which
	// exports nothing).
	ErrNotCallable = callwire.ErrNotCallable
	// ErrIsolatedCall: the app runs in a child process (isolation =
	// "process") whose backend cannot take calls.
	ErrIsolatedCall = errors.New(`calls to apps with isolation = "process" are not supported`)
)

// Call calls the function fn that app exports with args (JSON-like values,
// see script.Normalize) and returns its result. ctx bounds the call
// together with the app's timeout; the app's memory limit applies as for a
// request. Errors: wrapping ErrNoApp, ErrNotCallable, script.ErrNoFunction
// or script.ErrValue; pool.ErrQueueFull/ErrQueueTimeout when every VM is
// busy; a *script.ScriptError for a failure of the script (thrown error,
// timeout, limit).
func (h *Host) Call(ctx context.Context, appName, fn string, args []any) (any, error) {
	if !h.inited.Load() {
		h.Start()
	}
	app := h.Registry.App(appName)
	if app == nil {
		return nil, fmt.Errorf("call %s.%s: %w", appName, fn, ErrNoApp)
	}
	start := time.Now()
	m := h.Metrics.App(app.Name)
	m.InFlight.Add(1)
	status := http.StatusOK
	defer func() {
		m.InFlight.Add(-1)
		m.Observe(status, time.Since(start))
	}()
	out, err := h.call(ctx, app, fn, args, m)
	if err != nil {
		status = http.StatusInternalServerError
		switch {
		case errors.Is(err, pool.ErrQueueFull), errors.Is(err, pool.ErrQueueTimeout):
			status = http.StatusServiceUnavailable
			m.QueueFull.Add(1)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			status = http.StatusGatewayTimeout
			m.Timeouts.Add(1)
		case ctx.Err() != nil:
			m.Aborted.Add(1)
		case errors.Is(err, script.ErrNoFunction):
			status = http.StatusNotFound
		default:
			m.Errors.Add(1)
		}
	}
	return out, err
}

func (h *Host) call(ctx context.Context, app *registry.App, fn string, args []any, m *AppMetrics) (any, error) {
	set := app.Settings()
	lim := set.Limits.WithDefaults()
	if set.Isolation == "process" {
		// The app's child process runs the call (docs/embedding.md, "The
		// process model").
		b, err := app.Backend()
		if err != nil {
			return nil, fmt.Errorf("call %s.%s: %w", app.Name, fn, err)
		}
		bc, ok := b.(backendCaller)
		if !ok {
			return nil, fmt.Errorf("call %s.%s: %w", app.Name, fn, ErrIsolatedCall)
		}
		return bc.Call(ctx, app.Name, fn, args)
	}
	p, err := app.Pool()
	if err != nil {
		return nil, fmt.Errorf("call %s.%s: %w", app.Name, fn, err)
	}
	if p.Bundle().Style() == script.StyleCGI {
		return nil, fmt.Errorf("call %s.%s: %w (a CGI-style script; export functions with module.exports / export, or return a table in Lua)", app.Name, fn, ErrNotCallable)
	}
	// One context bounds the call as it bounds a request (runApp).
	rc := sandbox.NewContext(ctx, lim.Timeout)
	defer rc.Release()
	c := callRunPool.Get().(*callRun)
	defer c.release()
	c.fn, c.args, c.ctx = fn, args, rc
	err = p.Do(rc, func(l pool.Lease) error {
		cl, ok := l.VM.(script.Caller)
		if !ok {
			return fmt.Errorf("call %s.%s: %w (its engine cannot call functions)", app.Name, fn, ErrNotCallable)
		}
		tag := tagOf(p, l.VMID)
		defer sandbox.Process().BeginTagged(rc, app.Name, lim.MemoryLimit, tag).End()
		c.vm = cl
		sandbox.RunTagged(tag, c)
		return c.err
	})
	if err != nil {
		return nil, err
	}
	return c.out, nil
}

// backendCaller is a registry.Backend that takes calls
// (isolation.Handle).
type backendCaller interface {
	Call(ctx context.Context, app, fn string, args []any) (any, error)
}

// callRun is one call on its VM (a sandbox.Runner, so that RunTagged
// allocates nothing).
type callRun struct {
	vm   script.Caller
	ctx  *sandbox.Context
	fn   string
	args []any
	out  any
	err  error
}

func (c *callRun) Run() { c.out, c.err = c.vm.Call(c.ctx, c.fn, c.args) }

var callRunPool = sync.Pool{New: func() any { return new(callRun) }}

func (c *callRun) release() {
	*c = callRun{}
	callRunPool.Put(c)
}
