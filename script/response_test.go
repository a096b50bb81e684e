package script

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
)

// plainSink takes the head as an http.Header; fieldSink as fields.
type plainSink struct {
	status int
	h      http.Header
	body   []byte
}

func (s *plainSink) WriteHeader(status int, h http.Header) error {
	s.status, s.h = status, h
	return nil
}

func (s *plainSink) Write(p []byte) (int, error) {
	s.body = append(s.body, p...)
	return len(p), nil
}

type fieldSink struct {
	plainSink
	fields []Field
}

func (s *fieldSink) WriteFields(status int, f []Field) error {
	s.status, s.fields = status, append([]Field(nil), f...)
	return nil
}

func TestResponseHead(t *testing.T) {
	fs := &fieldSink{}
	r := NewResponse(fs, 0, false)
	r.SetHeader("x-a", "1")
	r.AddHeader("set-cookie", "a=1")
	r.AddHeader("Set-Cookie", "b=2")
	r.SetHeader("X-A", "2") // replaces, keeps its place
	r.AddHeader("x-a", "3")
	r.SetHeader("Variable-AUTH_user", "bob")
	if got := r.HeaderValue("x-a"); got != "2" {
		t.Fatalf("HeaderValue = %q", got)
	}
	h := r.Header()
	h.Set("X-A", "changed") // a copy
	if r.HeaderValue("X-A") != "2" {
		t.Fatal("Header() is not a copy")
	}
	if err := r.SetHeader("Bad", "a\r\nb"); err == nil {
		t.Fatal("header injection accepted")
	}
	r.WriteString("hello ")
	r.Write([]byte("world"))
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []Field{{"X-A", "2"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-A", "3"},
		{"Variable-AUTH_user", "bob"}, {"Content-Type", "text/html; charset=utf-8"}, {"Content-Length", "11"}}
	if fs.status != 200 || !reflect.DeepEqual(fs.fields, want) || string(fs.body) != "hello world" {
		t.Fatalf("got %d %q %q", fs.status, fs.fields, fs.body)
	}
	if err := r.SetHeader("X-Late", "1"); !errors.Is(err, ErrHeadersSent) {
		t.Fatalf("SetHeader after the head: %v", err)
	}

	// A sink without WriteFields gets the same head as an http.Header.
	ps := &plainSink{}
	r = NewResponse(ps, 0, false)
	r.AddHeader("Set-Cookie", "a=1")
	r.AddHeader("Set-Cookie", "b=2")
	r.JSON(map[string]int{"n": 1})
	r.Finish()
	if ps.h.Get("Content-Type") != "application/json" || !reflect.DeepEqual(ps.h["Set-Cookie"], []string{"a=1", "b=2"}) ||
		ps.h.Get("Content-Length") != "7" || string(ps.body) != `{"n":1}` {
		t.Fatalf("got %v %q", ps.h, ps.body)
	}
}

func TestResponseBodyLimits(t *testing.T) {
	// WriteString's buffered path and Write agree on max_response.
	for _, useString := range []bool{true, false} {
		s := &fieldSink{}
		r := NewResponse(s, 8, false)
		write := func(p string) (int, error) {
			if useString {
				return r.WriteString(p)
			}
			return r.Write([]byte(p))
		}
		if n, err := write("12345"); n != 5 || err != nil {
			t.Fatalf("first write: %d %v", n, err)
		}
		if n, err := write("6789"); n != 3 || !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("write past the limit: %d %v", n, err)
		}
		if _, err := write("x"); !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("write after the cut: %v", err)
		}
		r.Finish()
		if string(s.body) != "12345678" || r.Written() != 8 {
			t.Fatalf("body %q, written %d", s.body, r.Written())
		}
	}
	// HEAD: counted, not sent.
	s := &fieldSink{}
	r := NewResponse(s, 0, true)
	r.WriteString("abc")
	r.Finish()
	if len(s.body) != 0 || r.Written() != 3 {
		t.Fatalf("HEAD body %q, written %d", s.body, r.Written())
	}
	// Reset drops the head and the body.
	s = &fieldSink{}
	r = NewResponse(s, 0, false)
	r.SetHeader("X-A", "1")
	r.SetStatus(201)
	r.WriteString("abc")
	if !r.Reset() {
		t.Fatal("Reset refused before the head went out")
	}
	r.Finish()
	if s.status != 200 || len(s.body) != 0 || r.HeaderValue("X-A") != "" {
		t.Fatalf("after Reset: %d %q %q", s.status, s.fields, s.body)
	}
}

func TestRequestHeadersCollision(t *testing.T) {
	for i := 0; i < 20; i++ { // map order varies
		r := &Request{Params: map[string]string{
			"CONTENT_TYPE": "text/plain", "HTTP_CONTENT_TYPE": "application/json",
			"HTTP_X_A": "underscore", "HTTP_X-A": "dash", "HTTP_COOKIE": "a=1; b=2; a=3",
		}}
		h := r.Headers()
		if h["content-type"] != "text/plain" || h["x-a"] != "dash" {
			t.Fatalf("headers %v", h)
		}
		if c := r.Cookies(); c["a"] != "1" || c["b"] != "2" {
			t.Fatalf("cookies %v", c)
		}
	}
}

type flushingSink struct {
	plainSink
	flushes int
}

func (s *flushingSink) Flush() error { s.flushes++; return nil }

// End sends the whole response with its Content-Length and flushes the
// sink; later writes fail and Finish does nothing more.
func TestResponseEnd(t *testing.T) {
	s := &flushingSink{}
	r := NewResponse(s, 0, false)
	if _, err := r.WriteString("done"); err != nil {
		t.Fatal(err)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if s.flushes != 1 || s.h.Get("Content-Length") != "4" || string(s.body) != "done" {
		t.Errorf("after End: flushes %d, head %v, body %q", s.flushes, s.h, s.body)
	}
	if _, err := r.Write([]byte("more")); !errors.Is(err, ErrResponseEnded) {
		t.Errorf("Write after End: %v", err)
	}
	if _, err := r.WriteString("more"); !errors.Is(err, ErrResponseEnded) {
		t.Errorf("WriteString after End: %v", err)
	}
	if err := r.Finish(); err != nil || string(s.body) != "done" {
		t.Errorf("Finish after End: %v %q", err, s.body)
	}
}
