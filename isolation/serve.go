package isolation

// This file holds the request path: one request forwarded to the current
// child over FastCGI, its answer streamed to the client's Sink, and every
// failure turned into a plain 5xx.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/script"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Serve answers one request of the app through its unit's child.
func (h *Handle) Serve(ctx context.Context, params map[string]string, body io.Reader, sink script.Sink, stderr io.Writer) error {
	return h.sup.Serve(ctx, params, body, sink, stderr)
}

// Serve forwards one request to the current child (waiting while one
// starts) and streams its answer to sink. A request that reaches no child
// gets 503 (with Retry-After while the unit waits to restart); one whose
// child dies or breaks the protocol gets 502; one the child does not
// answer in time gets 504. The error returned is for the counters; the
// response is already written. A cancelled ctx (the client went away)
// writes nothing.
func (s *Supervisor) Serve(ctx context.Context, params map[string]string, body io.Reader, sink script.Sink, stderr io.Writer) error {
	c, err := s.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		retry := 0
		var ue *UnavailableError
		if errors.As(err, &ue) {
			retry = int(math.Ceil(ue.RetryIn.Seconds()))
		}
		s.refusedLog(params, err)
		writeError(sink, params, http.StatusServiceUnavailable, "service unavailable: the app's process is not running\n", retry)
		return err
	}
	defer s.release(c)
	fctx, cancel := context.WithTimeout(ctx, s.spec.timeout())
	defer cancel()
	role := fcgi.RoleResponder
	if params["FCGI_ROLE"] == "AUTHORIZER" {
		role = fcgi.RoleAuthorizer
	}
	params = withoutCallParams(params)
	if noBody(params) {
		body = nil // lets the client retry a request on a stale kept connection
	}
	resp, err := c.client.Do(fctx, &fcgi.ClientRequest{Role: role, Params: params, Body: body})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		status, msg := http.StatusBadGateway, "bad gateway: the app's process failed\n"
		var re *fcgi.RefusedError
		reason := ""
		switch {
		case fctx.Err() != nil:
			status, msg = http.StatusGatewayTimeout, "gateway timeout: the app's process did not answer\n"
		case errors.As(err, &re):
			status, msg = http.StatusServiceUnavailable, "service unavailable: the app's process is overloaded\n"
		default:
			// Most likely the child died under the request: say why.
			t := time.NewTimer(200 * time.Millisecond)
			select {
			case <-c.exited:
				reason = c.exitReason()
				msg = "bad gateway: the app's process died\n"
			case <-t.C:
			}
			t.Stop()
		}
		s.log.Error("isolated request failed", "uri", params["REQUEST_URI"], "pid", c.pid, "status", status, "err", err, "child_exit", reason)
		if stderr != nil {
			fmt.Fprintf(stderr, "fcgihost: isolated app %s: %s%s\n", s.spec.name, msg[:len(msg)-1], suffix(reason))
		}
		writeError(sink, params, status, msg, 0)
		return fmt.Errorf("isolated app %s (pid %d): %w", s.spec.name, c.pid, err)
	}
	defer resp.Body.Close()
	if err := sink.WriteHeader(resp.Status, resp.Header); err != nil {
		return err
	}
	bp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(writerOnly{sink}, resp.Body, *bp)
	copyBufs.Put(bp)
	if len(resp.Stderr) > 0 && stderr != nil {
		stderr.Write(resp.Stderr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Error("isolated response cut", "uri", params["REQUEST_URI"], "pid", c.pid, "err", err)
		return fmt.Errorf("isolated app %s (pid %d): response: %w", s.spec.name, c.pid, err)
	}
	return nil
}

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// refusedLog logs a refused request, at most once a second per unit.
func (s *Supervisor) refusedLog(params map[string]string, err error) {
	now := time.Now().UnixNano()
	last := s.lastRefusedLog.Load()
	if now-last < int64(time.Second) || !s.lastRefusedLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("request refused: isolated app unavailable", "uri", params["REQUEST_URI"], "err", err)
}

// noBody reports whether a request surely has no body.
func noBody(params map[string]string) bool {
	switch params["CONTENT_LENGTH"] {
	case "0":
		return true
	case "":
		m := params["REQUEST_METHOD"]
		return m == "" || m == "GET" || m == "HEAD"
	}
	return false
}

// writeError writes a short text/plain response.
func writeError(sink script.Sink, params map[string]string, status int, msg string, retryAfter int) {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	if params["REQUEST_METHOD"] == "HEAD" {
		msg = ""
	}
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	if sink.WriteHeader(status, h) != nil || msg == "" {
		return
	}
	sink.Write([]byte(msg))
}

// writerOnly hides any ReadFrom of a Sink so that CopyBuffer uses its
// buffer.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
