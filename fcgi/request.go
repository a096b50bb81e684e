// This file holds one request on the server side: its state, the
// ResponseWriter that turns handler output into FCGI_STDOUT/FCGI_STDERR
// records, and the end of the request (FCGI_END_REQUEST, sent exactly once).

package fcgi

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// request is the server's state of one request. The read loop owns it
// until dispatch (params complete), then the request's goroutine does.
type request struct {
	Request
	c     *conn
	rctx  *reqContext
	begin time.Time

	// Read loop only.
	pbufp *[]byte
	pbuf  []byte

	// Written under c.mu (paramsDone by the read loop, which may read it
	// without the lock).
	paramsDone bool
	dispatched bool
	stdinDone  bool

	aborted atomic.Bool
	// state says who ends the request: the handler's goroutine when the
	// handler returns (reqFinished), or Detach (reqDetached), whichever
	// comes first.
	state atomic.Uint32
	// stdoutSent and stderrSent: some FCGI_STDOUT (FCGI_STDERR) record of
	// this request has gone out. Guarded by c.wmu.
	stdoutSent, stderrSent bool
	body                   body
	resp                   response
}

// The states of a request (request.state).
const (
	reqRunning uint32 = iota
	reqFinished
	reqDetached
)

func newRequest(c *conn, id uint16, role Role, keep bool) *request {
	r := &request{c: c}
	r.ID, r.Role, r.KeepConn = id, role, keep
	r.RemoteAddr, r.LocalAddr = c.remote, c.local
	r.rctx = newReqContext()
	r.ctx = r.rctx
	if c.cfg.readTimeout > 0 {
		r.begin = time.Now()
	}
	r.Stdin = &r.body
	r.body.limit = c.cfg.stdinBuffer
	r.body.spillDir = c.cfg.spillDir
	r.resp.r = r
	return r
}

// cancel ends the request's context with cause.
func (r *request) cancel(cause error) { r.rctx.cancel(cause) }

// abort cancels the handler: its context, its Stdin and its output.
func (r *request) abort(cause error) {
	r.aborted.Store(true)
	r.cancel(cause)
	r.body.fail(cause)
}

// Output buffers. A response starts with a small one and moves to a large
// one, which holds a whole record, when its output grows.
const (
	smallBuf = 4 << 10
	largeBuf = headerLen + maxContent + tailRoom
	// tailRoom is what finish appends after the last data: padding, the
	// empty FCGI_STDOUT and FCGI_STDERR records and FCGI_END_REQUEST.
	tailRoom = 8 + headerLen + headerLen + headerLen + 8
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, 0, largeBuf); return &b }}
)

func putBuf(p *[]byte, b []byte) {
	*p = b[:0]
	if cap(b) >= largeBuf {
		largePool.Put(p)
	} else {
		smallPool.Put(p)
	}
}

// response is the ResponseWriter of one request. Stdout is gathered in
// buf after room for a record header and sent when a record is full, on
// Flush, or with FCGI_END_REQUEST by finish.
type response struct {
	r          *request
	bufp       *[]byte
	buf        []byte // buf[:headerLen] is the header of the record being filled
	sent       bool   // some stdout left already
	stderrUsed bool
	done       bool
}

var (
	_ ResponseWriter  = (*response)(nil)
	_ Flusher         = (*response)(nil)
	_ Detacher        = (*response)(nil)
	_ io.StringWriter = (*response)(nil)
)

func (w *response) check() error {
	if w.done {
		return ErrRequestDone
	}
	if w.r.aborted.Load() {
		return context.Cause(w.r.ctx)
	}
	return nil
}

// Write appends p to the request's FCGI_STDOUT.
func (w *response) Write(p []byte) (int, error) { return writeOut(w, p) }

// WriteString appends s to the request's FCGI_STDOUT without converting it.
func (w *response) WriteString(s string) (int, error) { return writeOut(w, s) }

func writeOut[T string | []byte](w *response, p T) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if w.bufp == nil {
		if len(p) > smallBuf-headerLen-tailRoom {
			w.bufp = largePool.Get().(*[]byte)
		} else {
			w.bufp = smallPool.Get().(*[]byte)
		}
		w.buf = append((*w.bufp)[:0], zeros[:headerLen]...)
	}
	written := 0
	for len(p) > 0 {
		room := headerLen + maxContent - len(w.buf)
		if room == 0 {
			if err := w.emit(); err != nil {
				return written, err
			}
			continue
		}
		k := min(room, len(p))
		if len(w.buf)+k > cap(w.buf)-tailRoom {
			w.grow()
		}
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		written += k
	}
	return written, nil
}

// grow moves the output to a large buffer.
func (w *response) grow() {
	lp := largePool.Get().(*[]byte)
	nb := append((*lp)[:0], w.buf...)
	putBuf(w.bufp, w.buf)
	w.bufp, w.buf = lp, nb
}

// emit sends the gathered stdout as one record.
func (w *response) emit() error {
	n := len(w.buf) - headerLen
	if n <= 0 {
		return nil
	}
	putHeader(w.buf, typeStdout, w.r.ID, n)
	out := append(w.buf, zeros[:padLen(n)]...)
	w.buf = w.buf[:headerLen]
	w.sent = true
	return w.r.c.writeReq(w.r, out, typeStdout)
}

// Flush sends the gathered stdout now.
func (w *response) Flush() error {
	if err := w.check(); err != nil {
		return err
	}
	if w.bufp == nil {
		return nil
	}
	return w.emit()
}

// Stderr returns the writer to FCGI_STDERR.
func (w *response) Stderr() io.Writer { return stderrWriter{w} }

type stderrWriter struct{ w *response }

// Write sends p as FCGI_STDERR records at once.
func (s stderrWriter) Write(p []byte) (int, error) {
	w := s.w
	if err := w.check(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	w.stderrUsed = true
	bp := smallPool.Get().(*[]byte)
	out := appendStream((*bp)[:0], typeStderr, w.r.ID, p)
	err := w.r.c.writeReq(w.r, out, typeStderr)
	putBuf(bp, out)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// failed replaces the output of a panicked handler by a 500 when nothing
// has been sent yet.
func (w *response) failed() {
	if w.sent || w.done {
		return
	}
	if w.bufp != nil {
		w.buf = w.buf[:headerLen]
	}
	w.Write([]byte("Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInternal Server Error\n"))
}

// finish sends what is left of stdout, the empty records that end the
// streams, and FCGI_END_REQUEST, in one write.
func (w *response) finish() {
	if w.done {
		return
	}
	w.done = true
	if w.bufp == nil {
		w.bufp = smallPool.Get().(*[]byte)
		w.buf = (*w.bufp)[:0]
	} else if n := len(w.buf) - headerLen; n > 0 && !w.r.aborted.Load() {
		putHeader(w.buf, typeStdout, w.r.ID, n)
		w.buf = append(w.buf, zeros[:padLen(n)]...)
	} else {
		w.buf = w.buf[:0]
	}
	out := appendHeader(w.buf, typeStdout, w.r.ID, 0)
	if w.stderrUsed {
		out = appendHeader(out, typeStderr, w.r.ID, 0)
	}
	out = appendEndRequest(out, w.r.ID, 0, StatusRequestComplete)
	w.r.c.writeReq(w.r, out, typeEndRequest)
	putBuf(w.bufp, out)
	w.bufp, w.buf = nil, nil
}

// release frees the output buffer of a detached request once its handler
// has returned; nothing is written.
func (w *response) release() {
	w.done = true
	if w.bufp != nil {
		putBuf(w.bufp, w.buf)
		w.bufp, w.buf = nil, nil
	}
}

// Detach ends the request now; see Detacher.
func (w *response) Detach(out []byte) bool { return w.r.c.detach(w.r, out) }
