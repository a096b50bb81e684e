package host

// This file holds the watch on a script call that does not return when
// its context ends: a native call that ignores the VM's interrupt (see
// docs/processes.md, "Stuck requests"). The client gets its answer at the
// deadline all the same, through the transport's Detacher, and the host's
// owner is told (OnStuck) so that it can retire the process.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// StuckAfter is how long a script call may go on once its context has
// ended (its timeout, the memory watchdog, the client gone) before it
// counts as stuck. An engine stops within microseconds of its interrupt;
// only a call that ignores the interrupt is still running a second later.
const StuckAfter = time.Second

// Detacher is what a transport offers to answer a request from another
// goroutine while its handler is stuck: Detach sends the status and body
// (nothing when status is 0) unless the head went out already, ends the
// request, and makes everything the handler writes afterwards go nowhere.
// It reports false when the request had ended already. The FastCGI
// transport has it (fcgi.Detacher).
type Detacher interface {
	Detach(status int, body string) bool
}

// stuckWatch watches one script call (it lives in a pooled call). Its
// hook runs when the call's context ends and arms a timer; the timer's
// function answers the request if the call has not returned by then.
// done waits for both, so the call is never reused under them.
type stuckWatch struct {
	onEnd  func() // made once per call: fires when the context ends
	onFire func() // made once per call: the timer's

	mu       sync.Mutex
	returned bool
	detached bool
	timer    *time.Timer
	stopHook func() bool
	wg       sync.WaitGroup // onEnd and onFire while they may run

	// What onFire needs; set by begin, valid until done.
	h     *Host
	x     *Exchange
	app   *registry.App
	req   *script.Request
	rc    *sandbox.Context
	vmID  uint64
	begun time.Time
}

func (w *stuckWatch) init() {
	w.onEnd = w.ended
	w.onFire = w.fire
}

// begin starts watching the call about to run on rc.
func (w *stuckWatch) begin(h *Host, x *Exchange, app *registry.App, req *script.Request, rc *sandbox.Context, vmID uint64) {
	w.h, w.x, w.app, w.req, w.rc, w.vmID = h, x, app, req, rc, vmID
	w.begun = time.Now()
	w.returned, w.detached, w.timer = false, false, nil
	w.wg.Add(1)
	w.stopHook = rc.AfterFunc(w.onEnd)
}

// done ends the watch once the call has returned; it reports whether the
// request was answered without it (detached).
func (w *stuckWatch) done() (detached bool) {
	w.mu.Lock()
	w.returned = true
	t := w.timer
	w.mu.Unlock()
	if w.stopHook() {
		w.wg.Done() // ended will not run
	}
	if t != nil && t.Stop() {
		w.wg.Done() // fire will not run
	}
	w.wg.Wait()
	detached = w.detached
	w.h, w.x, w.app, w.req, w.rc, w.stopHook, w.timer = nil, nil, nil, nil, nil, nil, nil
	return detached
}

// ended runs when the call's context ends.
func (w *stuckWatch) ended() {
	defer w.wg.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.returned {
		w.wg.Add(1)
		w.timer = time.AfterFunc(StuckAfter, w.onFire)
	}
}

// fire runs StuckAfter past the end of the call's context: if the call is
// still running it is stuck, and the request is answered now.
func (w *stuckWatch) fire() {
	defer w.wg.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.returned {
		return
	}
	h, x, app, req := w.h, w.x, w.app, w.req
	cause := sandbox.Cause(w.rc)
	status, body := http.StatusInternalServerError, "internal server error\n"
	m := h.Metrics.App(app.Name)
	switch {
	case x.client != nil && x.client.Err() != nil:
		status, body = 0, "" // the client is gone: no one to answer
		m.Aborted.Add(1)
	case errors.Is(w.rc.Err(), context.DeadlineExceeded):
		status, body = http.StatusGatewayTimeout, "script timed out\n"
		m.Timeouts.Add(1)
	case errors.Is(cause, sandbox.ErrMemoryLimit):
		body = "script exceeded its memory limit\n"
		m.Errors.Add(1)
	default:
		m.Errors.Add(1)
	}
	if x.Params["REQUEST_METHOD"] == "HEAD" {
		body = ""
	}
	answered := false
	if x.Detacher != nil {
		answered = x.Detacher.Detach(status, body)
		w.detached = answered
	}
	ran := time.Since(w.begun).Round(time.Millisecond)
	app.Logger().Error("script stuck in a call that ignores its interrupt", "uri", req.URI, "cause", cause,
		"running", ran, "vm", w.vmID, "answered", statusOrNone(answered, status))
	if answered {
		m.Observe(status, time.Since(x.start))
		if h.AccessLog != nil {
			h.AccessLog.Info("request", "app", app.Name, "method", x.Params["REQUEST_METHOD"], "uri", x.Params["REQUEST_URI"],
				"status", status, "bytes", len(body), "duration_ms", float64(time.Since(x.start).Microseconds())/1000,
				"remote", x.Params["REMOTE_ADDR"], "vm", w.vmID, "proto", x.Params["SERVER_PROTOCOL"],
				"referer", x.Params["HTTP_REFERER"], "user_agent", x.Params["HTTP_USER_AGENT"], "user", x.Params["REMOTE_USER"], "detached", true)
		}
	}
	what := fmt.Sprintf("%s %s (app %s) for %s", req.Method, req.URI, app.Name, ran)
	if h.OnStuck != nil {
		h.OnStuck(what)
	} else {
		app.Logger().Error("the stuck call keeps its VM: the app serves with one VM fewer until fcgihost restarts (with processes ≥ 1 the worker would be retired instead; docs/processes.md)",
			"uri", req.URI, "vm", w.vmID)
	}
}

func statusOrNone(answered bool, status int) string {
	switch {
	case !answered:
		return "no (the transport cannot answer early; the client waits for the process to end)"
	case status == 0:
		return "no one to answer (client gone)"
	}
	return strconv.Itoa(status)
}
