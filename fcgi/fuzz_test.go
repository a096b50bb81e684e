package fcgi

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// fuzzConn is a connection whose web server side is a fixed byte string;
// what the server writes is kept.
type fuzzConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed bool
}

func (f *fuzzConn) Read(p []byte) (int, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	return f.in.Read(p)
}

func (f *fuzzConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, net.ErrClosed
	}
	return f.out.Write(p)
}

func (f *fuzzConn) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func (f *fuzzConn) LocalAddr() net.Addr                { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (f *fuzzConn) RemoteAddr() net.Addr               { return &net.UnixAddr{Name: "", Net: "unix"} }
func (f *fuzzConn) SetDeadline(t time.Time) error      { return nil }
func (f *fuzzConn) SetReadDeadline(t time.Time) error  { return nil }
func (f *fuzzConn) SetWriteDeadline(t time.Time) error { return nil }

func fuzzSeeds() [][]byte {
	big := bytes.Repeat([]byte("B"), 70000)
	return [][]byte{
		simpleRequest(1, true, "REQUEST_METHOD", "GET", "QUERY_STRING", "a=1"),
		bytes.Join([][]byte{begin(1, RoleResponder, false), paramsRecs(1, "X", string(big[:300])), stdinRecs(1, big)}, nil),
		bytes.Join([][]byte{begin(1, RoleResponder, true), begin(2, RoleAuthorizer, true), paramsRecs(2, "FCGI_APACHE_ROLE", "AUTHORIZER"), paramsRecs(1), stdinRecs(1, []byte("body")), abortRec(2)}, nil),
		getValuesRec("FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"),
		appendRecord(nil, 42, 0, []byte("x")),
		begin(1, RoleFilter, true),
		append(begin(1, RoleResponder, true), appendRecord(nil, typeParams, 1, []byte{0x80, 0, 0})...),
		append(simpleRequest(3, true), simpleRequest(3, false)...),
	}
}

// FuzzServerConn feeds arbitrary bytes to a server connection: the record
// reader, the params decoder and the request state machine. Nothing may
// panic or hang, and what the server writes must be well-formed records.
func FuzzServerConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Server{
			Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
				b, _ := io.ReadAll(r.Stdin)
				w.Write([]byte("Content-Type: text/plain\r\n\r\n"))
				w.Write(b)
				w.Stderr().Write([]byte(r.Params["X"]))
			}),
			Logger:         slog.New(slog.DiscardHandler),
			MaxParamsBytes: 4096,
			MaxParams:      64,
			MaxReqsPerConn: 8,
			StdinBuffer:    1024,
			SpillDir:       dir,
		}
		// A hang is a bug too: crash so that the fuzzer keeps the input.
		watchdog := time.AfterFunc(time.Minute, func() { panic(fmt.Sprintf("server hung on input %q", data)) })
		defer watchdog.Stop()
		fc := &fuzzConn{in: bytes.NewReader(data)}
		s.ServeConn(fc)
		for s.Stats().ActiveConns != 0 {
			time.Sleep(time.Millisecond)
		}
		fc.mu.Lock()
		out := fc.out.Bytes()
		fc.mu.Unlock()
		for len(out) > 0 {
			if len(out) < headerLen {
				t.Fatalf("torn record header: % x", out)
			}
			h := parseHeader(out)
			if h.Version != 1 || int(h.PaddingLength) != padLen(int(h.ContentLength)) {
				t.Fatalf("bad record written: %+v", h)
			}
			n := headerLen + int(h.ContentLength) + int(h.PaddingLength)
			if n > len(out) {
				t.Fatalf("torn record: %+v with %d bytes left", h, len(out))
			}
			out = out[n:]
		}
	})
}

// FuzzParams checks the name-value pair decoder against the encoder.
func FuzzParams(f *testing.F) {
	f.Add(appendPair(appendPair(nil, "A", "b"), "LONG", string(bytes.Repeat([]byte("x"), 200))))
	f.Add([]byte{0x80, 0, 0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeParams(data)
		if err != nil {
			return
		}
		var enc []byte
		for _, k := range slices.Sorted(maps.Keys(m)) {
			enc = appendPair(enc, k, m[k])
		}
		m2, err := DecodeParams(enc)
		if err != nil {
			t.Fatalf("re-encoded params do not decode: %v", err)
		}
		if !maps.Equal(m, m2) {
			t.Fatalf("round trip changed %v to %v", m, m2)
		}
		if len(enc) > len(data) {
			t.Fatalf("re-encoding grew %d bytes to %d", len(data), len(enc))
		}
	})
}
