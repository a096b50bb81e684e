// This file holds the connection: the read loop that owns the
// connection's request table and decodes every record, the serialised
// writer, the read deadlines that implement the timeouts, and the ways a
// connection ends (keep-conn off, idle, protocol error, loss, shutdown).

package fcgi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// protoError is a web server's breach of the protocol; it closes the
// connection with one log line.
type protoError struct{ msg string }

func (e *protoError) Error() string { return e.msg }

func protoErrorf(format string, args ...any) error {
	return &protoError{msg: fmt.Sprintf(format, args...)}
}

// errHardClosed ends a read loop that waited while the connection was
// closed under it.
var errHardClosed = errors.New("fcgi: connection closed by the server")

type deadlineKind uint8

const (
	dlNone   deadlineKind = iota
	dlIdle                // no request in progress: IdleTimeout
	dlParams              // some request's params incomplete: ReadTimeout from its begin
	dlBody                // some handler may wait for body: ReadTimeout of progress
	dlBusy                // everything received, handlers running: no deadline
	dlLinger              // closing: discard until the peer closes or lingerTimeout
)

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// conn is one connection from a web server.
type conn struct {
	s             *Server
	cfg           *config
	rwc           net.Conn
	remote, local net.Addr

	// Owned by the read loop.
	br   *bufio.Reader
	hdr  [headerLen]byte
	b8   [8]byte
	oob  [64]byte // out-of-band records written by the read loop
	done chan struct{}

	wmu  sync.Mutex // serialises writes: no record is ever torn
	werr error      // sticky write error; guarded by wmu

	mu            sync.Mutex // guards the fields below
	reqs          map[uint16]*request
	routines      int  // the read loop plus running handlers
	nParams       int  // requests whose params are incomplete
	nStdin        int  // dispatched requests whose stdin is incomplete
	closing       bool // the server is closing this connection (linger)
	closeWhenIdle bool // a request without FCGI_KEEP_CONN finished
	hard          bool // closed by hardClose
	idleSince     time.Time
	lastRead      time.Time // the read loop last finished a record
	lingerUntil   time.Time
	dlKind        deadlineKind // of the state, for the timeout's log line
	dl            time.Time    // the deadline armed on the socket
	doneClosed    bool
	// spareParams is the params map of a finished request, cleared and
	// given to the next one: a map of a few dozen params is the largest
	// allocation of a request.
	spareParams map[string]string
}

// maxSpareParams bounds the maps kept for reuse: a request that sent
// thousands of params does not pin their memory to the connection.
const maxSpareParams = 128

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{
		s:         s,
		cfg:       &s.cfg,
		rwc:       rwc,
		remote:    rwc.RemoteAddr(),
		local:     rwc.LocalAddr(),
		reqs:      make(map[uint16]*request),
		routines:  1,
		idleSince: time.Now(),
		done:      make(chan struct{}),
	}
	return c
}

// errShutdownClose ends the read loop of a kept connection that brought a
// request while the server shuts down (see beginRequest).
var errShutdownClose = errors.New("fcgi: server shutting down; connection closed unanswered")

// serve is the read loop. It is the only reader of the connection.
func (c *conn) serve() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(deadlineReader{c})
	defer c.readLoopExit()
	for {
		c.mu.Lock()
		c.lastRead = time.Now()
		c.applyDeadlineLocked()
		closing := c.closing
		c.mu.Unlock()
		if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
			c.readFailed(err)
			return
		}
		h := parseHeader(c.hdr[:])
		var err error
		switch {
		case h.Version != version1:
			err = protoErrorf("record version %d, want 1", h.Version)
		case closing:
			err = c.discard(h)
		default:
			err = c.record(h)
		}
		if err != nil {
			var pe *protoError
			if errors.As(err, &pe) {
				c.s.logger.Warn("fcgi: malformed input from the web server; closing connection",
					"remote", addrString(c.remote), "err", pe.msg)
				return
			}
			c.readFailed(err)
			return
		}
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	if s := a.String(); s != "" {
		return s
	}
	return a.Network()
}

// record handles one record whose header has been read.
func (c *conn) record(h header) error {
	switch h.Type {
	case typeBeginRequest:
		return c.beginRequest(h)
	case typeParams:
		return c.params(h)
	case typeStdin:
		return c.stdin(h)
	case typeAbortRequest:
		return c.abortRequest(h)
	case typeGetValues:
		if h.ID != 0 {
			return protoErrorf("FCGI_GET_VALUES on request id %d, want 0", h.ID)
		}
		return c.getValues(h)
	case typeData:
		// Only the Filter role reads FCGI_DATA, and Filter is refused.
		return c.discard(h)
	}
	if err := c.discard(h); err != nil {
		return err
	}
	c.s.logger.Debug("fcgi: unknown record type", "remote", addrString(c.remote), "type", h.Type)
	c.write(appendUnknownType(c.oob[:0], h.Type))
	return nil
}

func (c *conn) discard(h header) error {
	_, err := c.br.Discard(int(h.ContentLength) + int(h.PaddingLength))
	return err
}

func (c *conn) beginRequest(h header) error {
	if h.ContentLength != 8 {
		return protoErrorf("FCGI_BEGIN_REQUEST with %d content bytes, want 8", h.ContentLength)
	}
	if h.ID == 0 {
		return protoErrorf("FCGI_BEGIN_REQUEST on request id 0")
	}
	if _, err := io.ReadFull(c.br, c.b8[:]); err != nil {
		return err
	}
	if _, err := c.br.Discard(int(h.PaddingLength)); err != nil {
		return err
	}
	role := Role(uint16(c.b8[0])<<8 | uint16(c.b8[1]))
	keep := c.b8[2]&flagKeep != 0

	c.mu.Lock()
	if _, dup := c.reqs[h.ID]; dup {
		c.mu.Unlock()
		return protoErrorf("FCGI_BEGIN_REQUEST for request id %d, which is in progress", h.ID)
	}
	if c.s.shutdown.Load() && len(c.reqs) == 0 {
		// Shutting down, and nothing else runs on this connection: close
		// it without an answer. The web server sent this request on a
		// connection it kept, and takes the close as a kept connection
		// gone stale: it retries on a new connection, which another
		// process accepts (nginx adds a try for an error on a cached
		// connection). An FCGI_OVERLOADED answer would reach the client as
		// a 502.
		c.closing = true
		c.mu.Unlock()
		c.s.refused.Add(1)
		c.s.logger.Debug("fcgi: request on a kept connection while shutting down; closing it unanswered",
			"remote", addrString(c.remote), "request_id", h.ID)
		return errShutdownClose
	}
	refuse, reason := StatusRequestComplete, ""
	switch {
	case role != RoleResponder && role != RoleAuthorizer:
		refuse, reason = StatusUnknownRole, "role not supported"
	case c.s.shutdown.Load():
		refuse, reason = StatusOverloaded, "server shutting down"
	case len(c.reqs) >= c.cfg.maxReqsPerConn:
		refuse, reason = StatusOverloaded, "MaxReqsPerConn reached"
		if c.cfg.maxReqsPerConn == 1 {
			refuse = StatusCantMpxConn
		}
	default:
		if c.s.activeReqs.Add(1) > int64(c.cfg.maxReqs) {
			c.s.activeReqs.Add(-1)
			refuse, reason = StatusOverloaded, "MaxReqs reached"
		}
	}
	if reason != "" {
		closeNow := c.closeAfterLocked(keep)
		c.mu.Unlock()
		c.s.refused.Add(1)
		lvl := "warn"
		if refuse == StatusUnknownRole {
			lvl = "info"
		}
		args := []any{"remote", addrString(c.remote), "request_id", h.ID, "role", role.String(), "status", StatusName(refuse), "reason", reason}
		if lvl == "info" {
			c.s.logger.Info("fcgi: request refused", args...)
		} else {
			c.s.refuseLog.log(c.s.logger, "fcgi: request refused", args...)
		}
		c.write(appendEndRequest(appendHeader(c.oob[:0], typeStdout, h.ID, 0), h.ID, 0, refuse))
		if closeNow {
			c.closeWrite()
		}
		return nil
	}
	r := newRequest(c, h.ID, role, keep)
	c.reqs[h.ID] = r
	c.nParams++
	c.mu.Unlock()
	return nil
}

// closeAfterLocked decides, after a request ends, whether the connection
// closes now (its last request lacked FCGI_KEEP_CONN, or shutdown) and
// if so marks it closing. Without keep-conn but with other requests still
// in progress, it closes when they are done.
func (c *conn) closeAfterLocked(keep bool) bool {
	if c.closing || c.hard {
		return false
	}
	if len(c.reqs) > 0 {
		if !keep {
			c.closeWhenIdle = true
		}
		return false
	}
	if keep && !c.closeWhenIdle && !c.s.shutdown.Load() {
		return false
	}
	c.closing = true
	c.lingerUntil = time.Now().Add(lingerTimeout)
	c.applyDeadlineLocked()
	return true
}

// closeWrite ends the server's side of the connection after its last
// record: a half-close, so that the read loop can discard what the web
// server is still sending until it closes (a full close with unread data
// would reset the connection and could lose the answer), or a full close
// where half-closing is not possible.
func (c *conn) closeWrite() {
	c.wmu.Lock()
	if c.werr == nil {
		c.werr = ErrConnClosed
	}
	c.wmu.Unlock()
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return
	}
	c.rwc.Close()
}

func (c *conn) lookup(id uint16) *request {
	c.mu.Lock()
	r := c.reqs[id]
	c.mu.Unlock()
	return r
}

func (c *conn) params(h header) error {
	r := c.lookup(h.ID)
	if r == nil || r.paramsDone {
		return c.discard(h) // inactive id, or params after their end
	}
	n := int(h.ContentLength)
	if n == 0 {
		return c.paramsEnd(r)
	}
	if len(r.pbuf)+n > c.cfg.maxParamsBytes {
		if err := c.discard(h); err != nil {
			return err
		}
		c.refuseParams(r, "params larger than MaxParamsBytes", "max_params_bytes", c.cfg.maxParamsBytes)
		return nil
	}
	if r.pbufp == nil {
		r.pbufp = paramsPool.Get().(*[]byte)
		r.pbuf = (*r.pbufp)[:0]
	}
	l := len(r.pbuf)
	r.pbuf = append(r.pbuf, make([]byte, n)...)[:l+n]
	if _, err := io.ReadFull(c.br, r.pbuf[l:]); err != nil {
		return err
	}
	_, err := c.br.Discard(int(h.PaddingLength))
	return err
}

var paramsPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (r *request) releaseParamsBuf() {
	if r.pbufp != nil {
		if cap(r.pbuf) <= 64<<10 {
			*r.pbufp = r.pbuf[:0]
			paramsPool.Put(r.pbufp)
		}
		r.pbufp, r.pbuf = nil, nil
	}
}

// paramsEnd decodes the params of r and starts its handler.
func (c *conn) paramsEnd(r *request) error {
	n, err := countPairs(r.pbuf)
	if err != nil {
		return protoErrorf("malformed FCGI_PARAMS of request %d: %v", r.ID, err)
	}
	if n > c.cfg.maxParams {
		c.refuseParams(r, "more params than MaxParams", "max_params", c.cfg.maxParams)
		return nil
	}
	c.mu.Lock()
	m := c.spareParams
	c.spareParams = nil
	c.mu.Unlock()
	if m == nil {
		m = make(map[string]string, n)
	}
	if err := decodePairs(r.pbuf, m); err != nil {
		return protoErrorf("malformed FCGI_PARAMS of request %d: %v", r.ID, err)
	}
	r.Params = m
	r.releaseParamsBuf()
	if r.Role == RoleAuthorizer {
		r.body.setEOF() // an Authorizer gets no body
	}
	c.mu.Lock()
	r.paramsDone = true
	c.nParams--
	if r.Role == RoleAuthorizer {
		r.stdinDone = true
	}
	if !r.stdinDone {
		c.nStdin++
	}
	r.dispatched = true
	c.routines++
	c.mu.Unlock()
	c.s.requests.Add(1)
	c.s.workers.run(func() bool { return c.runRequest(r) })
	return nil
}

// refuseParams answers a request whose params break a limit with a 431
// without calling the handler; the rest of its records are ignored.
func (c *conn) refuseParams(r *request, reason string, args ...any) {
	c.mu.Lock()
	delete(c.reqs, r.ID)
	c.nParams--
	closeNow := c.closeAfterLocked(r.KeepConn)
	c.mu.Unlock()
	c.s.activeReqs.Add(-1)
	c.s.refused.Add(1)
	r.releaseParamsBuf()
	r.cancel(ErrRequestAborted)
	c.s.logger.Warn("fcgi: request refused: "+reason,
		append([]any{"remote", addrString(c.remote), "request_id", r.ID}, args...)...)
	const msg = "Status: 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRequest Header Fields Too Large\n"
	out := appendRecord(nil, typeStdout, r.ID, []byte(msg))
	out = appendHeader(out, typeStdout, r.ID, 0)
	out = appendEndRequest(out, r.ID, 0, StatusRequestComplete)
	c.write(out)
	if closeNow {
		c.closeWrite()
	}
}

func (c *conn) stdin(h header) error {
	c.mu.Lock()
	r := c.reqs[h.ID]
	if r == nil || r.stdinDone {
		c.mu.Unlock()
		return c.discard(h)
	}
	// Waiting for room helps only when a handler is there to make it and no
	// other request would wait too.
	dispatched := r.dispatched
	single := len(c.reqs) == 1 && dispatched
	if h.ContentLength == 0 {
		r.stdinDone = true
		if r.dispatched {
			c.nStdin--
		}
		c.mu.Unlock()
		r.body.setEOF()
		_, err := c.br.Discard(int(h.PaddingLength))
		return err
	}
	c.mu.Unlock()
	return r.body.fill(c, h, single, dispatched)
}

func (c *conn) abortRequest(h header) error {
	if err := c.discard(h); err != nil {
		return err
	}
	c.mu.Lock()
	r := c.reqs[h.ID]
	if r == nil {
		c.mu.Unlock()
		return nil
	}
	if r.dispatched {
		c.mu.Unlock()
		r.abort(ErrRequestAborted) // its goroutine sends FCGI_END_REQUEST
		return nil
	}
	delete(c.reqs, r.ID)
	c.nParams--
	closeNow := c.closeAfterLocked(r.KeepConn)
	c.mu.Unlock()
	c.s.activeReqs.Add(-1)
	r.releaseParamsBuf()
	r.cancel(ErrRequestAborted)
	c.write(appendEndRequest(appendHeader(c.oob[:0], typeStdout, r.ID, 0), r.ID, 0, StatusRequestComplete))
	if closeNow {
		c.closeWrite()
	}
	return nil
}

// getValues answers FCGI_GET_VALUES with the names it knows among those
// asked, on request id 0; the connection stays open.
func (c *conn) getValues(h header) error {
	content := make([]byte, int(h.ContentLength))
	if _, err := io.ReadFull(c.br, content); err != nil {
		return err
	}
	if _, err := c.br.Discard(int(h.PaddingLength)); err != nil {
		return err
	}
	if _, err := countPairs(content); err != nil {
		return protoErrorf("malformed FCGI_GET_VALUES: %v", err)
	}
	var out []byte
	var seen [3]bool
	for off := 0; off < len(content); {
		na, nl, _, _, next, _ := nextPair(content, off)
		off = next
		name := string(content[na : na+nl])
		var i int
		var v string
		switch name {
		case "FCGI_MAX_CONNS":
			i, v = 0, itoa(c.cfg.maxConns)
		case "FCGI_MAX_REQS":
			i, v = 1, itoa(c.cfg.maxReqs)
		case "FCGI_MPXS_CONNS":
			i, v = 2, "0"
			if c.cfg.mpxs {
				v = "1"
			}
		default:
			continue
		}
		if !seen[i] {
			seen[i] = true
			out = appendPair(out, name, v)
		}
	}
	c.write(appendRecord(nil, typeGetValuesResult, 0, out))
	return nil
}

// desiredDeadlineLocked is the read deadline the connection's state asks
// for (zero: none) and its kind.
func (c *conn) desiredDeadlineLocked() (deadlineKind, time.Time) {
	rt := c.cfg.readTimeout
	switch {
	case c.closing:
		return dlLinger, c.lingerUntil
	case c.hard:
		return dlNone, time.Time{}
	case len(c.reqs) == 0:
		if c.cfg.idleTimeout > 0 {
			return dlIdle, c.idleSince.Add(c.cfg.idleTimeout)
		}
		return dlIdle, time.Time{}
	case c.nParams > 0 && rt > 0:
		var d time.Time
		for _, r := range c.reqs {
			if !r.paramsDone && (d.IsZero() || r.begin.Before(d)) {
				d = r.begin
			}
		}
		return dlParams, d.Add(rt)
	case c.nStdin > 0 && rt > 0:
		return dlBody, c.lastRead.Add(rt)
	}
	return dlBusy, time.Time{}
}

// applyDeadlineLocked makes sure the socket's read deadline fires no later
// than the state asks. It only ever tightens the deadline: one armed
// earlier than needed, or armed when none is needed, fires and is then
// re-armed by rearm. So in steady keep-conn traffic the socket's deadline
// is touched about once per timeout period, not per request.
func (c *conn) applyDeadlineLocked() {
	kind, d := c.desiredDeadlineLocked()
	c.dlKind = kind
	if d.IsZero() || (!c.dl.IsZero() && !c.dl.After(d)) {
		return
	}
	c.dl = d
	c.rwc.SetReadDeadline(d)
}

// rearm is called when a read timed out: when the state's deadline is
// still ahead (or there is none) it re-arms the socket and reports true,
// and the read is retried.
func (c *conn) rearm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind, d := c.desiredDeadlineLocked()
	c.dlKind = kind
	if !d.IsZero() && !time.Now().Before(d) {
		return false
	}
	c.dl = d
	c.rwc.SetReadDeadline(d)
	return true
}

// deadlineReader is what the read loop's bufio.Reader reads: the
// connection, with early deadlines re-armed (see applyDeadlineLocked).
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	for {
		n, err := d.c.rwc.Read(p)
		if n == 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded) && d.c.rearm() {
			continue
		}
		return n, err
	}
}

// readFailed logs why the read loop ends, when that is worth a line.
func (c *conn) readFailed(err error) {
	c.mu.Lock()
	quiet := c.closing || c.hard
	kind := c.dlKind
	active := len(c.reqs)
	c.mu.Unlock()
	l, remote := c.s.logger, addrString(c.remote)
	switch {
	case quiet || errors.Is(err, errHardClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		switch kind {
		case dlIdle:
			l.Info("fcgi: closing idle connection", "remote", remote, "idle_timeout", c.cfg.idleTimeout)
		case dlParams:
			l.Warn("fcgi: request params not received within ReadTimeout; closing connection",
				"remote", remote, "read_timeout", c.cfg.readTimeout, "requests", active)
		case dlBody:
			l.Warn("fcgi: request body stalled for ReadTimeout; closing connection",
				"remote", remote, "read_timeout", c.cfg.readTimeout, "requests", active)
		default:
			l.Warn("fcgi: read timed out; closing connection", "remote", remote)
		}
	case errors.Is(err, io.EOF):
		if active > 0 {
			l.Debug("fcgi: connection closed by the web server; cancelling its requests", "remote", remote, "requests", active)
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		l.Info("fcgi: connection closed by the web server in the middle of a record", "remote", remote, "requests", active)
	case errors.Is(err, net.ErrClosed):
		// closed by a failed write, already logged
	default:
		l.Info("fcgi: read failed; closing connection", "remote", remote, "err", err)
	}
}

// readLoopExit closes the connection and cancels what is left on it.
func (c *conn) readLoopExit() {
	if p := recover(); p != nil {
		c.s.logger.Error("fcgi: panic in the connection loop; closing connection",
			"remote", addrString(c.remote), "panic", p, "stack", string(debug.Stack()))
	}
	c.rwc.Close()
	c.mu.Lock()
	if !c.doneClosed {
		c.doneClosed = true
		close(c.done)
	}
	var running, pending []*request
	for id, r := range c.reqs {
		if r.dispatched {
			running = append(running, r)
			continue
		}
		pending = append(pending, r)
		delete(c.reqs, id)
		c.nParams--
	}
	c.closing = true
	c.routines--
	last := c.routines == 0
	c.mu.Unlock()
	for _, r := range pending {
		c.s.activeReqs.Add(-1)
		r.releaseParamsBuf()
		r.cancel(ErrConnClosed)
	}
	for _, r := range running {
		r.abort(ErrConnClosed)
	}
	if last {
		c.release()
	}
}

// release runs once every goroutine of the connection has ended.
func (c *conn) release() {
	c.br.Reset(nil)
	readerPool.Put(c.br)
	c.br = nil
	c.s.removeConn(c)
}

// closeIfIdle closes the connection if no request is in progress (the
// first step of Shutdown); otherwise it closes after its last request.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	if len(c.reqs) > 0 || c.closing {
		c.closeWhenIdle = true
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.mu.Unlock()
	c.rwc.Close()
}

// hardClose cancels every request with cause and closes the connection.
func (c *conn) hardClose(cause error) {
	c.mu.Lock()
	c.hard = true
	var running []*request
	for _, r := range c.reqs {
		if r.dispatched {
			running = append(running, r)
		}
	}
	if !c.doneClosed {
		c.doneClosed = true
		close(c.done)
	}
	c.mu.Unlock()
	for _, r := range running {
		r.abort(cause)
	}
	c.rwc.Close()
}

// write sends b (whole records) on the connection.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

// writeReq sends b, records of request r whose first is of type typ,
// unless r has been detached: from then on nothing of its handler's
// reaches the connection (Detacher).
func (c *conn) writeReq(r *request, b []byte, typ uint8) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if r.state.Load() == reqDetached {
		return ErrRequestDetached
	}
	switch typ {
	case typeStdout:
		r.stdoutSent = true
	case typeStderr:
		r.stderrSent = true
	}
	return c.writeLocked(b)
}

func (c *conn) writeLocked(b []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if wt := c.cfg.writeTimeout; wt > 0 {
		c.rwc.SetWriteDeadline(time.Now().Add(wt))
	}
	if _, err := c.rwc.Write(b); err != nil {
		c.werr = fmt.Errorf("%w: %w", ErrConnClosed, err)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.s.logger.Warn("fcgi: write timed out; closing connection", "remote", addrString(c.remote), "write_timeout", c.cfg.writeTimeout)
		}
		c.rwc.Close() // the read loop ends and cancels the other requests
		return c.werr
	}
	return nil
}

// runRequest runs the handler of r; it owns r from dispatch to its
// FCGI_END_REQUEST, unless Detach ended r first. It reports whether r was
// detached: its goroutine then no longer belongs to the server (see
// workers.run).
func (c *conn) runRequest(r *request) (detached bool) {
	defer func() {
		detached = c.finishRequest(r, recover())
	}()
	c.s.Handler.ServeFCGI(&r.resp, &r.Request)
	return false
}

func (c *conn) finishRequest(r *request, panicked any) (detached bool) {
	if !r.state.CompareAndSwap(reqRunning, reqFinished) {
		// Detach ended the request while the handler ran: the connection
		// may be gone; only what is r's own is left to free.
		if panicked != nil {
			c.s.logger.Error("fcgi: panic in a detached handler", "request_id", r.ID, "panic", panicked, "stack", string(debug.Stack()))
		}
		r.body.close()
		r.resp.release()
		return true
	}
	if panicked != nil {
		c.s.logger.Error("fcgi: panic in handler", "remote", addrString(c.remote), "request_id", r.ID,
			"uri", r.Params["REQUEST_URI"], "panic", panicked, "stack", string(debug.Stack()))
		r.resp.failed()
	}
	r.body.close()
	c.endRequest(r, panicked == nil, func() { r.resp.finish() })
	return false
}

// detach ends r from another goroutine while its handler may still run
// (Detacher): out, if no FCGI_STDOUT went out yet, then the end of the
// streams and FCGI_END_REQUEST. The handler's context, Stdin and writes
// fail with ErrRequestDetached; its goroutine stops counting for the
// connection and for Shutdown.
func (c *conn) detach(r *request, out []byte) bool {
	if !r.state.CompareAndSwap(reqRunning, reqDetached) {
		return false
	}
	r.abort(ErrRequestDetached)
	r.body.close()
	c.s.detached.Add(1)
	c.endRequest(r, false, func() {
		// Under wmu no record of the handler's can come between: writeReq
		// sees the state first.
		c.wmu.Lock()
		defer c.wmu.Unlock()
		var b []byte
		if !r.stdoutSent && len(out) > 0 {
			b = appendStream(b, typeStdout, r.ID, out)
		}
		b = appendHeader(b, typeStdout, r.ID, 0)
		if r.stderrSent {
			b = appendHeader(b, typeStderr, r.ID, 0)
		}
		b = appendEndRequest(b, r.ID, 0, StatusRequestComplete)
		c.writeLocked(b)
	})
	c.s.workers.detached()
	return true
}

// endRequest forgets r, sends its end with send, and closes the
// connection when r was its last request and asked so. reuse gives r's
// params map to the next request.
func (c *conn) endRequest(r *request, reuse bool, send func()) {
	c.mu.Lock()
	delete(c.reqs, r.ID)
	if m := r.Params; reuse && m != nil && len(m) <= maxSpareParams {
		clear(m)
		c.spareParams = m
		r.Params = nil
	}
	if !r.stdinDone {
		r.stdinDone = true
		c.nStdin--
	}
	if len(c.reqs) == 0 {
		c.idleSince = time.Now()
	}
	closeNow := c.closeAfterLocked(r.KeepConn)
	c.applyDeadlineLocked()
	c.mu.Unlock()
	// Free its slot before FCGI_END_REQUEST goes out: the web server may
	// send the next request as soon as it reads it.
	c.s.activeReqs.Add(-1)
	send()
	r.cancel(nil)
	if closeNow {
		c.closeWrite()
	}
	c.mu.Lock()
	c.routines--
	last := c.routines == 0
	c.mu.Unlock()
	if last {
		c.release()
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
