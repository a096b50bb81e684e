package host

import (
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/fcgihost/fcgihost/script"
)

// CGISink writes a response as CGI output — "Status: 200 OK", header
// lines, a blank line, the body — the form FastCGI's STDOUT and CGI's
// stdout carry. The head is held until the first body write so that a
// small response leaves in one write.
type CGISink struct {
	w    io.Writer
	http bool // an HTTP/1.1 status line instead of "Status:" (uwsgi)
	head []byte
	hp   *[]byte // head's pooled buffer
}

// NewCGISink returns a CGISink writing to w.
func NewCGISink(w io.Writer) *CGISink { return &CGISink{w: w} }

var headPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// startHead begins the head in a pooled buffer: the status line.
func (s *CGISink) startHead(status int) []byte {
	bp := headPool.Get().(*[]byte)
	s.hp = bp
	b := (*bp)[:0]
	if s.http {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "Status: "...)
	}
	b = strconv.AppendInt(b, int64(status), 10)
	if t := http.StatusText(status); t != "" {
		b = append(b, ' ')
		b = append(b, t...)
	}
	return append(b, "\r\n"...)
}

// WriteFields formats the head from fields, in their order.
func (s *CGISink) WriteFields(status int, fields []script.Field) error {
	b := s.startHead(status)
	for _, f := range fields {
		b = appendHeader(b, f.Name, f.Value)
	}
	s.head = append(b, "\r\n"...)
	return nil
}

// WriteHeader formats the head (names sorted).
func (s *CGISink) WriteHeader(status int, h http.Header) error {
	b := s.startHead(status)
	if len(h) == 1 || len(h) == 2 {
		// common case: avoid sorting
		for k, vs := range h {
			for _, v := range vs {
				b = appendHeader(b, k, v)
			}
		}
	} else {
		keys := make([]string, 0, len(h))
		for k := range h {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range h[k] {
				b = appendHeader(b, k, v)
			}
		}
	}
	s.head = append(b, "\r\n"...)
	return nil
}

func appendHeader(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// Write sends p, preceded by the head the first time.
func (s *CGISink) Write(p []byte) (int, error) {
	if s.head != nil {
		if err := s.flushHead(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return s.w.Write(p)
}

func (s *CGISink) flushHead(p []byte) error {
	head := s.head
	s.head = nil
	var err error
	if len(head)+len(p) <= cap(head) || len(p) <= 16<<10 {
		head = append(head, p...)
		_, err = s.w.Write(head)
	} else {
		if _, err = s.w.Write(head); err == nil {
			_, err = s.w.Write(p)
		}
	}
	if bp := s.hp; bp != nil && cap(head) <= 64<<10 {
		*bp = head[:0]
		headPool.Put(bp)
	}
	s.hp = nil
	return err
}

// Close sends a head that has had no body.
func (s *CGISink) Close() error {
	if s.head != nil {
		return s.flushHead(nil)
	}
	return nil
}

// Flush sends the head, if it is still held, and whatever the writer
// buffers when it can flush (the FastCGI server's ResponseWriter).
func (s *CGISink) Flush() error {
	if err := s.Close(); err != nil {
		return err
	}
	if f, ok := s.w.(script.Flusher); ok {
		return f.Flush()
	}
	return nil
}

// httpSink adapts an http.ResponseWriter.
type httpSink struct {
	w http.ResponseWriter
}

func (s *httpSink) WriteHeader(status int, h http.Header) error {
	dst := s.w.Header()
	for k, v := range h {
		dst[k] = v
	}
	s.w.WriteHeader(status)
	return nil
}

func (s *httpSink) Write(p []byte) (int, error) { return s.w.Write(p) }

// Flush sends what the ResponseWriter buffers.
func (s *httpSink) Flush() error {
	err := http.NewResponseController(s.w).Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}
