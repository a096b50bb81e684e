package js

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// errStackOverflow is the cause of a ScriptError for runaway recursion.
var errStackOverflow = errors.New("RangeError: maximum call stack size exceeded")

// jsError is the cause of a ScriptError for an uncaught JavaScript value:
// its message is "Name: message" as JS prints it, and it unwraps to the Go
// error a built-in threw (script.ErrBadRequest, sandbox.ErrTooLarge…), if
// any.
type jsError struct {
	msg   string
	cause error
}

func (e *jsError) Error() string { return e.msg }
func (e *jsError) Unwrap() error { return e.cause }

// interruptError is the cause of a ScriptError for a script stopped by its
// context: it unwraps to both ctx.Err() and context.Cause(ctx).
type interruptError struct {
	err, cause error
}

func (e *interruptError) Error() string {
	if e.cause != nil && e.cause != e.err {
		return "script interrupted: " + e.cause.Error()
	}
	return "script interrupted: " + e.err.Error()
}

func (e *interruptError) Unwrap() []error {
	if e.cause != nil && e.cause != e.err {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}

func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	return &interruptError{err: err, cause: sandbox.Cause(ctx)}
}

// frame is one script stack frame, columns already corrected.
type frame struct {
	fn        string
	file      string
	line, col int
}

func (f frame) String() string {
	loc := fmt.Sprintf("%s:%d:%d", f.file, f.line, f.col)
	if f.fn == "" {
		return "at " + loc
	}
	return "at " + f.fn + " (" + loc + ")"
}

// fixFrame corrects the column of line 1 of a wrapped module.
func (b *bundle) fixFrame(f frame) frame {
	if b.esm != nil && f.file == b.src.Entry {
		if file, l, c, ok := b.esm.mapPos(f.line, f.col); ok {
			f.file, f.line, f.col = file, l, c
		}
		return f
	}
	if f.line == 1 && f.file != b.src.Entry && f.file != "" && !strings.HasPrefix(f.file, "<") {
		f.col = fixCol(f.line, f.col, len(moduleWrapperPrefix))
	}
	return f
}

func (b *bundle) frames(stack []goja.StackFrame) []frame {
	out := make([]frame, 0, len(stack))
	for i := range stack {
		sf := &stack[i]
		p := sf.Position()
		if p.Filename == "" && p.Line == 0 {
			continue // native frame
		}
		fn := sf.FuncName()
		if fn == "<anonymous>" && i == len(stack)-1 {
			fn = ""
		}
		out = append(out, b.fixFrame(frame{fn: fn, file: p.Filename, line: p.Line, col: p.Column}))
	}
	return out
}

// stackLineRE matches one line of a goja Error's stack property:
// "\tat fn (file:line:col(pc))" or "\tat file:line:col(pc)".
var stackLineRE = regexp.MustCompile(`^\s*at (?:(.*) \()?(.*):(\d+):(\d+)\(\d+\)\)?$`)

// parseStack reads the frames of an Error object's stack string.
func (b *bundle) parseStack(s string) []frame {
	var out []frame
	for _, l := range strings.Split(s, "\n") {
		m := stackLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[3])
		col, _ := strconv.Atoi(m[4])
		out = append(out, b.fixFrame(frame{fn: m[1], file: m[2], line: line, col: col}))
	}
	return out
}

func (b *bundle) newError(frames []frame, cause error) *script.ScriptError {
	se := &script.ScriptError{App: b.src.App, Err: cause}
	if len(frames) > 0 {
		se.File, se.Line, se.Col = frames[0].file, frames[0].line, frames[0].col
		lines := make([]string, len(frames))
		for i, f := range frames {
			lines[i] = f.String()
		}
		se.Stack = strings.Join(lines, "\n")
	}
	return se
}

// describe makes "Name: message" from a thrown value, and finds the Go error
// a built-in attached to it.
func describe(v goja.Value) (msg string, cause error) {
	defer func() {
		if recover() != nil {
			msg = "Uncaught exception (its message could not be read)"
		}
	}()
	if v == nil || goja.IsUndefined(v) {
		return "Uncaught undefined", nil
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return "Uncaught " + v.String(), nil
	}
	if gv := o.Get("value"); gv != nil {
		cause, _ = gv.Export().(error)
	}
	name, m := o.Get("name"), o.Get("message")
	if m == nil || goja.IsUndefined(m) {
		return "Uncaught " + safeString(o), cause
	}
	if name == nil || goja.IsUndefined(name) {
		return m.String(), cause
	}
	return name.String() + ": " + m.String(), cause
}

// safeString converts v to a string, catching a throwing toString.
func safeString(v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "[object]"
		}
	}()
	return v.String()
}

// scriptError converts an error returned by goja (a call, RunProgram) into a
// *script.ScriptError, and reports whether the VM must be discarded.
func (v *jsVM) scriptError(err error) (*script.ScriptError, bool) {
	b := v.b
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	var ex *goja.Exception
	var se *script.ScriptError
	switch {
	case errors.As(err, &ie):
		cause := ctxError(v.ctx)
		if cause == nil {
			cause, _ = ie.Value().(error)
			if cause == nil {
				cause = fmt.Errorf("script interrupted: %v", ie.Value())
			}
		}
		return b.newError(b.frames(ie.Stack()), cause), true
	case errors.As(err, &so):
		return b.newError(b.frames(so.Stack()), errStackOverflow), true
	case errors.As(err, &ex):
		msg, cause := describe(ex.Value())
		frames := b.frames(ex.Stack())
		if len(frames) == 0 {
			if o, ok := ex.Value().(*goja.Object); ok {
				if st := o.Get("stack"); st != nil {
					frames = b.parseStack(st.String())
				}
			}
		}
		// A ScriptError thrown by a native function (require of a module
		// that failed to compile) keeps its own location.
		var inner *script.ScriptError
		if errors.As(cause, &inner) && inner.File != "" {
			if inner.Stack == "" && len(frames) > 0 {
				c := *inner
				lines := make([]string, len(frames))
				for i, f := range frames {
					lines[i] = f.String()
				}
				c.Stack = strings.Join(lines, "\n")
				return &c, false
			}
			return inner, false
		}
		return b.newError(frames, &jsError{msg: msg, cause: cause}), false
	case errors.As(err, &se):
		return se, false
	default:
		return &script.ScriptError{App: b.src.App, Err: err}, false
	}
}

// rejection converts the reason of a rejected promise into a ScriptError.
func (v *jsVM) rejection(reason goja.Value) *script.ScriptError {
	msg, cause := describe(reason)
	var frames []frame
	if o, ok := reason.(*goja.Object); ok {
		if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
			frames = v.b.parseStack(st.String())
		}
	}
	var inner *script.ScriptError
	if errors.As(cause, &inner) && inner.File != "" {
		return inner
	}
	return v.b.newError(frames, &jsError{msg: msg, cause: cause})
}
