package js

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file lets the slow log read a running handler's stack without
// stopping it. goja's stack may only be read on the VM's own goroutine, and
// goja has no hook between instructions, so CurrentStack raises a flag and
// the next call the script makes into a Go-implemented built-in (every
// bounded String/Array/JSON method, and the request/response API) takes
// the stack there. A loop that calls no built-in is not seen.

// stackWait bounds how long CurrentStack waits for that call.
const stackWait = 250 * time.Millisecond

// stackState is the VM's side of CurrentStack.
type stackState struct {
	wanted  atomic.Bool
	mu      sync.Mutex
	waiters []chan string
}

// CurrentStack returns the running script's stack, innermost frame first,
// one "at fn (file:line:col)" per line (script.StackCapturer). It waits up
// to stackWait for the script to call a built-in; otherwise the answer
// starts with "unavailable:".
func (v *jsVM) CurrentStack() string {
	ch := make(chan string, 1)
	v.stack.mu.Lock()
	v.stack.waiters = append(v.stack.waiters, ch)
	v.stack.mu.Unlock()
	v.stack.wanted.Store(true)
	t := time.NewTimer(stackWait)
	defer t.Stop()
	select {
	case s := <-ch:
		return s
	case <-t.C:
	}
	v.stack.mu.Lock()
	for i, w := range v.stack.waiters {
		if w == ch {
			v.stack.waiters = append(v.stack.waiters[:i], v.stack.waiters[i+1:]...)
			break
		}
	}
	if len(v.stack.waiters) == 0 {
		v.stack.wanted.Store(false)
	}
	v.stack.mu.Unlock()
	select {
	case s := <-ch: // delivered meanwhile
		return s
	default:
	}
	return "unavailable: the script made no call into a built-in for " + stackWait.String() + " (a JS stack is taken at the next built-in call)"
}

// maybeDeliverStack runs on the VM's goroutine at each built-in call.
func (v *jsVM) maybeDeliverStack() {
	if !v.stack.wanted.Load() {
		return
	}
	v.stack.mu.Lock()
	waiters := v.stack.waiters
	v.stack.waiters = nil
	v.stack.wanted.Store(false)
	v.stack.mu.Unlock()
	if len(waiters) == 0 {
		return
	}
	frames := v.b.frames(v.rt.CaptureCallStack(0, nil))
	lines := make([]string, len(frames))
	for i, f := range frames {
		lines[i] = f.String()
	}
	s := strings.Join(lines, "\n")
	if s == "" {
		s = "unavailable: no script frame on the stack"
	}
	for _, w := range waiters {
		w <- s
	}
}
