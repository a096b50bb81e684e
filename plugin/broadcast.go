package plugin

import (
	"context"
	"errors"
	"sync"
)

// BroadcastOptions say how Broadcast calls the apps.
type BroadcastOptions struct {
	// Apps limits the call to these apps, in this order; nil: every app,
	// in name order.
	Apps []string
	// Concurrent calls the apps at the same time (each on a VM of its own
	// pool); otherwise one after the other, in order.
	Concurrent bool
	// StopOnError stops at the first app whose call fails (in order only;
	// the failing app's Result is the last one).
	StopOnError bool
}

// Result is one app's answer to a Broadcast.
type Result struct {
	App   string
	Value any
	Err   error
}

// Broadcast calls fn with args in every app that exports it (an event:
// "onMessage", "beforeSave"…) and returns one Result per such app, in app
// order; apps that do not export fn are left out. Each call is bounded by
// ctx and its app's own timeout, and a failing app does not stop the
// others unless StopOnError is set.
func (h *Host) Broadcast(ctx context.Context, fn string, o BroadcastOptions, args ...any) []Result {
	apps := o.Apps
	if apps == nil {
		apps = h.Apps()
	}
	res := make([]Result, len(apps))
	if o.Concurrent {
		var wg sync.WaitGroup
		for i, app := range apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := h.Call(ctx, app, fn, args...)
				res[i] = Result{App: app, Value: v, Err: err}
			}()
		}
		wg.Wait()
	} else {
		for i, app := range apps {
			v, err := h.Call(ctx, app, fn, args...)
			res[i] = Result{App: app, Value: v, Err: err}
			if err != nil && o.StopOnError && !errors.Is(err, ErrNoFunction) && !errors.Is(err, ErrNotCallable) {
				res = res[:i+1]
				break
			}
		}
	}
	out := res[:0]
	for _, r := range res {
		if r.App != "" && !errors.Is(r.Err, ErrNoFunction) && !errors.Is(r.Err, ErrNotCallable) {
			out = append(out, r)
		}
	}
	return out
}
