package fcgi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"github.com/fcgihost/fcgihost/internal/logbuf"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logBuf collects log lines for assertions.
type logBuf struct{ logbuf.Buffer }

// count counts the lines containing s.
func (l *logBuf) count(s string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testLogger(t *testing.T) (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// startServer serves s on a fresh listener ("tcp" on 127.0.0.1:0 or
// "unix" in a temp dir) and returns the address for Client/Dial.
func startServer(t *testing.T, s *Server, network string) string {
	t.Helper()
	var addr string
	switch network {
	case "tcp":
		addr = "127.0.0.1:0"
	case "tcp6":
		addr = "[::1]:0"
	case "unix":
		addr = "unix:" + filepath.Join(shortTempDir(t), "s.sock")
	}
	l, err := Listen(addr, 0)
	if err != nil {
		if network == "tcp6" {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	return serveOn(t, s, l)
}

func serveOn(t *testing.T, s *Server, l net.Listener) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	if ul, ok := l.(*net.UnixListener); ok {
		return "unix:" + ul.Addr().String()
	}
	return l.Addr().String()
}

// shortTempDir is a temp dir whose paths fit in a unix socket address.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "fcgi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func dial(t *testing.T, addr string) *raw {
	t.Helper()
	network, a := splitAddr(addr)
	c, err := net.Dial(network, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newRaw(t, c)
}

// pipeServer serves s on one end of a net.Pipe and returns the other.
func pipeServer(t *testing.T, s *Server) *raw {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		s.ServeConn(b)
		close(done)
	}()
	t.Cleanup(func() {
		a.Close()
		<-done
	})
	return newRaw(t, a)
}

// raw is a hand-driven web-server side of a connection.
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func newRaw(t *testing.T, c net.Conn) *raw {
	return &raw{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *raw) send(parts ...[]byte) {
	r.t.Helper()
	if _, err := r.c.Write(bytes.Join(parts, nil)); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

type rec struct {
	h       header
	content []byte
}

// read reads one record; a read error is returned.
func (r *raw) read() (rec, error) {
	var hb [8]byte
	if _, err := io.ReadFull(r.br, hb[:]); err != nil {
		return rec{}, err
	}
	h := parseHeader(hb[:])
	b := make([]byte, int(h.ContentLength)+int(h.PaddingLength))
	if _, err := io.ReadFull(r.br, b); err != nil {
		return rec{}, err
	}
	return rec{h: h, content: b[:h.ContentLength]}, nil
}

func (r *raw) mustRead() rec {
	r.t.Helper()
	x, err := r.read()
	if err != nil {
		r.t.Fatalf("read record: %v", err)
	}
	return x
}

// result is what the server answered to one request.
type result struct {
	stdout, stderr []byte
	recs           []rec
	appStatus      uint32
	proto          uint8
	stdoutEnds     int
	stderrEnds     int
}

// readResponse reads records of request id up to its FCGI_END_REQUEST.
func (r *raw) readResponse(id uint16) result {
	r.t.Helper()
	var res result
	for {
		x := r.mustRead()
		if x.h.ID != id {
			r.t.Fatalf("record %s for id %d while reading id %d", typeName(x.h.Type), x.h.ID, id)
		}
		res.recs = append(res.recs, x)
		switch x.h.Type {
		case typeStdout:
			res.stdout = append(res.stdout, x.content...)
			if len(x.content) == 0 {
				res.stdoutEnds++
			}
		case typeStderr:
			res.stderr = append(res.stderr, x.content...)
			if len(x.content) == 0 {
				res.stderrEnds++
			}
		case typeEndRequest:
			res.appStatus = binary.BigEndian.Uint32(x.content[0:4])
			res.proto = x.content[4]
			return res
		default:
			r.t.Fatalf("unexpected %s", typeName(x.h.Type))
		}
	}
}

// expectEOF asserts the server closes the connection.
func (r *raw) expectEOF() {
	r.t.Helper()
	for {
		x, err := r.read()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				r.t.Fatalf("want connection closed, got %v", err)
			}
			return
		}
		r.t.Fatalf("want connection closed, got record %s id %d", typeName(x.h.Type), x.h.ID)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset by peer") || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe))
}

// Record builders.

func begin(id uint16, role Role, keep bool) []byte { return appendBeginRequest(nil, id, role, keep) }

func paramsRecs(id uint16, pairs ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		b = appendPair(b, pairs[i], pairs[i+1])
	}
	out := appendStream(nil, typeParams, id, b)
	return appendHeader(out, typeParams, id, 0)
}

func stdinRecs(id uint16, data []byte) []byte {
	out := appendStream(nil, typeStdin, id, data)
	return appendHeader(out, typeStdin, id, 0)
}

func abortRec(id uint16) []byte { return appendRecord(nil, typeAbortRequest, id, nil) }

func getValuesRec(names ...string) []byte {
	var b []byte
	for _, n := range names {
		b = appendPair(b, n, "")
	}
	return appendRecord(nil, typeGetValues, 0, b)
}

// simpleRequest is a whole GET request.
func simpleRequest(id uint16, keep bool, pairs ...string) []byte {
	return bytes.Join([][]byte{begin(id, RoleResponder, keep), paramsRecs(id, pairs...), stdinRecs(id, nil)}, nil)
}

// echoHandler answers with the params it got and the body.
var echoHandler = HandlerFunc(func(w ResponseWriter, r *Request) {
	body, err := io.ReadAll(r.Stdin)
	if err != nil {
		w.Write([]byte("Status: 500\r\n\r\nbody: " + err.Error()))
		return
	}
	io.WriteString(w, "Content-Type: text/plain\r\nX-Method: "+r.Params["REQUEST_METHOD"]+"\r\nX-Role: "+r.Role.String()+"\r\n\r\n")
	w.Write(body)
})
