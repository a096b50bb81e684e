package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/oneconn"
	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/fcgihost/fcgihost/scgi"
	"github.com/fcgihost/fcgihost/uwsgi"
)

// cycleServer answers 200, 404, 503, 200, … in turn on a unix socket.
func cycleServer(t *testing.T) (addr string, srv *fcgi.Server) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	codes := []int{200, 404, 503}
	srv = &fcgi.Server{Handler: fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) {
		c := codes[(n.Add(1)-1)%3]
		fmt.Fprintf(w, "Status: %d\r\nContent-Type: text/plain\r\n\r\nbody", c)
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		<-done
	})
	return "unix:" + sock, srv
}

func runMain(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Environ: os.Environ}
	err := m.Run(context.Background(), args)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return out.String(), err
}

// TestBench_StatusHistogram: against a server with a known answer
// pattern, bench counts each status exactly, and keep-conn decides how
// many connections it opens.
func TestBench_StatusHistogram(t *testing.T) {
	tests := []struct {
		keep      string
		wantConns uint64
	}{
		{"true", 3},   // at most one connection per worker (a worker that never got a request opens none)
		{"false", 30}, // one per request
	}
	for _, tt := range tests {
		t.Run("keep-conn="+tt.keep, func(t *testing.T) {
			addr, srv := cycleServer(t)
			out, err := runMain(t, "bench", "--connect", addr, "-c", "3", "-n", "30", "-keep-conn="+tt.keep, "-json", "/x")
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Requests, Errors int
				Bytes            int64
				Status           map[string]int
				LatencyMS        map[string]float64 `json:"latency_ms"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if res.Requests != 30 || res.Errors != 0 || res.Bytes != 30*4 {
				t.Errorf("requests %d errors %d bytes %d, want 30 0 120", res.Requests, res.Errors, res.Bytes)
			}
			for _, c := range []string{"200", "404", "503"} {
				if res.Status[c] != 10 {
					t.Errorf("status %s: %d, want 10 (%v)", c, res.Status[c], res.Status)
				}
			}
			if l := res.LatencyMS; !(l["p50"] <= l["p90"] && l["p90"] <= l["p99"] && l["p99"] <= l["max"] && l["max"] > 0) {
				t.Errorf("latency percentiles out of order: %v", l)
			}
			got := srv.Stats().Accepted
			if tt.keep == "true" && (got < 1 || got > tt.wantConns) || tt.keep == "false" && got != tt.wantConns {
				t.Errorf("server accepted %d connections, want %s%d", got, map[bool]string{true: "1 to ", false: ""}[tt.keep == "true"], tt.wantConns)
			}
		})
	}
}

func TestBench_TextOutput(t *testing.T) {
	addr, _ := cycleServer(t)
	out, err := runMain(t, "bench", "--connect", addr, "-c", "1", "-n", "6", "-X", "POST", "--body", "abc", "--param", "X_TEST=1", "/x")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"6 requests in", "requests/s", "latency  p50 ", " p90 ", " p99 ", " max ", "status   200: 2 404: 2 503: 2", "errors   0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestBench_Errors: nothing listening: every request is an error, named,
// and the exit code is 1.
func TestBench_Errors(t *testing.T) {
	out, err := runMain(t, "bench", "--connect", "unix:"+filepath.Join(t.TempDir(), "none.sock"), "-c", "2", "-n", "5", "/x")
	var ee *exitError
	if err == nil || !asExit(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	if !strings.Contains(out, "errors   5") || !strings.Contains(out, "5 × ") {
		t.Errorf("output:\n%s", out)
	}
}

func asExit(err error, ee **exitError) bool {
	e, ok := err.(*exitError)
	*ee = e
	return ok
}

func TestCGIStatus(t *testing.T) {
	tests := []struct {
		out    string
		status int
		body   int64
		bad    bool
	}{
		{"Content-Type: text/plain\r\n\r\nhello", 200, 5, false},
		{"Status: 404 Not Found\nContent-Type: text/plain\n\nno", 404, 2, false},
		{"Location: /x\r\n\r\n", 302, 0, false},
		{"hello world", 0, 0, true},
	}
	for _, tt := range tests {
		st, n, err := cgiStatus([]byte(tt.out))
		if (err != nil) != tt.bad || st != tt.status || n != tt.body {
			t.Errorf("cgiStatus(%q) = %d %d %v, want %d %d bad=%v", tt.out, st, n, err, tt.status, tt.body, tt.bad)
		}
	}
}

// TestBench_CompareCGI serves one CGI-style script both ways and checks
// that both rows answered every request the same (no speed is asserted).
func TestBench_CompareCGI(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	tests := []struct{ name, code string }{
		{"cgi.lua", "io.write(\"Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\n\")\nio.write(\"q=\", os.getenv(\"QUERY_STRING\"))\n"},
		{"cgi.js", "write(\"Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\n\");\nwrite(\"q=\" + env.QUERY_STRING);\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name)
			if err := os.WriteFile(file, []byte(tt.code), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runMain(t, "bench", "--compare-cgi", file, "--cgi-interpreter", bin, "-c", "2", "-n", "8", "-json", "/"+tt.name+"?a=b")
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				CGI, Pool struct {
					Requests, Errors int
					Bytes            int64
					Status           map[string]int
					FirstError       string `json:"first_error"`
				}
				Ratio float64 `json:"ratio_rps"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for name, r := range map[string]any{"cgi": res.CGI, "pool": res.Pool} {
				b, _ := json.Marshal(r)
				want := `{"Requests":8,"Errors":0,"Bytes":40,"Status":{"201":8},"first_error":""}`
				if string(b) != want {
					t.Errorf("%s row: %s, want %s", name, b, want)
				}
			}
			if res.Ratio <= 0 {
				t.Errorf("ratio %v", res.Ratio)
			}
		})
	}
}

// TestBench_SCGIAndUWSGI: --connect scgi:ADDR and uwsgi:ADDR load those
// servers, a connection per request, and count each answer's status.
func TestBench_SCGIAndUWSGI(t *testing.T) {
	for _, proto := range []string{"scgi", "uwsgi"} {
		t.Run(proto, func(t *testing.T) {
			var n atomic.Int64
			h := func(_ context.Context, p map[string]string, _ io.Reader, w io.Writer) {
				code := 200
				if n.Add(1)%2 == 0 {
					code = 404
				}
				if p["SCRIPT_NAME"] != "/x" {
					code = 400
				}
				if proto == "scgi" {
					fmt.Fprintf(w, "Status: %d X\r\nContent-Type: text/plain\r\n\r\nbody", code)
				} else {
					fmt.Fprintf(w, "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n\r\nbody", code)
				}
			}
			var g *oneconn.Server
			if proto == "scgi" {
				g = scgi.NewServer(h, scgi.Limits{})
			} else {
				g = uwsgi.NewServer(h, uwsgi.Limits{})
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); g.Serve(l) }()
			defer func() { g.Shutdown(context.Background()); <-done }()
			out, err := runMain(t, "bench", "--connect", proto+":"+l.Addr().String(), "-c", "2", "-n", "20", "-json", "/x")
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Requests, Errors int
				Status           map[string]int
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if res.Requests != 20 || res.Errors != 0 || res.Status["200"] != 10 || res.Status["404"] != 10 {
				t.Errorf("bench over %s: %+v", proto, res)
			}
			if st := g.Stats(); st.Accepted != 20 {
				t.Errorf("%d connections for 20 requests", st.Accepted)
			}
		})
	}
}
