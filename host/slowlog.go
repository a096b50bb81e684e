package host

// This file holds the slow log: a request still running on its VM after
// the app's `slowlog` duration gets one log line with its URL, its app and
// the script's stack at that moment, taken without stopping the script.

import (
	"strings"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/script"
)

// watchSlow arms the slow-log timer of one request that has just been
// given VM lease l. The returned stop must be called as soon as the
// script's Serve returns: it disarms the timer and waits for a capture in
// progress, so the VM is never asked for its stack once it went back to
// the pool. after <= 0 disables the slow log.
func (h *Host) watchSlow(app *registry.App, req *script.Request, l pool.Lease, after time.Duration, m *AppMetrics) (stop func()) {
	if after <= 0 {
		return func() {}
	}
	start := time.Now()
	var mu sync.Mutex // held while the callback runs; stopped is guarded by it
	stopped := false
	t := time.AfterFunc(after, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		m.Slow.Add(1)
		stack, where := "", ""
		if sc, ok := l.VM.(script.StackCapturer); ok {
			stack = sc.CurrentStack()
			where = topFrame(stack)
		} else {
			stack = "unavailable: the " + app.Engine.Name() + " engine does not report the stack of a running script"
		}
		app.Logger().Warn("slow request", "uri", req.URI, "method", req.Method, "running", time.Since(start).Round(time.Millisecond),
			"slowlog", after, "vm", l.VMID, "version", l.Version, "where", where, "stack", stack)
	})
	return func() {
		t.Stop()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}

// topFrame is the first non-empty line of a stack, trimmed (engines put
// the innermost frame first, as "file:line" or "at fn (file:line:col)").
func topFrame(stack string) string {
	for _, line := range strings.Split(stack, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return strings.TrimPrefix(line, "at ")
		}
	}
	return ""
}
