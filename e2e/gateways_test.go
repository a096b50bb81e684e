package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// gwClient speaks SCGI or uwsgi to fcgihost directly, as nginx would.
type gwClient struct {
	proto string // "scgi" or "uwsgi"
	addr  string // "127.0.0.1:P" or "unix:/path"
}

type gwResponse struct {
	Status int
	Header http.Header
	Body   string
}

func (g gwClient) do(t *testing.T, method, uri string, body string, extra ...string) gwResponse {
	t.Helper()
	path, query, _ := strings.Cut(uri, "?")
	pairs := []string{"CONTENT_LENGTH", strconv.Itoa(len(body)), "REQUEST_METHOD", method, "REQUEST_URI", uri,
		"QUERY_STRING", query, "DOCUMENT_URI", path, "SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "127.0.0.1",
		"SERVER_NAME", "localhost", "HTTP_X_TEST", "yes"}
	if g.proto == "scgi" {
		pairs = append(pairs, "SCGI", "1")
	}
	pairs = append(pairs, extra...)
	var req []byte
	if g.proto == "scgi" {
		var h []byte
		for _, s := range pairs {
			h = append(append(h, s...), 0)
		}
		req = append([]byte(strconv.Itoa(len(h))+":"), h...)
		req = append(req, ',')
	} else {
		var v []byte
		for _, s := range pairs {
			v = binary.LittleEndian.AppendUint16(v, uint16(len(s)))
			v = append(v, s...)
		}
		req = []byte{0, 0, 0, 0}
		binary.LittleEndian.PutUint16(req[1:3], uint16(len(v)))
		req = append(req, v...)
	}
	req = append(req, body...)
	network, a := "tcp", g.addr
	if rest, ok := strings.CutPrefix(g.addr, "unix:"); ok {
		network, a = "unix", rest
	}
	c, err := net.Dial(network, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s %s: %v", g.proto, uri, err)
	}
	return parseGwAnswer(t, g.proto, string(raw))
}

// parseGwAnswer reads a CGI head (SCGI) or an HTTP/1.1 response (uwsgi).
func parseGwAnswer(t *testing.T, proto, raw string) gwResponse {
	t.Helper()
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("%s: no head in %q", proto, testutil.Tail(raw, 300))
	}
	lines := strings.Split(head, "\r\n")
	r := gwResponse{Header: http.Header{}, Body: body}
	first := lines[0]
	if proto == "uwsgi" {
		rest, ok := strings.CutPrefix(first, "HTTP/1.1 ")
		if !ok {
			t.Fatalf("uwsgi: first line %q is not an HTTP/1.1 status line", first)
		}
		r.Status, _ = strconv.Atoi(rest[:3])
		lines = lines[1:]
	}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ": ")
		r.Header.Add(k, v)
	}
	if proto == "scgi" {
		st := r.Header.Get("Status")
		if st == "" {
			t.Fatalf("scgi: no Status line in %q", head)
		}
		r.Status, _ = strconv.Atoi(st[:3])
	}
	return r
}

func checkGateway(t *testing.T, g gwClient) {
	for _, app := range []string{"echo.js", "echo.lua"} {
		r := g.do(t, "GET", "/"+app+"/p?a=1&k=x&k=y", "")
		var out struct {
			Method  string
			Path    string
			Query   map[string]string
			K       []string
			Headers map[string]string
		}
		if r.Status != 200 || json.Unmarshal([]byte(r.Body), &out) != nil {
			t.Fatalf("%s GET %s: %d %q", g.proto, app, r.Status, r.Body)
		}
		if out.Method != "GET" || out.Path != "/p" || out.Query["a"] != "1" || strings.Join(out.K, ",") != "x,y" || out.Headers["x-test"] != "yes" {
			t.Errorf("%s GET %s: the script saw %+v", g.proto, app, out)
		}
		body := strings.Repeat("0123456789abcdef", 1<<16) // exactly 1 MiB
		r = g.do(t, "POST", "/"+app, body, "CONTENT_TYPE", "application/octet-stream")
		sum := sha256.Sum256([]byte(body))
		var post struct {
			BodyLen    int    `json:"body_len"`
			BodySHA256 string `json:"body_sha256"`
		}
		json.Unmarshal([]byte(r.Body), &post)
		if r.Status != 200 || post.BodyLen != 1<<20 || post.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s POST 1 MiB to %s: %d, script saw %d bytes, sha %s", g.proto, app, r.Status, post.BodyLen, post.BodySHA256)
		}
		r = g.do(t, "GET", "/"+app+"/status/418", "")
		if r.Status != 418 || r.Body != "status 418" {
			t.Errorf("%s status: %d %q", g.proto, r.Status, r.Body)
		}
		r = g.do(t, "GET", "/"+app+"/cookie", "")
		if got := r.Header.Values("X-Multi"); strings.Join(got, ",") != "one,two" || len(r.Header.Values("Set-Cookie")) != 2 {
			t.Errorf("%s headers: %v", g.proto, r.Header)
		}
	}
	r := g.do(t, "GET", "/nope", "")
	if r.Status != 404 {
		t.Errorf("%s unknown app: %d", g.proto, r.Status)
	}
}

// SCGI and uwsgi straight to the binary, on TCP and unix sockets, served
// in one process and by a master's workers (which inherit the sockets).
func TestGateways_Direct(t *testing.T) {
	for _, procs := range []int{0, 2} {
		t.Run(fmt.Sprintf("processes=%d", procs), func(t *testing.T) {
			dir := t.TempDir()
			scgiTCP := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			uwsgiTCP := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			scgiUnix := "unix:" + filepath.Join(dir, "scgi.sock")
			uwsgiUnix := "unix:" + filepath.Join(dir, "uwsgi.sock")
			h := testutil.StartHost(t, testutil.HostOptions{
				Apps: filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps"),
				Args: []string{"--processes", strconv.Itoa(procs),
					"--listen", "scgi:" + scgiTCP, "--listen", "uwsgi:" + uwsgiTCP,
					"--listen", "scgi:" + scgiUnix, "--listen", "uwsgi:" + uwsgiUnix},
			})
			for _, a := range []string{scgiTCP, uwsgiTCP, scgiUnix, uwsgiUnix} {
				testutil.WaitDial(t, a, 30*time.Second, h.Proc)
			}
			for _, g := range []gwClient{{"scgi", scgiTCP}, {"uwsgi", uwsgiTCP}, {"scgi", scgiUnix}, {"uwsgi", uwsgiUnix}} {
				t.Run(g.proto+" "+g.addr[:4], func(t *testing.T) { checkGateway(t, g) })
			}
			// A lying header closes its connection with one log line.
			c, err := net.Dial("tcp", scgiTCP)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "99:CONTENT_LENGTH\x000\x00,")
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if b, _ := io.ReadAll(bufio.NewReader(c)); len(b) != 0 {
				t.Errorf("a lying netstring got an answer: %q", b)
			}
			c.Close()
			testutil.Eventually(t, 30*time.Second, "the bad header logged", func() bool {
				return strings.Contains(h.Output(), "scgi: closing connection: bad request header")
			})
		})
	}
}
