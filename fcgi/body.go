// This file holds a request's body on the server side: FCGI_STDIN data
// buffered in memory up to StdinBuffer ahead of the handler, then either
// backpressure on the connection (when the request is alone on it) or a
// spill to an unlinked temporary file (when others share the connection),
// so that an unread body never stalls another request.

package fcgi

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// body is Request.Stdin on the server. The read loop fills it; the
// handler reads it.
type body struct {
	limit    int
	spillDir string

	mu       sync.Mutex
	buf      []byte // unread data is buf[r:]
	r        int
	spill    *os.File // set once the body spills; later data goes there
	spillW   int64    // written by the read loop only
	spillR   int64    // read by the handler only
	eof      bool
	err      error // abort or connection loss
	closed   bool  // the handler has returned: further data is dropped
	waiting  bool  // the read loop waits for room
	dataCh   chan struct{}
	spaceCh  chan struct{}
	spillErr bool // a spill file could not be made; only backpressure is left
}

func signal(ch chan struct{}) {
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Read reads the body as it arrives.
func (b *body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.mu.Lock()
	for {
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return 0, err
		}
		if b.r < len(b.buf) {
			n := copy(p, b.buf[b.r:])
			b.r += n
			if b.r == len(b.buf) {
				b.buf, b.r = b.buf[:0], 0
			}
			if b.waiting {
				signal(b.spaceCh)
			}
			b.mu.Unlock()
			return n, nil
		}
		if b.spill != nil && b.spillR < b.spillW {
			f, off, n := b.spill, b.spillR, min(int64(len(p)), b.spillW-b.spillR)
			b.mu.Unlock()
			m, err := f.ReadAt(p[:n], off)
			b.mu.Lock()
			b.spillR += int64(m)
			b.mu.Unlock()
			if err == io.EOF && m > 0 {
				err = nil
			}
			if err != nil {
				return m, fmt.Errorf("fcgi: read spilled body: %w", err)
			}
			return m, nil
		}
		if b.eof {
			b.mu.Unlock()
			return 0, io.EOF
		}
		if b.dataCh == nil {
			b.dataCh = make(chan struct{}, 1)
		}
		ch := b.dataCh
		b.mu.Unlock()
		<-ch
		b.mu.Lock()
	}
}

func (b *body) setEOF() {
	b.mu.Lock()
	b.eof = true
	signal(b.dataCh)
	b.mu.Unlock()
}

func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	signal(b.dataCh)
	b.mu.Unlock()
}

// close is called when the handler has returned.
func (b *body) close() {
	b.mu.Lock()
	b.closed = true
	b.buf, b.r = nil, 0
	if b.spill != nil {
		b.spill.Close()
		b.spill = nil
	}
	signal(b.spaceCh)
	b.mu.Unlock()
}

// fill reads the content of the FCGI_STDIN record h into the body. single
// says the request's handler runs and it is the only request on its
// connection, where waiting for the handler to read stalls no one else.
func (b *body) fill(c *conn, h header, single, dispatched bool) error {
	n := int(h.ContentLength)
	waited := false
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return c.discard(h)
		}
		queued := len(b.buf) - b.r
		if b.spill != nil || queued == 0 || queued+n <= b.limit {
			break
		}
		if !single && !b.spillErr {
			if err := b.startSpill(); err != nil {
				b.spillErr = true
				c.s.logger.Warn("fcgi: cannot spill request body to disk; waiting for the handler to read instead",
					"remote", addrString(c.remote), "err", err)
			}
			continue
		}
		if !dispatched {
			b.mu.Unlock()
			return protoErrorf("FCGI_STDIN beyond StdinBuffer before the params of request %d are complete, and no spill file", h.ID)
		}
		if b.spaceCh == nil {
			b.spaceCh = make(chan struct{}, 1)
		}
		ch := b.spaceCh
		b.waiting = true
		b.mu.Unlock()
		select {
		case <-ch:
		case <-c.done:
			return errHardClosed
		}
		waited = true
		b.mu.Lock()
		b.waiting = false
	}
	spill := b.spill
	b.mu.Unlock()
	if waited {
		// Waiting for the handler is no stall of the web server.
		c.mu.Lock()
		c.lastRead = time.Now()
		c.mu.Unlock()
	}
	for rem := n; rem > 0; {
		k := min(rem, c.br.Size())
		if bb := c.br.Buffered(); bb > 0 && bb < k {
			k = bb
		}
		p, err := c.br.Peek(k)
		if err != nil {
			return err
		}
		if spill != nil {
			_, werr := spill.WriteAt(p, b.spillW)
			b.mu.Lock()
			if werr == nil {
				b.spillW += int64(k)
			} else if !b.closed && b.err == nil {
				b.err = fmt.Errorf("fcgi: spill request body: %w", werr)
			}
			signal(b.dataCh)
			b.mu.Unlock()
		} else {
			b.mu.Lock()
			if !b.closed {
				if b.r > 0 && len(b.buf)+k > cap(b.buf) {
					m := copy(b.buf, b.buf[b.r:])
					b.buf, b.r = b.buf[:m], 0
				}
				b.buf = append(b.buf, p...)
				signal(b.dataCh)
			}
			b.mu.Unlock()
		}
		c.br.Discard(k)
		rem -= k
	}
	_, err := c.br.Discard(int(h.PaddingLength))
	return err
}

// startSpill moves further data of the body to a temporary file.
func (b *body) startSpill() error {
	f, err := os.CreateTemp(b.spillDir, "fcgi-body-*")
	if err != nil {
		return fmt.Errorf("create spill file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return fmt.Errorf("unlink spill file: %w", err)
	}
	b.spill = f
	return nil
}
