package script

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sink is where a Response goes: the host adapts it to FastCGI stdout
// (a CGI header block, then the body) or to an http.ResponseWriter.
type Sink interface {
	// WriteHeader sends the status and headers; called once, before any
	// Write.
	WriteHeader(status int, h http.Header) error
	// Write sends body bytes.
	Write(p []byte) (int, error)
}

// FieldSink is a Sink that also takes the head as the list of fields the
// script set, in order, so that no header map is built per response (the
// CGI sink writes them out as they are). A Response uses WriteFields
// instead of WriteHeader when its sink has it.
type FieldSink interface {
	Sink
	WriteFields(status int, fields []Field) error
}

// Field is one header line of a response: a canonical name and a value.
// A name appears once per value (Set-Cookie may repeat).
type Field struct {
	Name, Value string
}

// FieldsHeader returns fields as an http.Header.
func FieldsHeader(fields []Field) http.Header {
	h := make(http.Header, len(fields))
	for _, f := range fields {
		h[f.Name] = append(h[f.Name], f.Value)
	}
	return h
}

// ErrResponseTooLarge is returned by Write once the body passes the app's
// max response size; the response is cut there.
var ErrResponseTooLarge = errors.New("response body exceeds max_response")

// ErrHeadersSent is returned when a script changes the status or headers
// after the body started streaming.
var ErrHeadersSent = errors.New("headers already sent")

// flushThreshold is how much body a Response buffers before it commits the
// head and streams: small responses go out in one record with a
// Content-Length, large ones stream.
const flushThreshold = 64 << 10

// Response is what a script builds. It buffers the head and the first
// flushThreshold bytes of the body, then streams. Not safe for concurrent
// use (one VM owns it).
//
// The host reuses a Response once VM.Serve has returned: an engine must
// not use it after that (a res object a script kept must fail).
type Response struct {
	sink    Sink
	status  int
	fields  []Field // the head, in the order set
	fbuf    [3]Field
	buf     []byte
	bbuf    [256]byte // buf's first array
	written int64
	max     int64
	head    bool // HEAD request: body discarded
	sent    bool // head sent to the sink
	cut     bool
	ended   bool // End was called
}

// NewResponse makes a Response writing to sink. maxBody ≤ 0 means
// unlimited; isHead discards the body (HEAD requests).
func NewResponse(sink Sink, maxBody int64, isHead bool) *Response {
	r := &Response{}
	r.Init(sink, maxBody, isHead)
	return r
}

// Init makes r a new Response, as NewResponse does, for a Response held
// inside a larger struct (one allocation per request instead of two).
func (r *Response) Init(sink Sink, maxBody int64, isHead bool) {
	*r = Response{sink: sink, status: 200, max: maxBody, head: isHead}
	r.fields = r.fbuf[:0]
	r.buf = r.bbuf[:0]
}

// Status returns the status so far.
func (r *Response) Status() int { return r.status }

// Header returns a copy of the headers set so far (canonical keys).
func (r *Response) Header() http.Header { return FieldsHeader(r.fields) }

// HeaderValue returns the first value of the named header, or "".
func (r *Response) HeaderValue(name string) string {
	k := headerKey(name)
	for _, f := range r.fields {
		if f.Name == k {
			return f.Value
		}
	}
	return ""
}

// set replaces every value of the header with canonical name k by v.
func (r *Response) set(k, v string) {
	out := r.fields[:0]
	placed := false
	for _, f := range r.fields {
		if f.Name == k {
			if placed {
				continue
			}
			f.Value, placed = v, true
		}
		out = append(out, f)
	}
	if !placed {
		out = append(out, Field{k, v})
	}
	r.fields = out
}

// HeadersSent reports whether the head went out (the body is streaming).
func (r *Response) HeadersSent() bool { return r.sent }

// Written is the number of body bytes accepted so far.
func (r *Response) Written() int64 { return r.written }

// SetStatus sets the status code (100–999).
func (r *Response) SetStatus(code int) error {
	if r.sent {
		return ErrHeadersSent
	}
	if code < 100 || code > 999 {
		return fmt.Errorf("status %d out of range", code)
	}
	r.status = code
	return nil
}

// SetHeader replaces a header. Names and values with CR, LF or NUL are
// refused (header injection).
func (r *Response) SetHeader(name, value string) error {
	if err := checkHeader(name, value); err != nil {
		return err
	}
	if r.sent {
		return ErrHeadersSent
	}
	r.set(headerKey(name), value)
	return nil
}

// AddHeader adds one more value of a header (Set-Cookie).
func (r *Response) AddHeader(name, value string) error {
	if err := checkHeader(name, value); err != nil {
		return err
	}
	if r.sent {
		return ErrHeadersSent
	}
	r.fields = append(r.fields, Field{headerKey(name), value})
	return nil
}

// headerKey is the canonical form of a header name, except that a
// FastCGI Authorizer's "Variable-NAME" keeps NAME as written: the web
// server makes NAME an environment variable of the protected request, and
// environment names are case-sensitive ("Variable-AUTH_USER" must not
// become "Auth_user").
func headerKey(name string) string {
	const prefix = "Variable-"
	if len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
		return prefix + name[len(prefix):]
	}
	return http.CanonicalHeaderKey(name)
}

func checkHeader(name, value string) error {
	if name == "" || strings.ContainsAny(name, "\r\n\x00: \t") {
		return fmt.Errorf("invalid header name %q", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("invalid value for header %s: contains CR, LF or NUL", name)
	}
	return nil
}

// CookieOptions are res.cookie's options.
type CookieOptions struct {
	Path     string
	Domain   string
	MaxAge   int // seconds; 0 = session cookie; <0 = delete
	Expires  time.Time
	HTTPOnly bool
	Secure   bool
	SameSite string // "Lax", "Strict", "None" or ""
}

// SetCookie adds a Set-Cookie header.
func (r *Response) SetCookie(name, value string, o CookieOptions) error {
	c := &http.Cookie{Name: name, Value: value, Path: o.Path, Domain: o.Domain,
		MaxAge: o.MaxAge, Expires: o.Expires, HttpOnly: o.HTTPOnly, Secure: o.Secure}
	switch strings.ToLower(o.SameSite) {
	case "":
	case "lax":
		c.SameSite = http.SameSiteLaxMode
	case "strict":
		c.SameSite = http.SameSiteStrictMode
	case "none":
		c.SameSite = http.SameSiteNoneMode
	default:
		return fmt.Errorf("cookie %s: sameSite must be Lax, Strict or None, not %q", name, o.SameSite)
	}
	if err := c.Valid(); err != nil {
		return fmt.Errorf("cookie %s: %w", name, err)
	}
	return r.AddHeader("Set-Cookie", c.String())
}

// Redirect sets Location and the status (default 302).
func (r *Response) Redirect(url string, code int) error {
	if code == 0 {
		code = http.StatusFound
	}
	if code < 300 || code > 399 {
		return fmt.Errorf("redirect status %d is not 3xx", code)
	}
	if err := r.SetHeader("Location", url); err != nil {
		return err
	}
	return r.SetStatus(code)
}

// JSON sets Content-Type application/json (unless set) and writes v
// encoded. v is a generic Go value as produced by the engines.
func (r *Response) JSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("res.json: %w", err)
	}
	return r.WriteJSONBytes(b)
}

// WriteJSONBytes writes already-encoded JSON with its content type.
func (r *Response) WriteJSONBytes(b []byte) error {
	if !r.sent {
		r.set("Content-Type", "application/json")
	}
	_, err := r.Write(b)
	return err
}

// WriteString appends s to the body.
func (r *Response) WriteString(s string) (int, error) {
	if !r.cut && !r.ended && !r.head && !r.sent && len(r.buf)+len(s) <= flushThreshold &&
		(r.max <= 0 || r.written+int64(len(s)) <= r.max) {
		// The common case, buffered, without converting s first.
		r.buf = append(r.buf, s...)
		r.written += int64(len(s))
		return len(s), nil
	}
	return r.Write([]byte(s))
}

// Write appends p to the body, streaming once more than flushThreshold
// bytes are buffered.
func (r *Response) Write(p []byte) (int, error) {
	if r.ended {
		return 0, ErrResponseEnded
	}
	if r.cut {
		return 0, ErrResponseTooLarge
	}
	if r.max > 0 && r.written+int64(len(p)) > r.max {
		n := r.max - r.written
		p = p[:n]
		r.cut = true
	}
	r.written += int64(len(p))
	if !r.head {
		if !r.sent && len(r.buf)+len(p) <= flushThreshold {
			r.buf = append(r.buf, p...)
		} else {
			if err := r.commit(false); err != nil {
				return 0, err
			}
			if _, err := r.sink.Write(p); err != nil {
				return 0, err
			}
		}
	}
	if r.cut {
		return len(p), ErrResponseTooLarge
	}
	return len(p), nil
}

func (r *Response) commit(final bool) error {
	if r.sent {
		return nil
	}
	r.sent = true
	if r.HeaderValue("Content-Type") == "" && (r.written > 0 || r.status != 204 && r.status != 304 && r.status/100 != 3) {
		r.set("Content-Type", "text/html; charset=utf-8")
	}
	if final && r.HeaderValue("Content-Length") == "" && !r.head {
		r.set("Content-Length", strconv.Itoa(len(r.buf)))
	}
	var err error
	if fs, ok := r.sink.(FieldSink); ok {
		err = fs.WriteFields(r.status, r.fields)
	} else {
		err = r.sink.WriteHeader(r.status, FieldsHeader(r.fields))
	}
	if err != nil {
		return err
	}
	if len(r.buf) > 0 {
		_, err := r.sink.Write(r.buf)
		r.buf = nil
		return err
	}
	return nil
}

// Reset drops everything buffered, if the head has not been sent, so an
// error page can replace a half-built response. It reports whether it could.
func (r *Response) Reset() bool {
	if r.sent {
		return false
	}
	r.status = 200
	r.fields = r.fields[:0]
	r.buf = r.buf[:0]
	r.written = 0
	r.cut = false
	return true
}

// Flusher is a Sink that can push what it buffers to the client now (the
// FastCGI sink sends its pending FCGI_STDOUT record).
type Flusher interface {
	Flush() error
}

// ErrResponseEnded is returned by Write after End.
var ErrResponseEnded = errors.New("response already sent")

// End sends the response now, complete (with a Content-Length when the
// body was all buffered), and flushes the sink if it is a Flusher, so that
// the client has its answer while the script goes on (the Workers form's
// ctx.waitUntil). Later writes fail with ErrResponseEnded; Finish after End
// does nothing.
func (r *Response) End() error {
	if r.ended {
		return nil
	}
	err := r.commit(true)
	r.ended = true
	if f, ok := r.sink.(Flusher); ok && err == nil {
		err = f.Flush()
	}
	return err
}

// Flush sends the head (without a Content-Length) and the body so far,
// and flushes the sink if it is a Flusher: a streamed body goes out as it
// is written (one FastCGI record per flush).
func (r *Response) Flush() error {
	if r.ended {
		return ErrResponseEnded
	}
	if err := r.commit(false); err != nil {
		return err
	}
	if f, ok := r.sink.(Flusher); ok {
		return f.Flush()
	}
	return nil
}

// Finish sends whatever is buffered. The host calls it once after Serve.
func (r *Response) Finish() error {
	return r.commit(true)
}
