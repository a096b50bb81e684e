// This file holds the Client: a FastCGI client that dials TCP or unix
// sockets, sends params and a streamed body, reads FCGI_STDOUT,
// FCGI_STDERR and FCGI_END_REQUEST, keeps keep-conn connections for reuse
// and can multiplex concurrent requests on one connection.

package fcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrClientClosed is returned by Do after Close.
var ErrClientClosed = errors.New("fcgi: client closed")

// ProtocolError is a breach of the FastCGI protocol or of the CGI response
// format; Side says who broke it: "server" (the FastCGI application) or
// "client".
type ProtocolError struct {
	Side string
	Msg  string
}

func (e *ProtocolError) Error() string {
	return "fcgi: protocol error by the " + e.Side + ": " + e.Msg
}

func serverBroke(format string, args ...any) error {
	return &ProtocolError{Side: "server", Msg: fmt.Sprintf(format, args...)}
}

// RefusedError is returned by Do when the application ends a request
// without answering it: FCGI_CANT_MPX_CONN, FCGI_OVERLOADED or
// FCGI_UNKNOWN_ROLE.
type RefusedError struct {
	ProtocolStatus uint8
	AppStatus      uint32
}

func (e *RefusedError) Error() string {
	return "fcgi: request refused by the server: " + StatusName(e.ProtocolStatus)
}

// Client is a FastCGI client. Its zero value with Addr set is usable; it
// is safe for concurrent use. Set the fields before the first request.
type Client struct {
	// Network is "tcp" or "unix"; empty: derived from Addr.
	Network string
	// Addr takes the forms Listen takes: "127.0.0.1:9000", "[::1]:9000",
	// "unix:/run/app.sock" (or an absolute path).
	Addr string
	// KeepConn sets FCGI_KEEP_CONN and keeps connections for reuse.
	KeepConn bool
	// Multiplex sends concurrent requests over one connection (for
	// servers that report FCGI_MPXS_CONNS=1; php-fpm does not). Implies
	// KeepConn.
	Multiplex bool
	// MaxIdle is the number of idle keep-conn connections kept; 0: 16.
	MaxIdle int
	// MaxConcurrentPerConn is the number of requests in flight on one
	// multiplexed connection before another is dialled; 0: 128.
	MaxConcurrentPerConn int
	// Dialer dials connections; nil: a net.Dialer with a 10s timeout.
	Dialer *net.Dialer
	// MaxHeaderBytes bounds the CGI header block of a response; 0: 1 MiB.
	MaxHeaderBytes int

	mu     sync.Mutex
	dialMu sync.Mutex // one dial at a time for the multiplexed connection
	idle   []*clientConn
	mux    []*clientConn
	conns  map[*clientConn]struct{}
	closed bool
	wg     sync.WaitGroup // reader goroutines
}

// ClientRequest is one request to send.
type ClientRequest struct {
	Role   Role // 0: RoleResponder
	Params map[string]string
	Body   io.Reader // nil: empty
}

// ClientResponse is the answer to a request. Do returns once the CGI head
// is in; Body streams the rest. Stderr, AppStatus and ProtocolStatus are
// complete once Body has returned io.EOF (ReadAll does that).
type ClientResponse struct {
	Status         int
	Header         http.Header
	Body           io.ReadCloser
	Stderr         []byte
	AppStatus      uint32
	ProtocolStatus uint8
}

// ReadAll reads and closes the body and returns it.
func (r *ClientResponse) ReadAll() ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if cerr := r.Body.Close(); err == nil {
		err = cerr
	}
	return b, err
}

// network splits Addr into a network and an address.
func (c *Client) network() (string, string) {
	if c.Network != "" {
		return c.Network, c.Addr
	}
	return splitAddr(c.Addr)
}

func splitAddr(addr string) (network, address string) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix", p
	}
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "@") {
		return "unix", addr
	}
	return "tcp", strings.TrimPrefix(addr, "tcp:")
}

const (
	defaultMaxIdle     = 16
	defaultMaxPerConn  = 128
	defaultMaxHeader   = 1 << 20
	clientMaxBuffered  = 1 << 20 // unread stdout held before the reader waits
	clientStderrCap    = 1 << 20
	clientWriteChunk   = 32 << 10
	clientRecordBuffer = headerLen + maxContent + 8
)

// Do sends req and returns the response once its CGI head has arrived.
// Cancelling ctx aborts the request (FCGI_ABORT_REQUEST on a multiplexed
// connection, else closing the connection) until Body is closed.
func (c *Client) Do(ctx context.Context, req *ClientRequest) (*ClientResponse, error) {
	role := req.Role
	if role == 0 {
		role = RoleResponder
	}
	for attempt := 0; ; attempt++ {
		cc, reused, err := c.getConn(ctx)
		if err != nil {
			return nil, err
		}
		r := cc.newReq()
		stop := context.AfterFunc(ctx, func() { cc.abort(r, ctx) })
		werr := cc.send(r, role, req)
		resp, err := r.waitHead(ctx, c.maxHeader())
		if err != nil {
			stop()
			r.discardRest()
			if werr != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				var pe *ProtocolError
				if !errors.As(err, &pe) || pe.Msg == msgClosedEarly {
					err = werr
				}
			}
			if reused && attempt == 0 && req.Body == nil && r.gotNothing() && ctx.Err() == nil && isConnLoss(err) {
				continue
			}
			return nil, err
		}
		resp.Body = &clientBody{r: r, resp: resp, stop: stop}
		r.fillEnd(resp)
		return resp, nil
	}
}

const msgClosedEarly = "connection closed before FCGI_END_REQUEST"

func isConnLoss(err error) bool {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Msg == msgClosedEarly
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset")
}

func (c *Client) maxHeader() int {
	if c.MaxHeaderBytes > 0 {
		return c.MaxHeaderBytes
	}
	return defaultMaxHeader
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	d := c.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 10 * time.Second}
	}
	network, addr := c.network()
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("fcgi: dial %s %s: %w", network, addr, err)
	}
	return nc, nil
}

// getConn returns a connection with room for one more request, and
// whether it had been used before.
func (c *Client) getConn(ctx context.Context) (*clientConn, bool, error) {
	maxPer := c.MaxConcurrentPerConn
	if maxPer <= 0 {
		maxPer = defaultMaxPerConn
	}
	maxPer = min(maxPer, 65535) // request ids

	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, false, ErrClientClosed
		}
		if c.Multiplex {
			for _, cc := range c.mux {
				if cc.inflight < maxPer && cc.usable() {
					cc.inflight++
					c.mu.Unlock()
					return cc, true, nil
				}
			}
		} else if n := len(c.idle); n > 0 {
			cc := c.idle[n-1]
			c.idle = c.idle[:n-1]
			c.mu.Unlock()
			if !cc.usable() {
				cc.close()
				continue
			}
			cc.inflight = 1
			return cc, true, nil
		}
		c.mu.Unlock()
		if !c.Multiplex {
			break
		}
		// One dial at a time for multiplexed connections; then look again.
		c.dialMu.Lock()
		c.mu.Lock()
		found := false
		for _, cc := range c.mux {
			if cc.inflight < maxPer && cc.usable() {
				found = true
			}
		}
		c.mu.Unlock()
		if found {
			c.dialMu.Unlock()
			continue
		}
		cc, err := c.newConn(ctx)
		c.dialMu.Unlock()
		return cc, false, err
	}
	cc, err := c.newConn(ctx)
	return cc, false, err
}

func (c *Client) newConn(ctx context.Context) (*clientConn, error) {
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	cc := &clientConn{
		cl:       c,
		nc:       nc,
		keep:     c.KeepConn || c.Multiplex,
		mux:      c.Multiplex,
		reqs:     make(map[uint16]*clientReq),
		done:     make(chan struct{}),
		inflight: 1,
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return nil, ErrClientClosed
	}
	if c.conns == nil {
		c.conns = make(map[*clientConn]struct{})
	}
	c.conns[cc] = struct{}{}
	if cc.mux {
		c.mux = append(c.mux, cc)
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go cc.readLoop()
	return cc, nil
}

// release takes back a connection after a request has fully ended; a
// connection whose request failed part way is not reused.
func (c *Client) release(cc *clientConn, discard bool) {
	c.mu.Lock()
	cc.inflight--
	if cc.mux {
		c.mu.Unlock()
		if !cc.usable() {
			cc.close()
		}
		return
	}
	maxIdle := c.MaxIdle
	if maxIdle <= 0 {
		maxIdle = defaultMaxIdle
	}
	if discard || c.closed || !cc.keep || !cc.usable() || len(c.idle) >= maxIdle {
		c.mu.Unlock()
		cc.close()
		return
	}
	c.idle = append(c.idle, cc)
	c.mu.Unlock()
}

// forget drops a closed connection from the client's lists.
func (c *Client) forget(cc *clientConn) {
	c.mu.Lock()
	delete(c.conns, cc)
	for i, x := range c.idle {
		if x == cc {
			c.idle = append(c.idle[:i], c.idle[i+1:]...)
			break
		}
	}
	for i, x := range c.mux {
		if x == cc {
			c.mux = append(c.mux[:i], c.mux[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
}

// CloseIdleConnections closes the keep-conn connections not in use.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cc := range idle {
		cc.close()
	}
}

// Close closes every connection and waits for their reader goroutines.
// Requests in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := make([]*clientConn, 0, len(c.conns))
	for cc := range c.conns {
		conns = append(conns, cc)
	}
	c.idle, c.mux = nil, nil
	c.mu.Unlock()
	for _, cc := range conns {
		cc.close()
	}
	c.wg.Wait()
	return nil
}

// GetValues asks the application for the named variables (FCGI_MAX_CONNS,
// FCGI_MAX_REQS, FCGI_MPXS_CONNS) on a connection of its own.
func (c *Client) GetValues(ctx context.Context, names ...string) (map[string]string, error) {
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var pairs []byte
	for _, n := range names {
		pairs = appendPair(pairs, n, "")
	}
	if len(pairs) > maxContent {
		return nil, errors.New("fcgi: FCGI_GET_VALUES names too long for one record")
	}
	if _, err := nc.Write(appendRecord(nil, typeGetValues, 0, pairs)); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("fcgi: send FCGI_GET_VALUES: %w", err))
	}
	br := bufio.NewReader(nc)
	var hb [headerLen]byte
	for {
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, serverBroke("connection closed before FCGI_GET_VALUES_RESULT")
			}
			return nil, ctxErr(ctx, fmt.Errorf("fcgi: read FCGI_GET_VALUES_RESULT: %w", err))
		}
		h := parseHeader(hb[:])
		if h.Version != version1 {
			return nil, serverBroke("record version %d, want 1", h.Version)
		}
		content := make([]byte, int(h.ContentLength)+int(h.PaddingLength))
		if _, err := io.ReadFull(br, content); err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("fcgi: read FCGI_GET_VALUES_RESULT: %w", err))
		}
		content = content[:h.ContentLength]
		switch h.Type {
		case typeGetValuesResult:
			m, err := DecodeParams(content)
			if err != nil {
				return nil, serverBroke("malformed FCGI_GET_VALUES_RESULT: %v", err)
			}
			return m, nil
		case typeUnknownType:
			return nil, serverBroke("FCGI_GET_VALUES answered with FCGI_UNKNOWN_TYPE")
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// clientConn is one connection of a Client, with a reader goroutine that
// hands each record to its request.
type clientConn struct {
	cl   *Client
	nc   net.Conn
	keep bool
	mux  bool
	done chan struct{} // closed when the reader ends

	inflight int // guarded by cl.mu

	wmu sync.Mutex // serialises writes of whole records

	mu     sync.Mutex
	reqs   map[uint16]*clientReq
	nextID uint16
	broken error // set when the connection can no longer be used
}

func (cc *clientConn) usable() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.broken == nil
}

func (cc *clientConn) close() {
	cc.mu.Lock()
	if cc.broken == nil {
		cc.broken = net.ErrClosed
	}
	cc.mu.Unlock()
	cc.nc.Close()
}

// newReq registers a request with a free id.
func (cc *clientConn) newReq() *clientReq {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	id := uint16(1)
	if cc.mux {
		for {
			cc.nextID++
			if cc.nextID == 0 {
				cc.nextID = 1
			}
			if _, used := cc.reqs[cc.nextID]; !used {
				id = cc.nextID
				break
			}
		}
	}
	r := &clientReq{id: id, cc: cc, notify: make(chan struct{}, 1)}
	if cc.broken != nil {
		r.err = cc.broken
		r.readDone, r.halves = true, 1 // there will be no FCGI_END_REQUEST
	}
	cc.reqs[id] = r
	return r
}

func (cc *clientConn) write(b []byte) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	_, err := cc.nc.Write(b)
	return err
}

var (
	clientBufPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}
	bodyBufPool   = sync.Pool{New: func() any { b := make([]byte, headerLen+clientWriteChunk+8); return &b }}
)

func putClientBuf(p *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*p = b[:0]
		clientBufPool.Put(p)
	}
}

// send writes the request: FCGI_BEGIN_REQUEST, FCGI_PARAMS and FCGI_STDIN,
// streaming the body. It always ends r's writing half.
func (cc *clientConn) send(r *clientReq, role Role, req *ClientRequest) (err error) {
	defer cc.endHalf(r)
	defer func() {
		if err != nil {
			cc.mu.Lock()
			if cc.broken == nil {
				cc.broken = err
			}
			cc.mu.Unlock()
		}
	}()
	pp, op := clientBufPool.Get().(*[]byte), clientBufPool.Get().(*[]byte)
	pairs := EncodeParams((*pp)[:0], req.Params)
	out := appendBeginRequest((*op)[:0], r.id, role, cc.keep)
	out = appendStream(out, typeParams, r.id, pairs)
	out = appendHeader(out, typeParams, r.id, 0)
	if req.Body == nil {
		out = appendHeader(out, typeStdin, r.id, 0)
	}
	putClientBuf(pp, pairs)
	if req.Body == nil {
		werr := cc.write(out)
		putClientBuf(op, out)
		if werr != nil {
			return fmt.Errorf("fcgi: send request: %w", werr)
		}
		return nil
	}
	// The request's head goes out in one write with the first chunk of
	// the body, and with the closing empty FCGI_STDIN when the body fits
	// in that chunk: one write for a typical request, and no late
	// FCGI_STDIN record that a responder answering before it reads its
	// input (libfcgi does) would take for the start of the next request.
	pending := out
	defer func() { putClientBuf(op, out) }()
	bp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bp)
	buf := *bp
	flush := func() error {
		if pending == nil {
			return nil
		}
		werr := cc.write(pending)
		out, pending = pending, nil // out is returned to the pool
		if werr != nil {
			return fmt.Errorf("fcgi: send request: %w", werr)
		}
		return nil
	}
	for {
		n, rerr := io.ReadFull(req.Body, buf[headerLen:headerLen+clientWriteChunk])
		eof := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if n > 0 {
			putHeader(buf, typeStdin, r.id, n)
			rec := append(buf[:headerLen+n], zeros[:padLen(n)]...)
			if pending != nil {
				pending = append(pending, rec...)
			} else {
				if r.isDone() {
					return nil // answered already; the rest of the body is moot
				}
				if err := cc.write(rec); err != nil {
					return fmt.Errorf("fcgi: send request body: %w", err)
				}
			}
		}
		if eof {
			break
		}
		if rerr != nil {
			if err := flush(); err != nil {
				return err
			}
			cc.abortRecord(r)
			return fmt.Errorf("fcgi: read request body (client side): %w", rerr)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if pending != nil {
		pending = appendHeader(pending, typeStdin, r.id, 0)
		return flush()
	}
	if err := cc.write(appendHeader(nil, typeStdin, r.id, 0)); err != nil {
		return fmt.Errorf("fcgi: send request body: %w", err)
	}
	return nil
}

// abortRecord sends FCGI_ABORT_REQUEST for r.
func (cc *clientConn) abortRecord(r *clientReq) {
	cc.write(appendRecord(nil, typeAbortRequest, r.id, nil))
}

// abort is called when the request's context ends before its body is
// closed.
func (cc *clientConn) abort(r *clientReq, ctx context.Context) {
	if !r.fail(ctx.Err()) {
		return // it ended first; its connection may be serving another request
	}
	if cc.mux {
		cc.abortRecord(r)
		return
	}
	cc.close()
}

// endHalf marks one of the two halves of r (writing the request, reading
// up to FCGI_END_REQUEST) done; after both the id is free again.
func (cc *clientConn) endHalf(r *clientReq) {
	r.mu.Lock()
	r.halves++
	both := r.halves == 2
	r.mu.Unlock()
	if !both {
		return
	}
	cc.mu.Lock()
	if cc.reqs[r.id] == r {
		delete(cc.reqs, r.id)
	}
	cc.mu.Unlock()
	r.mu.Lock()
	failed := r.err != nil
	r.mu.Unlock()
	cc.cl.release(cc, failed && !cc.mux)
}

// readLoop reads records until the connection fails.
func (cc *clientConn) readLoop() {
	defer cc.cl.wg.Done()
	defer cc.cl.forget(cc)
	defer close(cc.done)
	br := bufio.NewReaderSize(cc.nc, 16<<10)
	var hb [headerLen]byte
	buf := make([]byte, maxContent+256)
	for {
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = serverBroke(msgClosedEarly)
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				err = serverBroke("connection closed in the middle of a record")
			} else {
				err = fmt.Errorf("fcgi: read response: %w", err)
			}
			cc.failAll(err)
			return
		}
		h := parseHeader(hb[:])
		if h.Version != version1 {
			cc.failAll(serverBroke("record version %d, want 1", h.Version))
			return
		}
		content := buf[:int(h.ContentLength)+int(h.PaddingLength)]
		if _, err := io.ReadFull(br, content); err != nil {
			cc.failAll(serverBroke("connection closed in the middle of a record"))
			return
		}
		content = content[:h.ContentLength]
		if err := cc.dispatch(h, content); err != nil {
			cc.failAll(err)
			return
		}
	}
}

func (cc *clientConn) dispatch(h header, content []byte) error {
	switch h.Type {
	case typeStdout, typeStderr, typeEndRequest:
	case typeGetValuesResult, typeUnknownType:
		return nil
	default:
		return serverBroke("unexpected %s record from the application", typeName(h.Type))
	}
	cc.mu.Lock()
	r := cc.reqs[h.ID]
	cc.mu.Unlock()
	if r == nil {
		return nil // aborted or unknown id
	}
	switch h.Type {
	case typeStdout:
		r.stdout(content, cc.done)
	case typeStderr:
		r.mu.Lock()
		if len(r.stderr) < clientStderrCap {
			r.stderr = append(r.stderr, content[:min(len(content), clientStderrCap-len(r.stderr))]...)
		}
		r.mu.Unlock()
	case typeEndRequest:
		if len(content) != 8 {
			return serverBroke("FCGI_END_REQUEST with %d content bytes, want 8", len(content))
		}
		if !cc.keep {
			cc.mu.Lock()
			if cc.broken == nil {
				cc.broken = errors.New("fcgi: connection without keep-conn")
			}
			cc.mu.Unlock()
		}
		// Free the connection before the caller can see the end of the
		// body: a caller that sends its next request at once must find it
		// idle rather than dial another, which a php-fpm child held by this
		// idle one would never accept (bench stalled until its timeout).
		if r.markReadDone() {
			cc.endHalf(r)
		}
		r.end(uint32(content[0])<<24|uint32(content[1])<<16|uint32(content[2])<<8|uint32(content[3]), content[4])
	}
	return nil
}

// failAll marks the connection broken and fails its requests.
func (cc *clientConn) failAll(err error) {
	cc.mu.Lock()
	if cc.broken == nil {
		cc.broken = err
	}
	var rs []*clientReq
	for _, r := range cc.reqs {
		rs = append(rs, r)
	}
	cc.mu.Unlock()
	cc.nc.Close()
	for _, r := range rs {
		r.fail(err)
		if r.markReadDone() {
			cc.endHalf(r)
		}
	}
}

// clientReq is the client's state of one request.
type clientReq struct {
	id uint16
	cc *clientConn

	mu        sync.Mutex
	out       []byte // stdout not yet read is out[r:]
	r         int
	got       bool // any stdout or stderr arrived
	stderr    []byte
	ended     bool
	appStatus uint32
	proto     uint8
	err       error
	discard   bool // the body was closed: drop stdout
	halves    int
	readDone  bool // FCGI_END_REQUEST or the connection's failure was seen
	notify    chan struct{}
	space     chan struct{}
	waiting   bool
}

func (r *clientReq) isDone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended || r.err != nil
}

// markReadDone reports whether this is the first end of r's reading half.
func (r *clientReq) markReadDone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readDone {
		return false
	}
	r.readDone = true
	return true
}

func (r *clientReq) gotNothing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.got
}

// stdout takes FCGI_STDOUT content; it waits while too much is unread.
func (r *clientReq) stdout(p []byte, connDone chan struct{}) {
	r.mu.Lock()
	r.got = true
	for !r.discard && r.err == nil && len(r.out)-r.r > clientMaxBuffered {
		if r.space == nil {
			r.space = make(chan struct{}, 1)
		}
		ch := r.space
		r.waiting = true
		r.mu.Unlock()
		select {
		case <-ch:
		case <-connDone:
		}
		r.mu.Lock()
		r.waiting = false
	}
	if !r.discard && r.err == nil && len(p) > 0 {
		if r.r > 0 && len(r.out)+len(p) > cap(r.out) {
			n := copy(r.out, r.out[r.r:])
			r.out, r.r = r.out[:n], 0
		}
		r.out = append(r.out, p...)
	}
	signal(r.notify)
	r.mu.Unlock()
}

func (r *clientReq) end(appStatus uint32, proto uint8) {
	r.mu.Lock()
	r.ended, r.appStatus, r.proto = true, appStatus, proto
	signal(r.notify)
	r.mu.Unlock()
}

// fail ends r with err unless it has ended (or its FCGI_END_REQUEST has
// been read and its connection released); it reports whether it did.
func (r *clientReq) fail(err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.err != nil || r.readDone {
		return false
	}
	r.err = err
	signal(r.notify)
	signal(r.space)
	return true
}

// discardRest drops any further stdout of r.
func (r *clientReq) discardRest() {
	r.mu.Lock()
	r.discard = true
	r.out, r.r = nil, 0
	signal(r.space)
	r.mu.Unlock()
}

// waitHead waits for the CGI head and parses it.
func (r *clientReq) waitHead(ctx context.Context, maxHeader int) (*ClientResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.err != nil {
			return nil, r.err
		}
		pending := r.out[r.r:]
		end, sep := headEnd(pending)
		if end < 0 && len(pending) > maxHeader {
			return nil, serverBroke("CGI header block longer than %d bytes", maxHeader)
		}
		if end < 0 && r.ended {
			if r.proto != StatusRequestComplete {
				return nil, &RefusedError{ProtocolStatus: r.proto, AppStatus: r.appStatus}
			}
			if len(pending) == 0 {
				return nil, serverBroke("response has no CGI header block (empty FCGI_STDOUT)")
			}
			end, sep = len(pending), 0 // a head without the blank line
		}
		if end >= 0 {
			status, hdr, err := parseCGIHead(pending[:end])
			if err != nil {
				return nil, err
			}
			r.r += end + sep
			return &ClientResponse{Status: status, Header: hdr}, nil
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-ctx.Done():
			r.cc.abort(r, ctx) // as the AfterFunc does; whichever runs first acts
		}
		r.mu.Lock()
	}
}

// fillEnd copies the end of the request into resp once it has ended.
func (r *clientReq) fillEnd(resp *ClientResponse) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ended {
		return false
	}
	resp.Stderr, resp.AppStatus, resp.ProtocolStatus = r.stderr, r.appStatus, r.proto
	return true
}

// clientBody streams the rest of FCGI_STDOUT.
type clientBody struct {
	r      *clientReq
	resp   *ClientResponse
	stop   func() bool
	closed bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("fcgi: read on closed response body")
	}
	r := b.r
	r.mu.Lock()
	for {
		if r.r < len(r.out) {
			n := copy(p, r.out[r.r:])
			r.r += n
			if r.r == len(r.out) {
				r.out, r.r = r.out[:0], 0
			}
			if r.waiting {
				signal(r.space)
			}
			r.mu.Unlock()
			return n, nil
		}
		if r.err != nil {
			err := r.err
			r.mu.Unlock()
			return 0, err
		}
		if r.ended {
			r.mu.Unlock()
			b.resp.Stderr, b.resp.AppStatus, b.resp.ProtocolStatus = r.stderr, r.appStatus, r.proto
			b.stop()
			return 0, io.EOF
		}
		r.mu.Unlock()
		<-r.notify
		r.mu.Lock()
	}
}

// Close ends the body; a request still running is aborted.
func (b *clientBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.stop()
	r := b.r
	if r.fail(errors.New("fcgi: response body closed")) {
		if r.cc.mux {
			r.cc.abortRecord(r)
		} else {
			r.cc.close()
		}
	}
	r.discardRest()
	b.r.fillEnd(b.resp)
	return nil
}
