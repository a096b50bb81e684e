package fcgi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestServer(t *testing.T, h Handler) (*Server, *logBuf) {
	l, lb := testLogger(t)
	return &Server{Handler: h, Logger: l}, lb
}

func TestServer_Responder(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"pipe", "tcp", "tcp6", "unix"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			s, _ := newTestServer(t, echoHandler)
			var c *raw
			if network == "pipe" {
				c = pipeServer(t, s)
			} else {
				c = dial(t, startServer(t, s, network))
			}
			body := []byte("hello body")
			go c.send(begin(1, RoleResponder, true), paramsRecs(1, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "10"), stdinRecs(1, body))
			res := c.readResponse(1)
			want := "Content-Type: text/plain\r\nX-Method: POST\r\nX-Role: responder\r\n\r\nhello body"
			if string(res.stdout) != want {
				t.Errorf("stdout %q, want %q", res.stdout, want)
			}
			if res.proto != StatusRequestComplete || res.appStatus != 0 {
				t.Errorf("end: app %d proto %d", res.appStatus, res.proto)
			}
			if res.stdoutEnds != 1 {
				t.Errorf("%d empty FCGI_STDOUT records, want 1", res.stdoutEnds)
			}
			for _, r := range res.recs {
				if r.h.Version != 1 || (len(r.content)+int(r.h.PaddingLength))%8 != 0 {
					t.Errorf("record %+v not version 1 or not aligned", r.h)
				}
			}
		})
	}
}

// Params and stdin split at every possible place, including inside a
// pair's lengths, with odd padding.
func TestServer_SplitRecords(t *testing.T) {
	t.Parallel()
	var pairs []byte
	pairs = appendPair(pairs, "REQUEST_METHOD", "PUT")
	pairs = appendPair(pairs, "LONG_VALUE", strings.Repeat("v", 300))
	pairs = appendPair(pairs, strings.Repeat("N", 140), "x")
	body := bytes.Repeat([]byte("0123456789"), 30)
	got := map[string]string{}
	var mu sync.Mutex
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		b, _ := io.ReadAll(r.Stdin)
		mu.Lock()
		got = maps.Clone(r.Params) // the server reuses the map
		mu.Unlock()
		w.Write([]byte("\r\n"))
		w.Write(b)
	})
	s, _ := newTestServer(t, h)
	addr := startServer(t, s, "unix")
	for split := 1; split < len(pairs); split += 7 {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			c := dial(t, addr)
			var msg []byte
			msg = append(msg, begin(1, RoleResponder, false)...)
			for i := 0; i < len(pairs); i += split {
				chunk := pairs[i:min(i+split, len(pairs))]
				// Odd padding: the padding length need not be minimal.
				pad := (split + i) % 9
				h := make([]byte, 8)
				putHeader(h, typeParams, 1, len(chunk))
				h[6] = byte(pad)
				msg = append(msg, h...)
				msg = append(msg, chunk...)
				msg = append(msg, make([]byte, pad)...)
			}
			msg = appendHeader(msg, typeParams, 1, 0)
			for i := 0; i < len(body); i += split {
				msg = appendRecord(msg, typeStdin, 1, body[i:min(i+split, len(body))])
			}
			msg = appendHeader(msg, typeStdin, 1, 0)
			go c.send(msg)
			res := c.readResponse(1)
			if !bytes.Equal(res.stdout, append([]byte("\r\n"), body...)) {
				t.Errorf("body %q", res.stdout)
			}
			mu.Lock()
			defer mu.Unlock()
			if got["REQUEST_METHOD"] != "PUT" || got["LONG_VALUE"] != strings.Repeat("v", 300) || got[strings.Repeat("N", 140)] != "x" || len(got) != 3 {
				t.Errorf("params %v", got)
			}
			c.expectEOF()
		})
	}
}

func TestServer_Output(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), 10000) // 260000 bytes
	tests := []struct {
		name   string
		h      HandlerFunc
		stdout []byte
		stderr []byte
	}{
		{"nothing", func(w ResponseWriter, r *Request) {}, nil, nil},
		{"big one write", func(w ResponseWriter, r *Request) { w.Write(big) }, big, nil},
		{"big small writes", func(w ResponseWriter, r *Request) {
			for i := 0; i < len(big); i += 1000 {
				w.Write(big[i:min(i+1000, len(big))])
			}
		}, big, nil},
		{"flush", func(w ResponseWriter, r *Request) {
			w.Write([]byte("a"))
			w.(Flusher).Flush()
			w.Write([]byte("b"))
		}, []byte("ab"), nil},
		{"stderr", func(w ResponseWriter, r *Request) {
			w.Write([]byte("\r\nout"))
			fmt.Fprint(w.Stderr(), "oops")
			w.Stderr().Write(big)
		}, []byte("\r\nout"), append([]byte("oops"), big...)},
		{"panic", func(w ResponseWriter, r *Request) {
			w.Write([]byte("partial"))
			panic("boom")
		}, []byte("Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInternal Server Error\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, lb := newTestServer(t, tt.h)
			c := dial(t, startServer(t, s, "unix"))
			c.send(simpleRequest(1, true))
			res := c.readResponse(1)
			if !bytes.Equal(res.stdout, tt.stdout) {
				t.Errorf("stdout %d bytes %.40q, want %d bytes %.40q", len(res.stdout), res.stdout, len(tt.stdout), tt.stdout)
			}
			if !bytes.Equal(res.stderr, tt.stderr) {
				t.Errorf("stderr %d bytes, want %d", len(res.stderr), len(tt.stderr))
			}
			if res.stdoutEnds != 1 {
				t.Errorf("%d empty FCGI_STDOUT, want 1", res.stdoutEnds)
			}
			if want := 0; tt.stderr != nil {
				if res.stderrEnds != 1 {
					t.Errorf("%d empty FCGI_STDERR, want 1", res.stderrEnds)
				}
			} else if res.stderrEnds != want {
				t.Errorf("%d empty FCGI_STDERR, want 0", res.stderrEnds)
			}
			// At least one FCGI_STDOUT before FCGI_END_REQUEST; END last.
			if res.recs[0].h.Type != typeStdout && res.recs[0].h.Type != typeStderr {
				t.Errorf("first record %s", typeName(res.recs[0].h.Type))
			}
			for _, r := range res.recs {
				if len(r.content) > maxContent {
					t.Errorf("record of %d bytes", len(r.content))
				}
			}
			if tt.name == "panic" && lb.count("panic in handler") != 1 {
				t.Errorf("log: %s", lb)
			}
			// The connection still serves.
			c.send(simpleRequest(1, true))
			c.readResponse(1)
		})
	}
}

func TestServer_Roles(t *testing.T) {
	t.Parallel()
	type seen struct {
		role   Role
		apache string
		body   string
	}
	ch := make(chan seen, 10)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		b, err := io.ReadAll(r.Stdin)
		if err != nil {
			t.Error(err)
		}
		ch <- seen{r.Role, r.ApacheRole(), string(b)}
		io.WriteString(w, "Status: 200\r\nVariable-USER: bob\r\n\r\n")
	})
	tests := []struct {
		name      string
		role      Role
		proto     uint8
		handlerOK bool
	}{
		{"responder", RoleResponder, StatusRequestComplete, true},
		{"authorizer", RoleAuthorizer, StatusRequestComplete, true},
		{"filter", RoleFilter, StatusUnknownRole, false},
		{"role 0", 0, StatusUnknownRole, false},
		{"role 77", 77, StatusUnknownRole, false},
	}
	s, _ := newTestServer(t, h)
	addr := startServer(t, s, "unix")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(begin(3, tt.role, true), paramsRecs(3, "FCGI_APACHE_ROLE", "AUTHORIZER"), stdinRecs(3, []byte("body")))
			res := c.readResponse(3)
			if res.proto != tt.proto {
				t.Fatalf("protocol status %s, want %s", StatusName(res.proto), StatusName(tt.proto))
			}
			if res.stdoutEnds != 1 {
				t.Errorf("%d empty FCGI_STDOUT records before FCGI_END_REQUEST, want 1", res.stdoutEnds)
			}
			if !tt.handlerOK {
				if len(res.stdout) != 0 {
					t.Errorf("stdout %q for a refused role", res.stdout)
				}
				// Connection stays usable (keep-conn).
				c.send(getValuesRec("FCGI_MPXS_CONNS"))
				if r := c.mustRead(); r.h.Type != typeGetValuesResult {
					t.Errorf("got %s", typeName(r.h.Type))
				}
				return
			}
			got := <-ch
			if got.role != tt.role || got.apache != "AUTHORIZER" {
				t.Errorf("handler saw %+v", got)
			}
			wantBody := "body"
			if tt.role == RoleAuthorizer {
				wantBody = "" // an Authorizer gets no body
			}
			if got.body != wantBody {
				t.Errorf("body %q, want %q", got.body, wantBody)
			}
			if string(res.stdout) != "Status: 200\r\nVariable-USER: bob\r\n\r\n" {
				t.Errorf("stdout %q", res.stdout)
			}
		})
	}
}

func TestServer_GetValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		s      *Server
		ask    []string
		want   map[string]string
		nowant []string
	}{
		{"defaults all", &Server{}, []string{"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"},
			map[string]string{"FCGI_MAX_CONNS": "1024", "FCGI_MAX_REQS": "1024", "FCGI_MPXS_CONNS": "1"}, nil},
		{"configured", &Server{MaxConns: 7, MaxReqs: 33}, []string{"FCGI_MAX_REQS", "FCGI_MAX_CONNS"},
			map[string]string{"FCGI_MAX_CONNS": "7", "FCGI_MAX_REQS": "33"}, nil},
		{"only asked", &Server{}, []string{"FCGI_MPXS_CONNS", "SOMETHING_ELSE"},
			map[string]string{"FCGI_MPXS_CONNS": "1"}, []string{"FCGI_MAX_CONNS", "SOMETHING_ELSE"}},
		{"no multiplexing", &Server{MaxReqsPerConn: 1}, []string{"FCGI_MPXS_CONNS"},
			map[string]string{"FCGI_MPXS_CONNS": "0"}, nil},
		{"nothing known", &Server{}, []string{"X"}, map[string]string{}, []string{"X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.s
			s.Handler = echoHandler
			s.Logger, _ = testLogger(t)
			c := pipeServer(t, s)
			go c.send(getValuesRec(tt.ask...))
			r := c.mustRead()
			if r.h.Type != typeGetValuesResult || r.h.ID != 0 {
				t.Fatalf("got %s on id %d", typeName(r.h.Type), r.h.ID)
			}
			m, err := DecodeParams(r.content)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != len(tt.want) {
				t.Errorf("got %v, want %v", m, tt.want)
			}
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
			for _, k := range tt.nowant {
				if _, ok := m[k]; ok {
					t.Errorf("%s answered but not wanted", k)
				}
			}
			// The connection stays open.
			go c.send(simpleRequest(1, false))
			c.readResponse(1)
		})
	}
}

func TestServer_UnknownType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  []byte
		typ  uint8
	}{
		{"management 42", appendRecord(nil, 42, 0, []byte("whatever")), 42},
		{"get values result from web server", appendRecord(nil, typeGetValuesResult, 0, nil), typeGetValuesResult},
		{"stdout from web server", appendRecord(nil, typeStdout, 1, []byte("x")), typeStdout},
		{"type 255 on a request id", appendRecord(nil, 255, 5, nil), 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newTestServer(t, echoHandler)
			c := pipeServer(t, s)
			go c.send(tt.rec)
			r := c.mustRead()
			if r.h.Type != typeUnknownType || r.h.ID != 0 || len(r.content) != 8 || r.content[0] != tt.typ {
				t.Fatalf("got %s id %d content % x", typeName(r.h.Type), r.h.ID, r.content)
			}
			go c.send(simpleRequest(1, false))
			c.readResponse(1)
		})
	}
}

// Records for ids not in progress are ignored; ids are reusable.
func TestServer_InactiveIDsAndReuse(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, echoHandler)
	c := dial(t, startServer(t, s, "unix"))
	c.send(appendRecord(nil, typeStdin, 9, []byte("stray")), appendHeader(nil, typeParams, 9, 0),
		abortRec(9), appendRecord(nil, typeData, 9, []byte("d")), appendRecord(nil, typeStdin, 0, []byte("zero")))
	for i := 0; i < 3; i++ {
		c.send(begin(7, RoleResponder, true), paramsRecs(7, "REQUEST_METHOD", fmt.Sprint("M", i)), stdinRecs(7, []byte{byte('a' + i)}))
		res := c.readResponse(7)
		if !bytes.Contains(res.stdout, []byte(fmt.Sprint("X-Method: M", i))) || !bytes.HasSuffix(res.stdout, []byte{byte('a' + i)}) {
			t.Errorf("round %d: %q", i, res.stdout)
		}
		// Late records for the finished id are ignored.
		c.send(appendRecord(nil, typeStdin, 7, []byte("late")))
	}
	if st := s.Stats(); st.Requests != 3 || st.ActiveRequests != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestServer_KeepConn(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"pipe", "unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			s, _ := newTestServer(t, echoHandler)
			var c *raw
			if network == "pipe" {
				c = pipeServer(t, s)
			} else {
				c = dial(t, startServer(t, s, network))
			}
			go c.send(simpleRequest(1, true))
			c.readResponse(1)
			go c.send(simpleRequest(2, true))
			c.readResponse(2)
			go c.send(simpleRequest(1, false))
			c.readResponse(1)
			c.expectEOF()
		})
	}
}

// Many requests at once on one connection; a blocked handler and an
// unread body stall no one else.
func TestServer_Multiplex(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		switch r.Params["MODE"] {
		case "block":
			<-release
		case "unread":
			<-release
			b, err := io.ReadAll(r.Stdin)
			if err != nil {
				t.Error(err)
			}
			fmt.Fprintf(w, "\r\n%x", sha256.Sum256(b))
			return
		}
		io.WriteString(w, "\r\n"+r.Params["MODE"])
	})
	s, _ := newTestServer(t, h)
	s.StdinBuffer = 64 << 10
	s.SpillDir = t.TempDir()
	c := dial(t, startServer(t, s, "unix"))
	c.send(begin(1, RoleResponder, true), paramsRecs(1, "MODE", "block"), stdinRecs(1, nil))
	big := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB, far past StdinBuffer
	c.send(begin(2, RoleResponder, true), paramsRecs(2, "MODE", "unread"))
	go c.send(stdinRecs(2, big))
	// Requests 3..12 interleave record by record and finish while 1 and 2 wait.
	var msg []byte
	for id := uint16(3); id <= 12; id++ {
		msg = append(msg, begin(id, RoleResponder, true)...)
	}
	for id := uint16(3); id <= 12; id++ {
		msg = append(msg, paramsRecs(id, "MODE", fmt.Sprint("m", id))...)
	}
	for id := uint16(3); id <= 12; id++ {
		msg = append(msg, stdinRecs(id, nil)...)
	}
	c.send(msg)
	got := map[uint16]string{}
	outs := map[uint16][]byte{}
	for len(got) < 10 {
		r := c.mustRead()
		switch r.h.Type {
		case typeStdout:
			outs[r.h.ID] = append(outs[r.h.ID], r.content...)
		case typeEndRequest:
			got[r.h.ID] = string(outs[r.h.ID])
		}
	}
	for id := uint16(3); id <= 12; id++ {
		if got[id] != fmt.Sprint("\r\nm", id) {
			t.Errorf("request %d: %q", id, got[id])
		}
	}
	close(release)
	done := map[uint16]string{}
	outs = map[uint16][]byte{}
	for len(done) < 2 {
		r := c.mustRead()
		switch r.h.Type {
		case typeStdout:
			outs[r.h.ID] = append(outs[r.h.ID], r.content...)
		case typeEndRequest:
			done[r.h.ID] = string(outs[r.h.ID])
		}
	}
	if want := fmt.Sprintf("\r\n%x", sha256.Sum256(big)); done[2] != want {
		t.Errorf("spilled body: got %q, want %q", done[2], want)
	}
	if done[1] != "\r\nblock" {
		t.Errorf("request 1: %q", done[1])
	}
}

// A request alone on its connection with a body larger than StdinBuffer
// gets all of it, read slowly (backpressure).
func TestServer_BodyBackpressure(t *testing.T) {
	t.Parallel()
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		hs := sha256.New()
		buf := make([]byte, 1000)
		for {
			n, err := r.Stdin.Read(buf)
			hs.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
		fmt.Fprintf(w, "\r\n%x", hs.Sum(nil))
	})
	s, _ := newTestServer(t, h)
	s.StdinBuffer = 4096
	s.SpillDir = t.TempDir() + "/does-not-exist" // spilling would fail loudly
	c := dial(t, startServer(t, s, "tcp"))
	big := bytes.Repeat([]byte("xyz"), 3<<20)
	go c.send(begin(1, RoleResponder, false), paramsRecs(1), stdinRecs(1, big))
	res := c.readResponse(1)
	if want := fmt.Sprintf("\r\n%x", sha256.Sum256(big)); string(res.stdout) != want {
		t.Errorf("got %q", res.stdout)
	}
}

func TestServer_Abort(t *testing.T) {
	t.Parallel()
	type outcome struct {
		cause   error
		readErr error
		writeOK bool
	}
	tests := []struct {
		name  string
		abort func(c *raw)
		want  error
	}{
		{"FCGI_ABORT_REQUEST", func(c *raw) { c.send(abortRec(1)) }, ErrRequestAborted},
		{"connection closed", func(c *raw) { c.c.Close() }, ErrConnClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			out := make(chan outcome, 1)
			h := HandlerFunc(func(w ResponseWriter, r *Request) {
				close(started)
				<-r.Context().Done()
				_, rerr := r.Stdin.Read(make([]byte, 10))
				_, werr := w.Write([]byte("late"))
				out <- outcome{context.Cause(r.Context()), rerr, werr == nil}
			})
			s, _ := newTestServer(t, h)
			c := dial(t, startServer(t, s, "unix"))
			c.send(begin(1, RoleResponder, true), paramsRecs(1)) // body still to come
			<-started
			tt.abort(c)
			o := <-out
			if !errors.Is(o.cause, tt.want) || !errors.Is(o.readErr, tt.want) || o.writeOK {
				t.Errorf("cause %v, Stdin.Read %v, write ok %v; want %v", o.cause, o.readErr, o.writeOK, tt.want)
			}
			if tt.want == ErrRequestAborted {
				// Exactly one FCGI_END_REQUEST, then the connection goes on.
				res := c.readResponse(1)
				if len(res.stdout) != 0 || res.stdoutEnds != 1 {
					t.Errorf("aborted request sent stdout %q", res.stdout)
				}
				c.send(getValuesRec("FCGI_MAX_REQS"))
				if r := c.mustRead(); r.h.Type != typeGetValuesResult {
					t.Errorf("after END_REQUEST got %s", typeName(r.h.Type))
				}
			}
			waitFor(t, "request to end", func() bool { return s.Stats().ActiveRequests == 0 })
		})
	}
}

// An abort before the params are complete ends the request at once; its
// handler never runs.
func TestServer_AbortBeforeParams(t *testing.T) {
	t.Parallel()
	called := make(chan struct{}, 1)
	s, _ := newTestServer(t, HandlerFunc(func(w ResponseWriter, r *Request) { called <- struct{}{} }))
	c := pipeServer(t, s)
	go c.send(begin(4, RoleResponder, true), appendRecord(nil, typeParams, 4, appendPair(nil, "A", "b")), abortRec(4))
	res := c.readResponse(4)
	if res.proto != StatusRequestComplete {
		t.Errorf("proto %d", res.proto)
	}
	go c.send(appendHeader(nil, typeParams, 4, 0), simpleRequest(5, true)) // late end of params: ignored
	c.readResponse(5)
	if len(called) != 1 {
		t.Errorf("handler ran %d times, want 1 (request 5 only)", len(called))
	}
}

func TestServer_Limits(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	blocking := HandlerFunc(func(w ResponseWriter, r *Request) {
		if r.Params["BLOCK"] != "" {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "\r\nok")
	})
	tests := []struct {
		name   string
		s      *Server
		run    func(t *testing.T, s *Server, addr string) result
		status string // in stdout
		proto  uint8
		log    string
	}{
		{"params bytes", &Server{MaxParamsBytes: 100}, func(t *testing.T, s *Server, addr string) result {
			c := dial(t, addr)
			c.send(begin(1, RoleResponder, true), paramsRecs(1, "X", strings.Repeat("y", 200)), stdinRecs(1, nil))
			return c.readResponse(1)
		}, "Status: 431", StatusRequestComplete, "params larger than MaxParamsBytes"},
		{"params count", &Server{MaxParams: 3}, func(t *testing.T, s *Server, addr string) result {
			c := dial(t, addr)
			c.send(begin(1, RoleResponder, true), paramsRecs(1, "A", "", "B", "", "C", "", "D", ""), stdinRecs(1, nil))
			return c.readResponse(1)
		}, "Status: 431", StatusRequestComplete, "more params than MaxParams"},
		{"per connection", &Server{MaxReqsPerConn: 2}, func(t *testing.T, s *Server, addr string) result {
			c := dial(t, addr)
			c.send(begin(1, RoleResponder, true), paramsRecs(1, "BLOCK", "1"), stdinRecs(1, nil))
			c.send(begin(2, RoleResponder, true), paramsRecs(2, "BLOCK", "1"), stdinRecs(2, nil))
			c.send(simpleRequest(3, true))
			return c.readResponse(3)
		}, "", StatusOverloaded, "MaxReqsPerConn reached"},
		{"one per connection", &Server{MaxReqsPerConn: 1}, func(t *testing.T, s *Server, addr string) result {
			c := dial(t, addr)
			c.send(begin(1, RoleResponder, true), paramsRecs(1, "BLOCK", "1"), stdinRecs(1, nil))
			c.send(simpleRequest(3, true))
			return c.readResponse(3)
		}, "", StatusCantMpxConn, "MaxReqsPerConn reached"},
		{"in total", &Server{MaxReqs: 2}, func(t *testing.T, s *Server, addr string) result {
			for i := 0; i < 2; i++ {
				c := dial(t, addr)
				c.send(begin(1, RoleResponder, true), paramsRecs(1, "BLOCK", "1"), stdinRecs(1, nil))
			}
			waitFor(t, "two requests in progress", func() bool { return s.Stats().ActiveRequests == 2 })
			c := dial(t, addr)
			c.send(simpleRequest(1, true))
			return c.readResponse(1)
		}, "", StatusOverloaded, "MaxReqs reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.s
			s.Handler = blocking
			var lb *logBuf
			s.Logger, lb = testLogger(t)
			addr := startServer(t, s, "unix")
			res := tt.run(t, s, addr)
			if res.proto != tt.proto || !strings.Contains(string(res.stdout), tt.status) {
				t.Errorf("got %s %q, want %s %q", StatusName(res.proto), res.stdout, StatusName(tt.proto), tt.status)
			}
			if lb.count(tt.log) != 1 {
				t.Errorf("want one log line %q, log:\n%s", tt.log, lb)
			}
			if tt.name == "in total" {
				return // the limit is shared by every connection
			}
			// Another connection is unaffected.
			c := dial(t, addr)
			c.send(simpleRequest(1, false))
			if res := c.readResponse(1); string(res.stdout) != "\r\nok" {
				t.Errorf("other connection: %q", res.stdout)
			}
		})
	}
}

func TestServer_Timeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    *Server
		send func(c *raw)
		log  string
	}{
		{"half-sent params", &Server{ReadTimeout: 50 * time.Millisecond}, func(c *raw) {
			c.send(begin(1, RoleResponder, false), appendRecord(nil, typeParams, 1, appendPair(nil, "A", "b")))
		}, "request params not received within ReadTimeout"},
		{"half-sent record", &Server{ReadTimeout: 50 * time.Millisecond}, func(c *raw) {
			c.send(begin(1, RoleResponder, false), appendRecord(nil, typeParams, 1, appendPair(nil, "A", "b"))[:12])
		}, "request params not received within ReadTimeout"},
		{"stalled body", &Server{ReadTimeout: 50 * time.Millisecond}, func(c *raw) {
			c.send(begin(1, RoleResponder, false), paramsRecs(1, "READ", "1"), appendRecord(nil, typeStdin, 1, []byte("part")))
		}, "request body stalled"},
		{"idle", &Server{IdleTimeout: 50 * time.Millisecond}, func(c *raw) {
			c.send(simpleRequest(1, true))
			c.readResponse(1)
		}, "closing idle connection"},
		{"idle never used", &Server{IdleTimeout: 50 * time.Millisecond}, func(c *raw) {}, "closing idle connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.s
			s.Handler = HandlerFunc(func(w ResponseWriter, r *Request) {
				if r.Params["READ"] != "" {
					io.ReadAll(r.Stdin)
				}
			})
			var lb *logBuf
			s.Logger, lb = testLogger(t)
			c := dial(t, startServer(t, s, "unix"))
			tt.send(c)
			c.expectEOF()
			waitFor(t, "log line", func() bool { return lb.count(tt.log) == 1 })
			waitFor(t, "connection gone", func() bool { return s.Stats().ActiveConns == 0 })
		})
	}
}

func TestServer_Malformed(t *testing.T) {
	t.Parallel()
	badVersion := simpleRequest(1, true)
	badVersion[0] = 2
	tests := []struct {
		name string
		in   []byte
		log  string
	}{
		{"version 2", badVersion, "record version 2"},
		{"version 0 garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "record version 71"},
		{"begin too short", appendRecord(nil, typeBeginRequest, 1, []byte{0, 1, 0}), "FCGI_BEGIN_REQUEST with 3 content bytes"},
		{"begin on id 0", begin(0, RoleResponder, true), "FCGI_BEGIN_REQUEST on request id 0"},
		{"duplicate begin", append(begin(1, RoleResponder, true), begin(1, RoleResponder, true)...), "which is in progress"},
		{"truncated pair", append(append(begin(1, RoleResponder, true), appendRecord(nil, typeParams, 1, []byte{5, 5, 'a'})...), appendHeader(nil, typeParams, 1, 0)...), "malformed FCGI_PARAMS"},
		{"malformed get values", appendRecord(nil, typeGetValues, 0, []byte{0x80}), "malformed FCGI_GET_VALUES"},
		{"get values on request id", appendRecord(nil, typeGetValues, 3, nil), "FCGI_GET_VALUES on request id 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, lb := newTestServer(t, echoHandler)
			addr := startServer(t, s, "unix")
			c := dial(t, addr)
			c.send(tt.in)
			c.expectEOF()
			waitFor(t, "log", func() bool { return lb.count("malformed input") == 1 })
			if lb.count(tt.log) != 1 {
				t.Errorf("want one line with %q:\n%s", tt.log, lb)
			}
			c2 := dial(t, addr)
			c2.send(simpleRequest(1, false))
			c2.readResponse(1)
		})
	}
}

func TestServer_MaxConns(t *testing.T) {
	t.Parallel()
	s, lb := newTestServer(t, echoHandler)
	s.MaxConns = 1
	addr := startServer(t, s, "unix")
	c1 := dial(t, addr)
	c1.send(simpleRequest(1, true))
	c1.readResponse(1)
	c2 := dial(t, addr)
	c2.expectEOF()
	if lb.count("MaxConns reached") != 1 {
		t.Errorf("log:\n%s", lb)
	}
	c1.c.Close()
	waitFor(t, "first connection gone", func() bool { return s.Stats().ActiveConns == 0 })
	c3 := dial(t, addr)
	c3.send(simpleRequest(1, false))
	c3.readResponse(1)
	if st := s.Stats(); st.Rejected != 1 || st.Accepted != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestServer_AllowedClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		allow []string
		ok    bool
	}{
		{nil, true},
		{[]string{"127.0.0.1"}, true},
		{[]string{"10.0.0.1", " 127.0.0.1 "}, true},
		{[]string{"127.0.0.0/8"}, true},
		{[]string{"::ffff:127.0.0.1"}, true},
		{[]string{"127.0.0.2"}, false},
		{[]string{"::1"}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.allow), func(t *testing.T) {
			t.Parallel()
			s, lb := newTestServer(t, echoHandler)
			s.AllowedClients = tt.allow
			c := dial(t, startServer(t, s, "tcp"))
			if !tt.ok {
				c.expectEOF()
				if lb.count("not in the allowed clients") != 1 {
					t.Errorf("log:\n%s", lb)
				}
				return
			}
			c.send(simpleRequest(1, false))
			c.readResponse(1)
		})
	}
	t.Run("unix sockets are not filtered", func(t *testing.T) {
		s, _ := newTestServer(t, echoHandler)
		s.AllowedClients = []string{"10.9.9.9"}
		c := dial(t, startServer(t, s, "unix"))
		c.send(simpleRequest(1, false))
		c.readResponse(1)
	})
	t.Run("bad entry", func(t *testing.T) {
		s, _ := newTestServer(t, echoHandler)
		s.AllowedClients = []string{"not-an-ip"}
		l, err := Listen("127.0.0.1:0", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(l); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
			t.Errorf("Serve: %v", err)
		}
	})
}

func TestAllowedClientsFromEnv(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"", nil},
		{"127.0.0.1", []string{"127.0.0.1"}},
		{"127.0.0.1, ::1 ,,10.0.0.1", []string{"127.0.0.1", "::1", "10.0.0.1"}},
	}
	for _, tt := range tests {
		t.Setenv("FCGI_WEB_SERVER_ADDRS", tt.env)
		got := AllowedClientsFromEnv()
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: got %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestServer_Shutdown(t *testing.T) {
	t.Parallel()
	t.Run("graceful", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		started := make(chan struct{})
		s, _ := newTestServer(t, HandlerFunc(func(w ResponseWriter, r *Request) {
			close(started)
			<-release
			io.WriteString(w, "\r\nfinished")
		}))
		l, err := Listen("127.0.0.1:0", 0)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		idle := dial(t, l.Addr().String())
		busy := dial(t, l.Addr().String())
		busy.send(simpleRequest(1, true))
		<-started
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		idle.expectEOF()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		// A new request on the busy connection is refused meanwhile.
		busy.send(simpleRequest(2, true))
		if res := busy.readResponse(2); res.proto != StatusOverloaded {
			t.Errorf("request during shutdown: %s", StatusName(res.proto))
		}
		close(release)
		if res := busy.readResponse(1); string(res.stdout) != "\r\nfinished" {
			t.Errorf("in-flight request: %q", res.stdout)
		}
		busy.expectEOF()
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		started := make(chan struct{})
		cause := make(chan error, 1)
		s, _ := newTestServer(t, HandlerFunc(func(w ResponseWriter, r *Request) {
			close(started)
			<-r.Context().Done()
			cause <- context.Cause(r.Context())
		}))
		addr := startServer(t, s, "unix")
		c := dial(t, addr)
		c.send(simpleRequest(1, true))
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-cause; !errors.Is(err, ErrServerClosed) {
			t.Errorf("handler cause %v, want ErrServerClosed", err)
		}
		waitFor(t, "connections closed", func() bool { return s.Stats().ActiveConns == 0 })
	})
}

// Several listeners served at once by one Server.
func TestServer_SeveralListeners(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, echoHandler)
	addrs := []string{startServer(t, s, "tcp"), startServer(t, s, "unix"), startServer(t, s, "tcp")}
	for _, a := range addrs {
		c := dial(t, a)
		c.send(simpleRequest(1, false))
		c.readResponse(1)
	}
	if got := s.Stats().Requests; got != 3 {
		t.Errorf("requests %d", got)
	}
}

// Regression (found by FuzzServerConn): a body larger than StdinBuffer
// sent before the params were complete made the read loop wait for a
// handler that could not start.
func TestServer_StdinBeforeParams(t *testing.T) {
	t.Parallel()
	for _, spill := range []bool{true, false} {
		t.Run(fmt.Sprint("spill=", spill), func(t *testing.T) {
			t.Parallel()
			s, lb := newTestServer(t, echoHandler)
			s.StdinBuffer = 100
			s.SpillDir = t.TempDir()
			if !spill {
				s.SpillDir += "/missing"
			}
			c := pipeServer(t, s)
			body := bytes.Repeat([]byte("s"), 1000)
			go c.send(begin(1, RoleResponder, false), appendRecord(nil, typeStdin, 1, body[:300]), stdinRecs(1, body[300:]), paramsRecs(1, "REQUEST_METHOD", "POST"))
			if !spill {
				c.expectEOF()
				if lb.count("before the params of request 1 are complete") != 1 {
					t.Errorf("log:\n%s", lb)
				}
				return
			}
			res := c.readResponse(1)
			if !bytes.HasSuffix(res.stdout, append([]byte("\r\n\r\n"), body...)) {
				t.Errorf("got %q", res.stdout)
			}
		})
	}
}

// Deadlines armed for an earlier state (params, idle) fire while a handler
// works or reads its body slowly; they must be re-armed, not close the
// connection.
func TestServer_TimeoutsSpareBusyRequests(t *testing.T) {
	t.Parallel()
	// rt is long enough that the test's own sender, stalled by a loaded
	// machine under -race, does not meet the read timeout it is testing.
	const rt = time.Second
	body := bytes.Repeat([]byte("q"), 1<<20)
	tests := []struct {
		name string
		h    HandlerFunc
		body []byte
	}{
		{"slow handler", func(w ResponseWriter, r *Request) {
			time.Sleep(3 * rt)
			io.WriteString(w, "\r\ndone")
		}, nil},
		{"slow body reader", func(w ResponseWriter, r *Request) {
			time.Sleep(3 * rt) // the read loop waits for room meanwhile
			b, err := io.ReadAll(r.Stdin)
			fmt.Fprintf(w, "\r\n%d %v", len(b), err)
		}, body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, lb := newTestServer(t, tt.h)
			s.ReadTimeout, s.IdleTimeout, s.StdinBuffer = rt, rt, 4096
			c := dial(t, startServer(t, s, "unix"))
			// The request is sent from a goroutine (the body waits for
			// room); it must be done before the test ends, and a write
			// error shows up as a wrong response below rather than as a
			// Fatal from a goroutine that may outlive the test.
			var senders sync.WaitGroup
			defer senders.Wait()
			for i := 0; i < 2; i++ {
				senders.Add(1)
				go func() {
					defer senders.Done()
					c.c.Write(bytes.Join([][]byte{begin(1, RoleResponder, true), paramsRecs(1), stdinRecs(1, tt.body)}, nil))
				}()
				res := c.readResponse(1)
				want := "\r\ndone"
				if tt.body != nil {
					want = fmt.Sprintf("\r\n%d <nil>", len(tt.body))
				}
				if string(res.stdout) != want {
					t.Fatalf("round %d: %q (log %s)", i, res.stdout, lb)
				}
			}
			// And the idle timeout still closes it afterwards.
			c.expectEOF()
			if lb.count("closing idle connection") != 1 {
				t.Errorf("log:\n%s", lb)
			}
		})
	}
}

// Regression: the slot of a request was freed only after its
// FCGI_END_REQUEST was written, so a web server sending the next request at
// once could be refused with FCGI_OVERLOADED under MaxReqs 1.
func TestServer_SlotFreedBeforeEndRequest(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, echoHandler)
	s.MaxReqs = 1
	c := dial(t, startServer(t, s, "unix"))
	for i := 0; i < 200; i++ {
		c.send(simpleRequest(1, true))
		if res := c.readResponse(1); res.proto != StatusRequestComplete {
			t.Fatalf("request %d: %s", i, StatusName(res.proto))
		}
	}
}

// A keep-conn connection reuses the params map of a finished request for
// the next one, cleared: the second request sees its own params only.
func TestServer_ParamsMapReused(t *testing.T) {
	type seen struct {
		params map[string]string
		ptr    uintptr
	}
	ch := make(chan seen, 2)
	s := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		ch <- seen{maps.Clone(r.Params), reflect.ValueOf(r.Params).Pointer()}
		io.WriteString(w, "Status: 200 OK\r\n\r\nok")
	})}
	addr := startServer(t, s, "unix")
	c := &Client{Addr: addr, KeepConn: true, MaxIdle: 1}
	defer c.Close()
	for _, p := range []map[string]string{
		{"REQUEST_METHOD": "GET", "A": "1", "ONLY_FIRST": "x"},
		{"REQUEST_METHOD": "POST", "B": "2"},
	} {
		resp, err := c.Do(context.Background(), &ClientRequest{Params: p})
		if err != nil {
			t.Fatal(err)
		}
		resp.ReadAll()
	}
	first, second := <-ch, <-ch
	if !maps.Equal(first.params, map[string]string{"REQUEST_METHOD": "GET", "A": "1", "ONLY_FIRST": "x"}) ||
		!maps.Equal(second.params, map[string]string{"REQUEST_METHOD": "POST", "B": "2"}) {
		t.Fatalf("params: %v then %v", first.params, second.params)
	}
	if first.ptr != second.ptr {
		t.Errorf("the second request on the connection got a new params map")
	}
}

// Handler goroutines are kept for later requests, and Shutdown stops them.
func TestServer_WorkersReusedAndStopped(t *testing.T) {
	workers := func() int {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		return strings.Count(b.String(), "fcgi.(*workers).loop")
	}
	base := workers()
	s := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		io.WriteString(w, "Status: 200 OK\r\n\r\nok")
	})}
	l, err := Listen("unix:"+filepath.Join(shortTempDir(t), "s.sock"), 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := &Client{Addr: "unix:" + l.Addr().String(), KeepConn: true, MaxIdle: 1}
	for i := 0; i < 20; i++ {
		resp, err := c.Do(context.Background(), &ClientRequest{Params: map[string]string{"REQUEST_METHOD": "GET"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.ReadAll()
	}
	c.Close()
	// Sequential requests: one worker served them all and waits for more.
	if n := workers() - base; n < 1 || n > 2 {
		t.Errorf("%d worker goroutines after 20 sequential requests, want 1 (or 2 while one hands over)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	if n := workers() - base; n != 0 {
		t.Errorf("%d worker goroutines left after Shutdown", n)
	}
}

// TestServer_ShutdownClosesKeptConnUnanswered: a request that comes on a
// connection with nothing else in progress while the server shuts down
// (a web server reusing a kept connection in the moment the server
// drains) gets the connection closed without a record, which nginx
// retries on a new connection, not an FCGI_OVERLOADED answer, which it
// turns into a 502 (seen in e2e TestProcesses_MaxRequestsRecyclesGracefully).
func TestServer_ShutdownClosesKeptConnUnanswered(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, HandlerFunc(func(w ResponseWriter, r *Request) {
		io.WriteString(w, "\r\nok")
	}))
	c := dial(t, startServer(t, s, "unix"))
	c.send(simpleRequest(1, true))
	if res := c.readResponse(1); string(res.stdout) != "\r\nok" {
		t.Fatalf("before shutdown: %q", res.stdout)
	}
	// The moment between Shutdown's flag and its closing of idle
	// connections, held open.
	s.shutdown.Store(true)
	c.send(simpleRequest(1, true))
	c.expectEOF()
}
