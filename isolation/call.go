package isolation

// This file holds the call path of the plugin host (docs/embedding.md, "The
// process model"): a call to a function of an isolated app is a FastCGI
// request to its current child marked with the child's secret, the
// arguments in the body (package callwire), answered by the child's own
// host.Host.Call.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/callwire"
	"github.com/fcgihost/fcgihost/script"
)

// ErrProcess: an isolated app's process failed under a call (it died, or
// broke the protocol), or no process could serve it.
var ErrProcess = errors.New("the isolated app's process failed")

// callGrace is how much longer than the child's own deadline the serving
// process waits for a call's answer, so that a timeout comes back as the
// child's *script.ScriptError rather than as a cut connection.
const callGrace = 5 * time.Second

// Call calls fn of the app through its unit's child.
func (h *Handle) Call(ctx context.Context, app, fn string, args []any) (any, error) {
	return h.sup.Call(ctx, app, fn, args)
}

// Call sends one call to the current child (waiting while one starts) and
// returns its result or its error, rebuilt with the same types as the
// child's (callwire.DecodeResult). A child that dies under the call, or
// cannot be reached, gives an error wrapping ErrProcess.
func (s *Supervisor) Call(ctx context.Context, app, fn string, args []any) (any, error) {
	norm, err := script.Normalize(args)
	if err != nil {
		return nil, err
	}
	body, err := callwire.Append(nil, norm)
	if err != nil {
		return nil, fmt.Errorf("the arguments: %w: %v", script.ErrValue, err)
	}
	c, err := s.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("isolated app %s: %w: %v", s.spec.name, ErrProcess, err)
	}
	defer s.release(c)
	params := map[string]string{
		callwire.ParamToken: c.token,
		callwire.ParamApp:   app,
		callwire.ParamFunc:  fn,
		"REQUEST_METHOD":    "POST",
		"CONTENT_LENGTH":    strconv.Itoa(len(body)),
		"CONTENT_TYPE":      callwire.ContentType,
	}
	// The child bounds the call by the app's timeout and by what is left
	// of ctx's deadline; this process waits that long plus callGrace, and
	// gives up at once only when ctx is cancelled (not when its deadline
	// passes: the child's answer, a timeout error, is on its way).
	wait := s.spec.timeout()
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		params[callwire.ParamTimeout] = strconv.FormatInt(max(left.Milliseconds(), 1), 10)
		wait = min(wait, max(left, 0)+callGrace)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	defer stop()
	resp, err := c.client.Do(fctx, &fcgi.ClientRequest{Role: fcgi.RoleResponder, Params: params, Body: bytes.NewReader(body)})
	if err != nil {
		return nil, s.callFailed(ctx, fctx, c, err)
	}
	defer resp.Body.Close()
	// The child may run hostile code: its answer is bounded like a
	// response (max_response).
	maxAnswer := s.spec.set.Limits().WithDefaults().MaxResponse
	ans, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, s.callFailed(ctx, fctx, c, err)
	}
	if int64(len(ans)) > maxAnswer {
		return nil, fmt.Errorf("isolated app %s (pid %d): the result is larger than max_response (%d bytes): %w", s.spec.name, c.pid, maxAnswer, script.ErrValue)
	}
	if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), callwire.ContentType) {
		return nil, fmt.Errorf("isolated app %s (pid %d): %w: an answer that is not a call's (status %d)", s.spec.name, c.pid, ErrProcess, resp.Status)
	}
	return callwire.DecodeResult(ans)
}

func (s *Supervisor) callFailed(ctx, fctx context.Context, c *child, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	if fctx.Err() != nil {
		return fmt.Errorf("isolated app %s (pid %d): no answer in time: %w", s.spec.name, c.pid, context.DeadlineExceeded)
	}
	reason := ""
	t := time.NewTimer(200 * time.Millisecond)
	select {
	case <-c.exited:
		reason = c.exitReason()
	case <-t.C:
	}
	t.Stop()
	s.log.Error("isolated call failed", "pid", c.pid, "err", err, "child_exit", reason)
	return fmt.Errorf("isolated app %s (pid %d): %w%s: %v", s.spec.name, c.pid, ErrProcess, suffix(reason), err)
}

// withoutCallParams returns params without the params of a call, so that
// no request from the front end reaches a child as a call.
func withoutCallParams(params map[string]string) map[string]string {
	if _, ok := params[callwire.ParamToken]; !ok {
		return params
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		if !strings.HasPrefix(k, "FCGIHOST_CALL") {
			out[k] = v
		}
	}
	return out
}
