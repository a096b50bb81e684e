package lua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
	glua "github.com/yuin/gopher-lua"
)

// Registry sizes of one LState, in value slots (16 bytes each): small to
// start, growing up to a bound so that unpack/string.byte of huge inputs
// end as "registry overflow" instead of eating memory. gopher-lua grows
// the registry by registryStep slots at a time, copying it each time: a
// small step made string.byte(s, 1, -1) of a 1 MiB string copy ~1 GB
// before overflowing, seconds inside one native call.
const (
	registryStart = 1024
	registryMax   = 256 * 1024
	registryStep  = 16 * 1024
)

// maxNoted bounds how many Go errors one run remembers (see vm.note).
const maxNoted = 8

// vm is one Lua state with its environment. One goroutine at a time.
type vm struct {
	b   *bundle
	L   *glua.LState
	cgi bool

	lib      *libs
	env      *glua.LTable            // globals of the current run (handler style: for life)
	handler  *glua.LFunction         // handler style: the function called per request
	exports  *glua.LTable            // handler style: the table the main chunk returned, for Call (call.go)
	hostMods map[string]*glua.LTable // host modules required so far (call.go)
	arrayMT  *glua.LTable            // metatable json.decode gives arrays (per env)
	null     *glua.LUserData         // json.null
	reqMT    *glua.LTable
	resMT    *glua.LTable

	mods    map[string]glua.LValue // module results (CGI style: per request)
	loading map[string]bool        // modules whose top level is running

	ctx      context.Context   // ctx of the current run (NewVM or Serve)
	cur      *reqState         // &rs while Serve runs, nil outside
	rs       reqState          // the request being served (reused, see reqState)
	udSlab   []udPair          // fresh req/res userdata for coming requests
	hdrNames map[string]string // HTTP_* param → header name (headersTable)
	scratch  []byte            // reused buffer (res:write, the handler's result)
	enc      jsonEncoder       // reused by encodeJSON
	dec      luaDecoder        // reused by decodeJSON
	noted    []error           // Go errors raised as Lua errors during this run
	healthy  bool

	lctx vmCtx // the context the LState runs with (see stack.go)
	// stopped is set when the run's context ends; the state then raises
	// the interrupt (vmCtx.Done). sctx/stopAfter undo the hook.
	stopped   atomic.Bool
	onStop    func()
	sctx      *sandbox.Context
	stopAfter func() bool
	intr      interruptTrace // the stack of the last interrupt raised
	stackState
}

var (
	_ script.VM            = (*vm)(nil)
	_ script.StackCapturer = (*vm)(nil)
)

// setContext binds ctx to the state for a run: when ctx ends, vm.stopped
// is set (through the request's sandbox.Context interrupt slot, without
// allocating, or context.AfterFunc) and the state raises the interrupt at
// its next instruction (see vmCtx).
func (v *vm) setContext(ctx context.Context) {
	v.stopped.Store(false)
	v.lctx = vmCtx{Context: ctx, v: v}
	if v.onStop == nil {
		v.onStop = func() { v.stopped.Store(true) }
	}
	if sc, ok := ctx.(*sandbox.Context); ok {
		v.sctx = sc
		if !sc.SetInterrupt(v.onStop) {
			v.stopped.Store(true) // ended already
		}
	} else if ctx.Done() != nil {
		v.stopAfter = context.AfterFunc(ctx, v.onStop)
	}
	v.L.SetContext(&v.lctx)
}

// removeContext ends a run's binding. If the interrupt hook has started,
// it may still set vm.stopped: the VM is not reused.
func (v *vm) removeContext() {
	if v.sctx != nil {
		if !v.sctx.ClearInterrupt() {
			v.healthy = false
		}
		v.sctx = nil
	}
	if v.stopAfter != nil {
		if !v.stopAfter() {
			v.healthy = false
		}
		v.stopAfter = nil
	}
	v.L.RemoveContext()
}

// NewVM makes a VM. Handler style: the main chunk runs once, bounded by ctx,
// and must return the handler. CGI style: nothing runs until Serve.
func (b *bundle) NewVM(ctx context.Context) (script.VM, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	v := newVM(b)
	if b.style == script.StyleCGI {
		return v, nil
	}
	// The main chunk is watched like a request (memory_limit).
	ctx, unwatch := sandbox.Process().Watch(ctx, b.src.App, b.opts.Limits.MemoryLimit)
	defer unwatch()
	v.env = v.newEnv(nil)
	v.mods = map[string]glua.LValue{}
	v.ctx = ctx
	L := v.L
	v.setContext(ctx)
	defer func() {
		v.removeContext()
		v.ctx = nil
	}()
	fn := L.NewFunctionFromProto(b.proto)
	fn.Env = v.env
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		se := v.scriptError(ctx, err)
		v.Close()
		return nil, se
	}
	ret := L.Get(-1)
	L.SetTop(0)
	switch h := ret.(type) {
	case *glua.LFunction:
		v.handler = h
	case *glua.LTable:
		v.exports = h
		if fn, ok := h.RawGetString("handle").(*glua.LFunction); ok {
			v.handler = fn
		}
	}
	if v.handler == nil && v.exports != nil && b.opts.AllowNoHandler {
		v.handler = L.NewFunction(noHandler) // a plugin exporting functions only (call.go)
	}
	if v.handler == nil {
		v.Close()
		return nil, &script.ScriptError{App: b.src.App, File: b.src.Entry, Line: b.retLine,
			Err: fmt.Errorf("the main chunk returned a %s, not a handler (return a function(req, res) or a table with a handle function)", ret.Type())}
	}
	return v, nil
}

func newVM(b *bundle) *vm {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    callStackSize(b.opts.Limits),
		RegistrySize:     registryStart,
		RegistryMaxSize:  registryMax,
		RegistryGrowStep: registryStep,
		// `a..b..c` is one instruction that joins all its operands
		// natively; the patched engine checks the joined length against
		// the one-value limit before allocating (docs/sandbox.md, "The
		// gopher-lua patch").
		MaxConcatSize: int(b.opts.Limits.WithDefaults().MaxStringSize),
		// MinimizeStackMemory stays off: its growing stack never reports
		// full and panics on overflow instead of raising "stack overflow".
	})
	v := &vm{b: b, L: L, cgi: b.style == script.StyleCGI, healthy: true}
	v.lib = v.newLibs()
	return v
}

// Healthy reports whether the VM may serve another request: false after
// an interrupt, a Go panic, a limit hit, or Close.
func (v *vm) Healthy() bool { return v.healthy }

// Close releases the state.
func (v *vm) Close() {
	v.healthy = false
	if v.L != nil && !v.L.IsClosed() {
		v.L.Close()
	}
}

// Serve answers one request; see script.VM.
func (v *vm) Serve(ctx context.Context, req *script.Request, res *script.Response) (err error) {
	if !v.healthy {
		return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: errors.New("lua VM is closed or broken")}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: interruptError(ctx)}
	}
	L := v.L
	rs := v.begin(req, res)
	v.cur, v.ctx, v.noted = rs, ctx, v.noted[:0]
	v.setContext(ctx)
	defer func() {
		if r := recover(); r != nil {
			v.healthy = false
			err = &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("lua engine panic: %v", r)}
		} else {
			L.SetTop(0)
		}
		v.removeContext()
		rs.end()
		v.cur, v.ctx = nil, nil
	}()
	if v.cgi {
		return v.serveCGI(ctx, rs)
	}
	L.Push(v.handler)
	L.Push(rs.reqValue())
	L.Push(rs.resValue())
	if err := L.PCall(2, 1, nil); err != nil {
		return v.scriptError(ctx, err)
	}
	switch ret := L.Get(-1).(type) {
	case *glua.LNilType:
	case glua.LString:
		// Response.Write copies what it keeps: no copy of the string here.
		if _, err := res.Write(unsafeBytes(string(ret))); err != nil {
			return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("write returned body: %w", err)}
		}
	case glua.LNumber:
		b := appendNumberText(v.scratch[:0], ret)
		_, err := res.Write(b)
		v.keepScratch(b)
		if err != nil {
			return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: fmt.Errorf("write returned body: %w", err)}
		}
	case *glua.LUserData:
		if ret != rs.resValue() { // `return res:json(x)` / `return res:redirect(u)` return res itself
			return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry,
				Err: fmt.Errorf("the handler returned a %s; return a string (the body) or nothing", ret.Type())}
		}
	default:
		return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry,
			Err: fmt.Errorf("the handler returned a %s; return a string (the body) or nothing", ret.Type())}
	}
	return nil
}

// serveCGI runs the whole chunk in fresh globals, its output going through
// a CGIWriter.
func (v *vm) serveCGI(ctx context.Context, rs *reqState) error {
	L := v.L
	rs.cgiw = script.NewCGIWriter(rs.res)
	v.mods, v.loading, v.hostMods = nil, nil, nil // a request sees no module table an earlier one changed
	v.env = v.newEnv(rs)
	fn := L.NewFunctionFromProto(v.b.proto)
	fn.Env = v.env
	L.Push(fn)
	if err := L.PCall(0, 0, nil); err != nil {
		return v.scriptError(ctx, err)
	}
	if err := rs.cgiw.Close(); err != nil {
		return &script.ScriptError{App: v.b.src.App, File: v.b.src.Entry, Err: err}
	}
	return nil
}

// fail raises err as a Lua error from a Go function. The message is
// err's text (gopher-lua prefixes the caller's file:line); err itself is
// remembered so that, if the script does not catch it, the ScriptError
// unwraps to it (script.ErrBadRequest, sandbox.ErrTooLarge…).
func (v *vm) fail(err error) int {
	v.note(err)
	v.L.RaiseError("%s", err.Error())
	return 0
}

func (v *vm) note(err error) {
	if len(v.noted) == maxNoted {
		copy(v.noted, v.noted[1:])
		v.noted = v.noted[:maxNoted-1]
	}
	v.noted = append(v.noted, err)
}

// matchNoted finds the remembered Go error whose text ends msg.
func (v *vm) matchNoted(msg string) error {
	for i := len(v.noted) - 1; i >= 0; i-- {
		if strings.HasSuffix(msg, v.noted[i].Error()) {
			return v.noted[i]
		}
	}
	return nil
}

// luaError is a script error message with, where known, the Go error
// behind it.
// concatLimitPrefix starts the error the patched engine raises when a
// concatenation would exceed Options.MaxConcatSize
// (third_party/gopher-lua/PATCH.md).
const concatLimitPrefix = "string concatenation: result of "

type luaError struct {
	msg   string
	cause error
}

func (e *luaError) Error() string { return e.msg }
func (e *luaError) Unwrap() error { return e.cause }

// interruptError is the cause of an interrupted run: context.Cause(ctx),
// also matching ctx.Err() (so errors.Is(err, context.DeadlineExceeded)
// holds for a timeout with a custom cause).
func interruptError(ctx context.Context) error {
	cerr := ctx.Err()
	cause := sandbox.Cause(ctx)
	if cause == nil {
		return fmt.Errorf("script interrupted: %w", cerr)
	}
	if errors.Is(cause, cerr) {
		// The cause says more ("request timeout of 3s: …") and wraps cerr.
		return fmt.Errorf("script interrupted: %w", cause)
	}
	return fmt.Errorf("script interrupted: %w (%w)", cause, cerr)
}

// scriptError turns an error from PCall into a ScriptError: the location
// from the message (or the innermost script frame), the stack, and the
// cause; it marks the VM unhealthy after an interrupt, a Go panic or a
// limit hit.
func (v *vm) scriptError(ctx context.Context, err error) *script.ScriptError {
	se := &script.ScriptError{App: v.b.src.App}
	var ae *glua.ApiError
	if !errors.As(err, &ae) {
		se.File, se.Err = v.b.src.Entry, err
		return se
	}
	files := v.b.Files()
	msg := v.errorText(ctx, ae.Object)
	mainLabel := "main chunk"
	if v.handler != nil && v.cur != nil {
		mainLabel = "handler"
	}
	stack, ffile, fline := "", "", 0
	if ae.StackTrace == interruptTraceMarker {
		stack, ffile, fline = v.intr.stack, v.intr.file, v.intr.line
	} else {
		stack, ffile, fline = formatTrace(ae.StackTrace, files, mainLabel)
	}
	se.Stack = stack
	file, line, rest := splitLocation(msg, files)
	if file == "" {
		file, line = ffile, fline
	}
	se.File, se.Line = file, line
	if se.File == "" {
		se.File = v.b.src.Entry
	}
	switch {
	case ctx.Err() != nil:
		v.healthy = false
		se.Err = interruptError(ctx)
	case ae.Type == glua.ApiErrorPanic:
		v.healthy = false
		se.Err = fmt.Errorf("go panic in a native function: %s", msg)
	default:
		cause := v.matchNoted(msg)
		var inner *script.ScriptError
		switch {
		case errors.As(cause, &inner):
			c := *inner
			c.App = se.App
			if c.Stack == "" {
				c.Stack = se.Stack
			}
			return &c
		case cause != nil:
			if errors.Is(cause, sandbox.ErrTooLarge) {
				v.healthy = false
			}
			se.Err = &luaError{msg: rest, cause: cause}
		case strings.HasPrefix(rest, concatLimitPrefix):
			v.healthy = false
			se.Err = &luaError{msg: rest, cause: sandbox.ErrTooLarge}
		case rest == "stack overflow":
			v.healthy = false
			se.Err = &luaError{msg: fmt.Sprintf("stack overflow (more than %d nested calls)", callStackSize(v.b.opts.Limits)), cause: sandbox.ErrTooLarge}
		case rest == "registry overflow":
			v.healthy = false
			se.Err = &luaError{msg: fmt.Sprintf("too many values on the Lua stack (more than %d)", registryMax), cause: sandbox.ErrTooLarge}
		default:
			se.Err = errors.New(rest)
		}
	}
	return se
}

// errorText renders an error value: strings as they are, tables and
// userdata through __tostring when the run was not interrupted.
func (v *vm) errorText(ctx context.Context, obj glua.LValue) string {
	switch o := obj.(type) {
	case glua.LString:
		return string(o)
	case glua.LNumber:
		return o.String()
	case *glua.LNilType:
		return "error object is a nil value"
	}
	if ctx.Err() == nil {
		if fn, ok := v.L.GetMetaField(obj, "__tostring").(*glua.LFunction); ok {
			if err := v.L.CallByParam(glua.P{Fn: fn, NRet: 1, Protect: true}, obj); err == nil {
				s := v.L.Get(-1)
				v.L.Pop(1)
				if str, ok := s.(glua.LString); ok {
					return string(str)
				}
			}
		}
	}
	return fmt.Sprintf("error object is a %s value", obj.Type())
}

// splitLocation reads "file:line: rest" off a message when file is one of
// the script's files.
func splitLocation(msg string, files []string) (string, int, string) {
	for _, f := range files {
		if !strings.HasPrefix(msg, f+":") {
			continue
		}
		tail := msg[len(f)+1:]
		i := strings.IndexByte(tail, ':')
		if i <= 0 {
			continue
		}
		n, err := strconv.Atoi(tail[:i])
		if err != nil {
			continue
		}
		return f, n, strings.TrimPrefix(tail[i+1:], " ")
	}
	return "", 0, msg
}

// formatTrace rewrites gopher-lua's "stack traceback:" text as one frame a
// line ("at f (/app/x.lua:3)") and returns the innermost script location.
func formatTrace(trace string, files []string, mainLabel string) (string, string, int) {
	var b strings.Builder
	ffile, fline := "", 0
	for _, ln := range strings.Split(trace, "\n") {
		ln = strings.TrimPrefix(ln, "\t")
		switch {
		case ln == "" || ln == "stack traceback:" || ln == "[G]: ?":
			continue
		case ln == "...":
			b.WriteString("...\n")
			continue
		case strings.HasPrefix(ln, "(tailcall)"):
			b.WriteString("at (tail call)\n")
			continue
		case strings.HasPrefix(ln, "[G]: in "):
			fmt.Fprintf(&b, "at %s (native)\n", funcName(strings.TrimPrefix(ln, "[G]: in ")))
			continue
		}
		file, line, rest := splitLocation(ln, files)
		if file == "" {
			b.WriteString("at " + ln + "\n")
			continue
		}
		if ffile == "" {
			ffile, fline = file, line
		}
		name := funcName(strings.TrimPrefix(rest, "in "))
		if name == "main chunk" {
			name = mainLabel
		}
		fmt.Fprintf(&b, "at %s (%s:%d)\n", name, file, line)
	}
	return strings.TrimSuffix(b.String(), "\n"), ffile, fline
}

func funcName(s string) string {
	if strings.HasPrefix(s, "function '") && strings.HasSuffix(s, "'") {
		return s[len("function '") : len(s)-1]
	}
	return strings.TrimPrefix(s, "function ")
}
