package host

import (
	"context"
	"errors"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// timedOut reports whether a request that failed with err ran out of its
// time limit: its context ended for its deadline, or the deadline has
// passed although the context has not noticed yet and err is no error of
// its own (a limit, a bad request). The second case is a call that waited
// on something outside the VM with the same deadline — a kv call to a
// Redis that does not answer ends with "i/o timeout" when the connection's
// deadline fires, which may be before the request's context ends, the
// more so on a loaded machine — and it is a 504 too (README.md, "Sandbox
// and limits").
func timedOut(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return errors.Is(sandbox.Cause(ctx), context.DeadlineExceeded)
	}
	if errors.Is(err, sandbox.ErrTooLarge) || errors.Is(err, script.ErrBadRequest) || errors.Is(err, script.ErrNoCGIHead) {
		return false
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
