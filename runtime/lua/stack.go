package lua

// This file lets another goroutine (the host's slow log) read the stack of
// a script while it runs, without a data race: gopher-lua asks the state's
// context for Done() before every instruction, so the VM wraps the request
// context and, when a capture is pending, snapshots the stack right there,
// on its own goroutine, between two instructions.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// stackWait bounds how long CurrentStack waits for the script to reach its
// next instruction (it may be inside a long native call).
const stackWait = 250 * time.Millisecond

// maxStackFrames bounds a captured stack.
const maxStackFrames = 50

// vmCtx is the context the LState runs with: the request context, plus the
// safe point for stack captures.
// Done is asked before every instruction, so the channel is read once
// (a context's Done returns the same channel every time) instead of
// through a second interface call each time.
//
// It is also where the run is interrupted. gopher-lua, seeing a closed
// Done channel, raises an error whose traceback it then builds with one
// line for every tail call the frame made: `local function f() return
// f() end` interrupted after 2 s had made tens of millions, and building
// that took 20–40 s and hundreds of MiB. So Done never returns a closed
// channel (nil: the interpreter's select takes its default); when the run
// has been stopped (vm.stopped, set from the context's interrupt hook) it
// raises the interrupt itself, with the stack already taken (at most
// maxStackFrames frames; see raiseInterrupt).
type vmCtx struct {
	context.Context
	v *vm
}

func (c *vmCtx) Done() <-chan struct{} {
	if c.v.stackWanted.Load() {
		c.v.deliverStack()
	}
	if c.v.stopped.Load() {
		c.v.raiseInterrupt()
	}
	return nil
}

// interruptTraceMarker is the StackTrace of an interrupt raised by
// raiseInterrupt: the stack is in vm.intr, already formatted.
const interruptTraceMarker = "stack traceback: (taken at the interrupt)"

// interruptTrace is the stack of the last interrupt raised.
type interruptTrace struct {
	stack string
	file  string
	line  int
}

// raiseInterrupt raises the context's error as gopher-lua would, but with
// a bounded stack. It runs on the VM's goroutine, between instructions or
// inside a native loop (interrupted); the run is over, and the VM is
// thrown away after it.
func (v *vm) raiseInterrupt() {
	L := v.L
	st := interruptTrace{stack: v.snapshot()}
	for level := 0; level < maxStackFrames; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, glua.LNil); err == nil && dbg.Source != "" {
			st.file, st.line = dbg.Source, dbg.CurrentLine
			break
		}
	}
	v.intr = st
	err := v.lctx.Err()
	if err == nil {
		err = context.Canceled
	}
	msg := err.Error()
	if st.file != "" {
		msg = fmt.Sprintf("%s:%d: %s", st.file, st.line, msg)
	}
	panic(&glua.ApiError{Type: glua.ApiErrorRun, Object: glua.LString(msg), StackTrace: interruptTraceMarker})
}

// stackState is the VM's side of CurrentStack.
type stackState struct {
	stackWanted atomic.Bool
	stackMu     sync.Mutex
	stackWaiter []chan string
}

// CurrentStack returns the running script's stack, innermost frame first
// ("at fn (file:line)"), taken at its next instruction. It may be called
// from any goroutine while Serve runs; if the script does not reach an
// instruction within stackWait (a long native call), it says so.
func (v *vm) CurrentStack() string {
	ch := make(chan string, 1)
	v.stackMu.Lock()
	v.stackWaiter = append(v.stackWaiter, ch)
	v.stackMu.Unlock()
	v.stackWanted.Store(true)
	t := time.NewTimer(stackWait)
	defer t.Stop()
	select {
	case s := <-ch:
		return s
	case <-t.C:
		v.stackMu.Lock()
		for i, w := range v.stackWaiter {
			if w == ch {
				v.stackWaiter = append(v.stackWaiter[:i], v.stackWaiter[i+1:]...)
				break
			}
		}
		v.stackMu.Unlock()
		select {
		case s := <-ch: // delivered meanwhile
			return s
		default:
		}
		return "unavailable: the script is inside a native call (kv, http.request, a long string operation) or not running"
	}
}

// deliverStack runs on the VM's goroutine between two instructions.
func (v *vm) deliverStack() {
	v.stackMu.Lock()
	waiters := v.stackWaiter
	v.stackWaiter = nil
	v.stackWanted.Store(false)
	v.stackMu.Unlock()
	if len(waiters) == 0 {
		return
	}
	s := v.snapshot()
	for _, w := range waiters {
		w <- s
	}
}

// snapshot formats the current call stack.
func (v *vm) snapshot() string {
	L := v.L
	var b strings.Builder
	for level := 0; level < maxStackFrames; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		fv, err := L.GetInfo("Slnf", dbg, glua.LNil)
		if err != nil {
			break
		}
		name := dbg.Name
		if dbg.What == "main" {
			name = v.mainLabel(fv)
		}
		if name == "" || name == "?" {
			name = "function"
		}
		if dbg.Source == "" {
			fmt.Fprintf(&b, "at %s (native)\n", name)
			continue
		}
		fmt.Fprintf(&b, "at %s (%s:%d)\n", name, dbg.Source, dbg.CurrentLine)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// mainLabel names a bottom frame (one called from Go): gopher-lua calls
// them all "main chunk", but in handler style it is the handler.
func (v *vm) mainLabel(fn glua.LValue) string {
	if f, ok := fn.(*glua.LFunction); ok && f == v.handler && v.handler != nil {
		return "handler"
	}
	return "main chunk"
}
