// Package host answers requests. It turns the CGI params of a request —
// sent by a FastCGI front end, or made from an http.Request by the
// development listener in exactly the way a front end would — into a
// script.Request, finds the app through the registry, runs it on one VM of
// the app's pool within the app's limits, and writes the response through
// a Sink. It also answers the ping and status paths, maps every failure to
// one status code, one log line and one stderr line, and counts what it did
// for the status page.
package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/internal/logsafe"
	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// Host serves requests for the apps of a Registry. Its fields are set
// before the first request and not changed after.
type Host struct {
	Registry *registry.Registry
	Logger   *slog.Logger
	// AccessLog, if set, gets one line per request.
	AccessLog *slog.Logger
	// StatusPath and PingPath are matched against the request path before
	// any app ("" = off).
	StatusPath, PingPath string
	// Fallback is the app that answers a request whose path finds no app
	// (config key "fallback"), or "".
	Fallback string
	// PingResponse is the ping path's body (default "pong").
	PingResponse string
	// StatusAllow lists the client addresses (REMOTE_ADDR) the status page
	// answers; default 127.0.0.1 and ::1.
	StatusAllow []string
	// MaxParams bounds the total size of the params (0 = unchecked here).
	// The FastCGI server (431 past 1 MiB) and net/http (MaxHeaderBytes)
	// already bound them, so server.New leaves it 0 and the request path
	// does not sum every param again; set it for another transport.
	MaxParams int
	// Status, if set, renders the status page (JSON, ?html, ?openmetrics).
	Status http.Handler
	// Frontend, if set, is the FastCGI side the status page reports on
	// (connections, listen queue); Inherit carries it over.
	Frontend *Frontend
	// Aggregate, if set, completes the status page's report with the
	// other worker processes' figures (docs/processes.md).
	Aggregate func(*StatusReport)
	// OnStuck, if set, is told (what: method, URI, app, how long) when a
	// script call is still running StuckAfter past the end of its context:
	// a native call that ignores the VM's interrupt. The request has been
	// answered (see Detacher); the call's goroutine and its VM are lost to
	// this process. A master's worker asks to be retired
	// (docs/processes.md, "Stuck requests"). Nil: the host logs it.
	OnStuck func(what string)
	// TestHook, if set, is called with the app's request path on the
	// request's goroutine once a VM is leased, right before the script
	// runs, inside the stuck watch. Only the end-to-end tests set it
	// (docs/processes.md, "Test hooks").
	TestHook func(appPath string)

	// Metrics are the counters (made by Start if nil).
	Metrics *Metrics
	started time.Time
	inited  atomic.Bool
}

// Start records the start time; call it once before serving.
func (h *Host) Start() {
	if h.started.IsZero() {
		h.started = time.Now()
	}
	if h.Metrics == nil {
		h.Metrics = &Metrics{}
	}
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	h.inited.Store(true)
}

// Inherit carries the counters and start time of prev (the host a config
// reload replaces) over to h. Call before Start.
func (h *Host) Inherit(prev *Host) {
	h.Metrics = prev.Metrics
	h.started = prev.started
	if h.Frontend == nil {
		h.Frontend = prev.Frontend
	}
}

// StartTime is when Start was called.
func (h *Host) StartTime() time.Time { return h.started }

// Exchange is one request as the host sees it, independent of the
// transport.
type Exchange struct {
	Params map[string]string
	Body   io.Reader // the request body as it arrives (nil = empty)
	Sink   script.Sink
	Stderr io.Writer // the front end's error log (FCGI_STDERR); nil = none
	// Role is "RESPONDER" (default) or "AUTHORIZER".
	Role string
	// Detacher, if set, answers the request from another goroutine when
	// its script is stuck (see Host.OnStuck); nil: the transport cannot.
	Detacher Detacher

	rec      recordingSink   // wraps Sink while Serve runs
	start    time.Time       // when Serve began
	client   context.Context // Serve's ctx
	detached bool            // answered by the stuck watch (set on Serve's goroutine once the call returned)
}

// Serve answers one request. ctx is cancelled when the client goes away
// (front end abort or closed connection) or at hard shutdown.
func (h *Host) Serve(ctx context.Context, x *Exchange) {
	if !h.inited.Load() {
		h.Start()
	}
	start := time.Now()
	h.Metrics.Accepted.Add(1)
	h.Frontend.Touch()
	rec := &x.rec
	*rec = recordingSink{Sink: x.Sink}
	x.Sink = rec
	x.start, x.client, x.detached = start, ctx, false
	appName, vmID := "", uint64(0)
	defer func() {
		if r := recover(); r != nil {
			h.Logger.Error("panic serving request", "uri", x.Params["REQUEST_URI"], "panic", r)
			h.Metrics.Panics.Add(1)
			if !rec.sent {
				h.plain(x, http.StatusInternalServerError, "internal server error\n")
			}
		}
		if h.AccessLog != nil && !x.detached { // a detached request's line was written then
			h.AccessLog.Info("request", "app", appName, "method", x.Params["REQUEST_METHOD"], "uri", x.Params["REQUEST_URI"],
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000,
				"remote", x.Params["REMOTE_ADDR"], "vm", vmID, "proto", x.Params["SERVER_PROTOCOL"],
				"referer", x.Params["HTTP_REFERER"], "user_agent", x.Params["HTTP_USER_AGENT"], "user", x.Params["REMOTE_USER"])
		}
	}()
	if h.MaxParams > 0 {
		n := 0
		for k, v := range x.Params {
			n += len(k) + len(v)
		}
		if n > h.MaxParams {
			h.Logger.Warn("params too large", "bytes", n, "max", h.MaxParams)
			h.plain(x, http.StatusRequestHeaderFieldsTooLarge, "request headers too large\n")
			return
		}
	}
	path, err := registry.RequestPath(x.Params)
	if err == nil {
		switch {
		case h.PingPath != "" && path == h.PingPath:
			resp := h.PingResponse
			if resp == "" {
				resp = "pong"
			}
			h.plain(x, http.StatusOK, resp+"\n")
			return
		case h.StatusPath != "" && path == h.StatusPath:
			h.serveStatus(ctx, x)
			return
		}
	}
	app, appPath, err := h.Registry.Resolve(x.Params)
	if err != nil {
		app, appPath, err = h.fallback(x.Params, err)
	}
	if err != nil {
		var re *registry.ResolveError
		if errors.As(err, &re) {
			switch {
			case re.Status == http.StatusNotFound && x.Params["SCRIPT_FILENAME"] != "":
				// The "Primary script unknown" case: the front end named a
				// script that is not there; say so where operators look.
				h.Logger.Info("no app for this request", "uri", x.Params["REQUEST_URI"], "script_filename", x.Params["SCRIPT_FILENAME"], "reason", re.Msg)
			case re.Status == http.StatusNotFound:
				h.Logger.Debug("no app", "uri", x.Params["REQUEST_URI"], "reason", re.Msg)
			default:
				h.Logger.Warn("request refused", "status", re.Status, "uri", x.Params["REQUEST_URI"], "script_filename", x.Params["SCRIPT_FILENAME"], "reason", re.Msg)
			}
			h.plain(x, re.Status, http.StatusText(re.Status)+"\n")
			return
		}
		h.plain(x, http.StatusBadRequest, "bad request\n")
		return
	}
	appName = app.Name
	if h.folderRedirect(x, app, appPath) {
		return
	}
	rec.g = headerGuard{allowInternal: app.Settings().AllowInternalRedirect, log: app.Logger(), uri: x.Params["REQUEST_URI"]}
	rec.guard = &rec.g
	m := h.Metrics.App(app.Name)
	m.InFlight.Add(1)
	defer func() {
		m.InFlight.Add(-1)
		if !x.detached { // counted when it was answered
			m.Observe(rec.status, time.Since(start))
		}
	}()
	vmID = h.runApp(ctx, x, app, appPath, m)
}

func (h *Host) runApp(ctx context.Context, x *Exchange, app *registry.App, appPath string, m *AppMetrics) uint64 {
	set := app.Settings()
	lim := set.Limits.WithDefaults()
	log := app.Logger()

	// A process-isolated app: its child answers (and writes its own error
	// pages; see the isolation package).
	if b, err := app.Backend(); b != nil || err != nil {
		if err == nil {
			err = b.Serve(ctx, x.Params, x.Body, x.Sink, x.Stderr)
		} else {
			log.Error("isolated app unavailable", "err", err, "uri", x.Params["REQUEST_URI"])
			h.plain(x, http.StatusServiceUnavailable, "service unavailable\n")
		}
		if err != nil && ctx.Err() == nil {
			m.Errors.Add(1)
		}
		return 0
	}

	// Body: refuse early by Content-Length, then read at most MaxBody.
	if cl := x.Params["CONTENT_LENGTH"]; cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > lim.MaxBody {
			log.Warn("request body too large", "content_length", n, "max_body", lim.MaxBody, "uri", x.Params["REQUEST_URI"])
			h.plain(x, http.StatusRequestEntityTooLarge, "request body too large\n")
			return 0
		}
	}
	var body []byte
	if x.Body != nil {
		b, err := readBody(x.Body, lim.MaxBody+1)
		if err != nil {
			log.Info("reading request body failed", "err", err, "uri", x.Params["REQUEST_URI"])
			h.plain(x, http.StatusBadRequest, "bad request body\n")
			return 0
		}
		if int64(len(b)) > lim.MaxBody {
			log.Warn("request body too large", "max_body", lim.MaxBody, "uri", x.Params["REQUEST_URI"])
			h.plain(x, http.StatusRequestEntityTooLarge, "request body too large\n")
			return 0
		}
		body = b
	}

	p, err := app.Pool()
	if err != nil {
		log.Error("app has no working version", "err", err, "uri", x.Params["REQUEST_URI"])
		h.stderr(x, app.Name, err)
		m.Errors.Add(1)
		h.plain(x, http.StatusInternalServerError, "internal server error\n")
		return 0
	}

	// One context bounds the request: the client, the time limit and the
	// memory watchdog all end it (see sandbox.Context).
	rc := sandbox.NewContext(ctx, lim.Timeout)
	defer rc.Release()
	method := x.Params["REQUEST_METHOD"]
	if method == "" {
		method = "GET"
	}
	// The request and the response are reused: once Serve has returned
	// neither engine touches them (a req or res a script kept throws).
	c := callPool.Get().(*call)
	defer c.release()
	c.req = script.Request{
		Params:     x.Params,
		Method:     method,
		URI:        x.Params["REQUEST_URI"],
		Path:       appPath,
		Base:       BasePath(x.Params, appPath),
		RawQuery:   x.Params["QUERY_STRING"],
		RemoteAddr: x.Params["REMOTE_ADDR"],
		Body:       body,
	}
	req, res := &c.req, &c.res
	res.Init(x.Sink, lim.MaxResponse, method == "HEAD")
	var vmID uint64
	err = p.Do(rc, func(l pool.Lease) error {
		vmID = l.VMID
		if set.Slowlog > 0 {
			defer h.watchSlow(app, req, l, set.Slowlog, m)()
		}
		// The memory watchdog stops rc with a *sandbox.MemoryError cause
		// when this request is judged over memory_limit: only if the heap
		// profile charges its VM, which runs under the VM's tag, with the
		// memory (docs/sandbox.md, "What attribution guarantees").
		tag := tagOf(p, l.VMID)
		defer sandbox.Process().BeginTagged(rc, app.Name, lim.MemoryLimit, tag).End()
		c.vm, c.ctx = l.VM, rc
		// A call still running StuckAfter past the end of rc is answered
		// without waiting for it (stuck.go).
		c.watch.begin(h, x, app, req, rc, l.VMID)
		if h.TestHook != nil {
			h.TestHook(appPath)
		}
		sandbox.RunTagged(tag, c)
		x.detached = c.watch.done()
		return c.err
	})
	if x.detached {
		log.Info("a stuck script call returned at last; its request was answered when it got stuck", "uri", req.URI, "where", location(err), "err", err, "stack", stackOf(err))
		return vmID
	}
	if err == nil {
		if ferr := res.Finish(); ferr != nil {
			log.Info("writing response failed", "err", ferr, "uri", req.URI)
		}
		return vmID
	}
	h.fail(ctx, rc, x, app, res, req, err, set.Debug, m)
	return vmID
}

// call is one request's script.Request and script.Response, and the call
// of its VM (a sandbox.Runner, so that RunTagged allocates nothing).
type call struct {
	req   script.Request
	res   script.Response
	vm    script.VM
	ctx   *sandbox.Context
	err   error
	watch stuckWatch
}

// Run serves the request on its VM.
func (c *call) Run() { c.err = c.vm.Serve(c.ctx, &c.req, &c.res) }

var callPool = sync.Pool{New: func() any {
	c := new(call)
	c.watch.init()
	return c
}}

func (c *call) release() {
	c.vm, c.ctx, c.err = nil, nil, nil
	c.req = script.Request{}
	c.res.Init(nil, 0, false)
	callPool.Put(c)
}

var probePool = sync.Pool{New: func() any { b := make([]byte, 1024); return &b }}

// readBody reads r to its end, or to limit bytes. Most requests have no
// body: their first read, into a pooled buffer, finds the end and nothing
// is allocated.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	bp := probePool.Get().(*[]byte)
	defer probePool.Put(bp)
	buf := *bp
	n := 0
	for n == 0 {
		m, err := r.Read(buf)
		n += m
		if err == io.EOF {
			if n == 0 {
				return nil, nil
			}
			return append([]byte(nil), buf[:n]...), nil
		}
		if err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(buf[:n]), r), limit))
}

// fail maps a failed request to its status, log line and stderr line.
// client is the request's own context (it ends when the client goes away
// or at hard shutdown), ctx the one the script ran with. Only a request
// whose client is gone gets no response: one stopped by the memory
// watchdog, by its time limit or by any other cause inside the host gets a
// complete error page (docs/sandbox.md), whatever error the script's
// pending call returned when it was stopped (a kv call waiting on a lock
// returns context.Canceled).
func (h *Host) fail(client, ctx context.Context, x *Exchange, app *registry.App, res *script.Response, req *script.Request, err error, debug bool, m *AppMetrics) {
	log := app.Logger()
	status := http.StatusInternalServerError
	body := "internal server error\n"
	var se *script.ScriptError
	var pe *pool.PanicError
	switch {
	case errors.Is(err, pool.ErrQueueFull), errors.Is(err, pool.ErrQueueTimeout):
		status, body = http.StatusServiceUnavailable, "service unavailable: all workers busy\n"
		m.QueueFull.Add(1)
		log.Warn("request refused", "reason", err.Error(), "uri", req.URI)
	case errors.Is(err, script.ErrResponseTooLarge):
		log.Error("response cut", "err", err, "uri", req.URI)
		m.Errors.Add(1)
	case errors.As(err, &pe):
		log.Error("panic in request", "panic", fmt.Sprint(pe.Value), "uri", req.URI, "stack", string(pe.Stack))
		h.Metrics.Panics.Add(1)
		m.Errors.Add(1)
	case errors.Is(err, sandbox.ErrMemoryLimit) || ctx.Err() != nil && errors.Is(sandbox.Cause(ctx), sandbox.ErrMemoryLimit):
		// 500 like PHP's "Allowed memory size exhausted"; see docs/sandbox.md.
		body = "script exceeded its memory limit\n"
		m.Errors.Add(1)
		log.Error("script exceeded its memory limit", "uri", req.URI, "where", location(err), "err", rootMessage(err), "stack", stackOf(err))
	case timedOut(ctx, err) && client.Err() == nil:
		status, body = http.StatusGatewayTimeout, "script timed out\n"
		m.Timeouts.Add(1)
		log.Error("script timed out", "uri", req.URI, "where", location(err), "err", err, "stack", stackOf(err))
	case client.Err() != nil:
		// The client went away (abort, closed connection) or hard
		// shutdown: there is no one to answer.
		log.Info("request cancelled", "uri", req.URI, "cause", sandbox.Cause(client), "where", location(err))
		m.Aborted.Add(1)
		return
	case errors.Is(err, script.ErrTooManyValues):
		// A body, query or Cookie header over the value budget (see
		// docs/sandbox.md, "Request-body budgets").
		status, body = http.StatusRequestEntityTooLarge, "request too large: "+firstLine(rootMessage(err))+"\n"
		log.Warn("request refused", "reason", rootMessage(err), "uri", req.URI)
	case ctx.Err() != nil:
		// Stopped from inside the host for another cause: the client is
		// still there and gets a complete 500.
		log.Error("request stopped", "uri", req.URI, "cause", sandbox.Cause(ctx), "where", location(err), "err", err)
		m.Errors.Add(1)
	case errors.Is(err, script.ErrBadRequest):
		status, body = http.StatusBadRequest, "bad request: "+firstLine(rootMessage(err))+"\n"
		log.Info("bad request", "uri", req.URI, "err", err)
	case errors.Is(err, sandbox.ErrTooLarge):
		log.Error("script hit a limit", "uri", req.URI, "where", location(err), "err", err)
		m.Errors.Add(1)
	case errors.Is(err, script.ErrNoCGIHead):
		log.Error("CGI script sent an invalid response", "script", app.Entry, "err", err, "uri", req.URI)
		m.Errors.Add(1)
	case errors.As(err, &se):
		log.Error("script error", "uri", req.URI, "where", se.Location(), "err", rootMessage(err), "stack", se.Stack)
		m.Errors.Add(1)
	default:
		log.Error("request failed", "uri", req.URI, "err", err)
		m.Errors.Add(1)
	}
	if status >= 500 {
		h.stderr(x, app.Name, err)
	}
	if !res.Reset() {
		// The head already went out: all we can do is end the body here.
		res.Finish()
		return
	}
	if debug && se != nil {
		body += "\n" + se.Error() + "\n" + se.Stack + "\n"
	}
	h.plain(x, status, body)
}

// stderr writes one line about err to the front end's error log. The
// message is the script's own text: its lines are joined with " | " and
// every control character in it is escaped (logsafe.Escape), so that a
// script cannot end the line, forge another or send the terminal of whoever
// reads the log an escape sequence (docs/sandbox.md, "Logs").
func (h *Host) stderr(x *Exchange, app string, err error) {
	if x.Stderr == nil {
		return
	}
	fmt.Fprintf(x.Stderr, "fcgihost: app %s: %s\n", logsafe.Escape(app), logsafe.Escape(strings.ReplaceAll(err.Error(), "\n", " | ")))
}

func location(err error) string {
	var se *script.ScriptError
	if errors.As(err, &se) {
		return se.Location()
	}
	return ""
}

func stackOf(err error) string {
	var se *script.ScriptError
	if errors.As(err, &se) {
		return se.Stack
	}
	return ""
}

// rootMessage is the script's own message, without the location prefix.
func rootMessage(err error) string {
	var se *script.ScriptError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err.Error()
	}
	return err.Error()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// plain writes a short text/plain response (nothing if the head went out).
func (h *Host) plain(x *Exchange, status int, body string) {
	hd := http.Header{}
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	if x.Params["REQUEST_METHOD"] == "HEAD" {
		body = ""
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if err := x.Sink.WriteHeader(status, hd); err != nil {
		return
	}
	if body != "" {
		x.Sink.Write([]byte(body))
	}
}

func (h *Host) serveStatus(ctx context.Context, x *Exchange) {
	allow := h.StatusAllow
	if allow == nil {
		allow = []string{"127.0.0.1", "::1"}
	}
	remote := x.Params["REMOTE_ADDR"]
	ok := false
	rip := net.ParseIP(remote)
	for _, a := range allow {
		if a == remote || (rip != nil && net.ParseIP(a).Equal(rip)) {
			ok = true
			break
		}
		if _, n, err := net.ParseCIDR(a); err == nil && rip != nil && n.Contains(rip) {
			ok = true
			break
		}
	}
	if !ok {
		h.Logger.Warn("status page refused", "remote", remote)
		h.plain(x, http.StatusForbidden, "forbidden\n")
		return
	}
	if h.Status == nil {
		h.plain(x, http.StatusNotFound, "status page not available\n")
		return
	}
	r, _ := http.NewRequestWithContext(ctx, "GET", "/?"+x.Params["QUERY_STRING"], nil)
	w := &sinkResponseWriter{sink: x.Sink, h: http.Header{}}
	h.Status.ServeHTTP(w, r)
	w.finish()
}

// recordingSink remembers the status and body size for logs and metrics.
// Once the app is known it also drops the headers its scripts may not send
// (see headerGuard).
type recordingSink struct {
	script.Sink
	status int
	bytes  int64
	sent   bool
	guard  *headerGuard // nil: the host's own responses
	g      headerGuard  // guard's storage
}

func (s *recordingSink) WriteHeader(status int, h http.Header) error {
	s.status, s.sent = status, true
	if s.guard != nil {
		h = s.guard.header(h)
	}
	return s.Sink.WriteHeader(status, h)
}

func (s *recordingSink) WriteFields(status int, f []script.Field) error {
	s.status, s.sent = status, true
	if s.guard != nil {
		f = s.guard.fields(f)
	}
	if fs, ok := s.Sink.(script.FieldSink); ok {
		return fs.WriteFields(status, f)
	}
	return s.Sink.WriteHeader(status, script.FieldsHeader(f))
}

// Flush flushes the wrapped sink when it can (script.Response.End).
func (s *recordingSink) Flush() error {
	if f, ok := s.Sink.(script.Flusher); ok {
		return f.Flush()
	}
	return nil
}

func (s *recordingSink) Write(p []byte) (int, error) {
	n, err := s.Sink.Write(p)
	s.bytes += int64(n)
	return n, err
}

// sinkResponseWriter adapts a Sink to http.ResponseWriter (for the status
// handler).
type sinkResponseWriter struct {
	sink   script.Sink
	h      http.Header
	wrote  bool
	status int
}

func (w *sinkResponseWriter) Header() http.Header { return w.h }
func (w *sinkResponseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.status = code
		w.sink.WriteHeader(code, w.h)
	}
}
func (w *sinkResponseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.sink.Write(p)
}
func (w *sinkResponseWriter) finish() { w.WriteHeader(http.StatusOK) }
