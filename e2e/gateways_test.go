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
				Apps:   filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps"),
				Config: "status_path = \"/fcgihost-status\"\n",
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
			// The status page counts each gateway (summed over workers).
			var st struct {
				Gateways map[string]struct {
					Listeners  int    `json:"listeners"`
					Requests   uint64 `json:"requests"`
					BadHeaders uint64 `json:"bad_headers"`
				} `json:"gateways"`
			}
			r := gwClient{"uwsgi", uwsgiTCP}.do(t, "GET", "/fcgihost-status", "")
			if err := json.Unmarshal([]byte(r.Body), &st); err != nil {
				t.Fatalf("status page: %d %q", r.Status, testutil.Tail(r.Body, 300))
			}
			sg, ug := st.Gateways["scgi"], st.Gateways["uwsgi"]
			// 2 listeners each; per gateway 2 sockets × 2 apps × 4 requests + a 404.
			if sg.Listeners != 2 || ug.Listeners != 2 || sg.Requests < 18 || ug.Requests < 18 || sg.BadHeaders != 1 {
				t.Errorf("status gateways: %+v", st.Gateways)
			}
		})
	}
}

// gwStack is fcgihost with SCGI and uwsgi listeners and the apps of
// testdata/apps plus spin.js, a script that never ends on its own.
type gwStack struct {
	host                *testutil.Host
	apps                string
	scgiSock, uwsgiSock string // unix socket paths
	scgiPort, uwsgiPort int    // TCP ports
}

func startGwHost(t *testing.T) *gwStack {
	t.Helper()
	root := testutil.OpenDir(t)
	s := &gwStack{apps: filepath.Join(root, "apps"),
		scgiSock: filepath.Join(root, "scgi.sock"), uwsgiSock: filepath.Join(root, "uwsgi.sock"),
		scgiPort: testutil.FreePort(t), uwsgiPort: testutil.FreePort(t)}
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps"), s.apps)
	testutil.WriteFile(t, filepath.Join(s.apps, "spin.js"), "module.exports = function () { for (;;) {} };\n", 0o644)
	s.host = testutil.StartHost(t, testutil.HostOptions{Apps: s.apps,
		Config: "workers = 2\nsocket_mode = \"0666\"\ntimeout = \"60s\"\n",
		Args: []string{"--listen", "scgi:unix:" + s.scgiSock, "--listen", "uwsgi:unix:" + s.uwsgiSock,
			"--listen", fmt.Sprintf("scgi:127.0.0.1:%d", s.scgiPort), "--listen", fmt.Sprintf("uwsgi:127.0.0.1:%d", s.uwsgiPort)}})
	for _, a := range []string{"unix:" + s.scgiSock, "unix:" + s.uwsgiSock, fmt.Sprintf("127.0.0.1:%d", s.scgiPort), fmt.Sprintf("127.0.0.1:%d", s.uwsgiPort)} {
		testutil.WaitDial(t, a, 30*time.Second, s.host.Proc)
	}
	return s
}

func (s *gwStack) vars(dir string, port int) map[string]string {
	return map[string]string{"DIR": dir, "PORT": strconv.Itoa(port), "APPS": s.apps,
		"SCGI_SOCKET": s.scgiSock, "UWSGI_SOCKET": s.uwsgiSock,
		"SCGI_PORT": strconv.Itoa(s.scgiPort), "UWSGI_PORT": strconv.Itoa(s.uwsgiPort)}
}

// gwMatrix checks, through a front end at base, a JS and a Lua app: GET
// with a query and a header, POST of exactly 1 MiB, a status code, many
// headers; with abort, that a client going away stops the script.
func gwMatrix(t *testing.T, s *gwStack, base string, abort bool) {
	for _, app := range []string{"echo.js", "echo.lua"} {
		t.Run(app, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/"+app+"/p?a=1&k=x&k=y", nil)
			req.Header.Set("X-Test", "yes")
			r := testutil.Do(t, req)
			var out struct {
				Method  string
				Path    string
				Query   map[string]string
				K       []string
				Headers map[string]string
			}
			if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &out) != nil {
				t.Fatalf("GET: %d %q", r.StatusCode, testutil.Tail(r.Body, 300))
			}
			if out.Method != "GET" || out.Path != "/p" || out.Query["a"] != "1" || strings.Join(out.K, ",") != "x,y" || out.Headers["x-test"] != "yes" {
				t.Errorf("GET: the script saw %+v", out)
			}
			body := strings.Repeat("0123456789abcdef", 1<<16) // exactly 1 MiB
			req, _ = http.NewRequest("POST", base+"/"+app, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/octet-stream")
			r = testutil.Do(t, req)
			sum := sha256.Sum256([]byte(body))
			var post struct {
				BodyLen    int    `json:"body_len"`
				BodySHA256 string `json:"body_sha256"`
			}
			json.Unmarshal([]byte(r.Body), &post)
			if r.StatusCode != 200 || post.BodyLen != 1<<20 || post.BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("POST 1 MiB: %d, the script saw %d bytes, sha256 %s", r.StatusCode, post.BodyLen, post.BodySHA256)
			}
			r = testutil.Get(t, base+"/"+app+"/status/418")
			if r.StatusCode != 418 || r.Body != "status 418" {
				t.Errorf("status: %d %q", r.StatusCode, r.Body)
			}
			r = testutil.Get(t, base+"/"+app+"/status/503")
			if r.StatusCode != 503 {
				t.Errorf("status: %d %q", r.StatusCode, r.Body)
			}
			r = testutil.Get(t, base+"/"+app+"/cookie")
			// Apache's CGI head parser (mod_proxy_scgi) folds repeated
			// headers other than Set-Cookie into one line: "one, two".
			if got := r.Header.Values("X-Multi"); strings.Join(got, ", ") != "one, two" || len(r.Header.Values("Set-Cookie")) != 2 {
				t.Errorf("headers: %v", r.Header)
			}
		})
	}
	// No error channel in SCGI or uwsgi: a script error is a 500 to the
	// client and a line in fcgihost's log (not the web server's).
	for _, app := range []string{"echo.js", "echo.lua"} {
		before := strings.Count(s.host.Output(), "deliberate failure")
		if r := testutil.Get(t, base+"/"+app+"/throw"); r.StatusCode != 500 || strings.Contains(r.Body, "deliberate") {
			t.Errorf("%s/throw: %d %q (want a 500 that does not show the error)", app, r.StatusCode, r.Body)
		}
		testutil.Eventually(t, 10*time.Second, "the script error in fcgihost's log", func() bool {
			return strings.Count(s.host.Output(), "deliberate failure") > before
		})
	}
	if r := testutil.Get(t, base+"/nope/x"); r.StatusCode != 404 {
		t.Errorf("unknown app: %d", r.StatusCode)
	}
	if !abort {
		return
	}
	t.Run("client abort stops the script", func(t *testing.T) {
		before := strings.Count(s.host.Output(), "request cancelled")
		c := &http.Client{Timeout: 2 * time.Second}
		if resp, err := c.Get(base + "/spin.js"); err == nil {
			resp.Body.Close()
			t.Fatalf("spin.js answered %d", resp.StatusCode)
		}
		testutil.Eventually(t, 30*time.Second, "the spinning script is cancelled", func() bool {
			return strings.Count(s.host.Output(), "request cancelled") > before
		})
	})
}

func TestNginxSCGIUWSGI(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "nginx")
	s := startGwHost(t)
	dir, port, port2 := testutil.OpenDir(t), testutil.FreePort(t), testutil.FreePort(t)
	v := s.vars(dir, port)
	v["PORT_UWSGI"] = strconv.Itoa(port2)
	fe := testutil.StartNginxConf(t, dir, port, testutil.Render(t, "nginx-scgi-uwsgi.conf", v))
	testutil.WaitDial(t, fmt.Sprintf("127.0.0.1:%d", port2), 20*time.Second, fe.Proc)
	t.Run("scgi_pass", func(t *testing.T) { gwMatrix(t, s, fe.URL, true) })
	t.Run("uwsgi_pass", func(t *testing.T) { gwMatrix(t, s, fmt.Sprintf("http://127.0.0.1:%d", port2), true) })
}

func TestApacheSCGIUWSGI(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "apache2")
	s := startGwHost(t)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	fe := testutil.StartApache(t, dir, port, testutil.Render(t, "apache-proxy-scgi-uwsgi.conf", s.vars(dir, port)))
	// Apache notices a client that went away only when it writes: no
	// abort check here (docs/deploy/apache-proxy-scgi-uwsgi.conf).
	t.Run("mod_proxy_scgi", func(t *testing.T) { gwMatrix(t, s, fe.URL+"/s", false) })
	t.Run("mod_proxy_uwsgi", func(t *testing.T) { gwMatrix(t, s, fe.URL+"/u", false) })
}

func TestLighttpdSCGIUWSGI(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "lighttpd")
	s := startGwHost(t)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	mkdir(t, filepath.Join(dir, "www"))
	fe := testutil.StartLighttpd(t, dir, port, testutil.Render(t, "lighttpd-scgi-uwsgi.conf", s.vars(dir, port)))
	// lighttpd 1.4.69 keeps the connection to fcgihost open when the client
	// goes away (docs/deploy/lighttpd-scgi-uwsgi.conf): no abort check.
	t.Run("scgi.protocol scgi", func(t *testing.T) { gwMatrix(t, s, fe.URL+"/s", false) })
	t.Run("scgi.protocol uwsgi", func(t *testing.T) { gwMatrix(t, s, fe.URL+"/u", false) })
}

// TestGateways_InheritedSocket: a socket fcgihost inherits speaks the
// protocol a listen address names — "scgi:fd:0", "uwsgi:fd:0" on the
// socket spawn-fcgi passes on fd 0 (as lighttpd's bin-path and mod_fcgid
// do), "uwsgi:fd:3" on a systemd socket — served alone and by a master's
// workers; and a process that cannot start answers 500 in that protocol.
func TestGateways_InheritedSocket(t *testing.T) {
	t.Parallel()
	spawn := testutil.Need(t, "spawn-fcgi")
	bin := testutil.Binary(t)
	apps := filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps")
	for _, tc := range []struct {
		proto string
		procs int
	}{{"scgi", 0}, {"uwsgi", 0}, {"scgi", 2}, {"uwsgi", 2}} {
		t.Run(fmt.Sprintf("%s:fd:0 processes=%d", tc.proto, tc.procs), func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "fd0.sock")
			p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, spawn, "-n", "-s", sock, "--",
				bin, "serve", "--apps", apps, "--listen", tc.proto+":fd:0", "--processes", strconv.Itoa(tc.procs), "--workers", "1")
			testutil.WaitDial(t, "unix:"+sock, 30*time.Second, p)
			checkGateway(t, gwClient{tc.proto, "unix:" + sock})
			want := protoName(tc.proto) + ` listening`
			testutil.Eventually(t, 30*time.Second, "the log says "+want, func() bool { return strings.Contains(p.Output(), want) })
			if strings.Contains(p.Output(), `msg="FastCGI listening"`) {
				t.Errorf("fd 0 also served as FastCGI:\n%s", grepLines(p.Output(), "listening"))
			}
		})
	}
	t.Run("no arguments, the protocol from FCGIHOST_CONFIG", func(t *testing.T) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "fcgihost.toml")
		testutil.WriteFile(t, conf, fmt.Sprintf("apps = %q\nlisten = [\"uwsgi:fd:0\"]\n", apps), 0o644)
		sock := filepath.Join(dir, "fd0.sock")
		p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG=" + conf}, spawn, "-n", "-s", sock, "--", bin)
		testutil.WaitDial(t, "unix:"+sock, 30*time.Second, p)
		r := gwClient{"uwsgi", "unix:" + sock}.do(t, "GET", "/echo.lua/x", "")
		if r.Status != 200 || echoPath(r.Body) != "/x" {
			t.Errorf("uwsgi on fd 0: %d %q", r.Status, r.Body)
		}
	})
	t.Run("a config that cannot load answers 500 in the socket's protocol", func(t *testing.T) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "fcgihost.toml")
		testutil.WriteFile(t, conf, "listen = [\"scgi:fd:0\"]\nno_such_key = 1\n", 0o644)
		sock := filepath.Join(dir, "fd0.sock")
		p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG=" + conf}, spawn, "-n", "-s", sock, "--", bin)
		testutil.WaitDial(t, "unix:"+sock, 30*time.Second, p)
		r := gwClient{"scgi", "unix:" + sock}.do(t, "GET", "/echo.lua/x", "")
		if r.Status != 500 || !strings.Contains(r.Body, "could not start") {
			t.Errorf("SCGI on fd 0 with a broken config: %d %q", r.Status, r.Body)
		}
		testutil.Eventually(t, 30*time.Second, "the cause on stderr", func() bool { return strings.Contains(p.Output(), "no_such_key") })
	})
	t.Run("uwsgi:fd:3 on a systemd socket", func(t *testing.T) {
		activate := testutil.Need(t, "systemd-socket-activate")
		dir := t.TempDir()
		sock := filepath.Join(dir, "sd.sock")
		p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, activate, "-l", sock, "--",
			bin, "serve", "--apps", apps, "--listen", "uwsgi:fd:3")
		testutil.WaitDial(t, "unix:"+sock, 30*time.Second, p)
		// systemd-socket-activate starts fcgihost on the first connection.
		r := gwClient{"uwsgi", "unix:" + sock}.do(t, "GET", "/echo.js/y", "")
		if r.Status != 200 || echoPath(r.Body) != "/y" {
			t.Errorf("uwsgi on systemd's fd 3: %d %q", r.Status, r.Body)
		}
	})
	t.Run("fd:0 without a socket there is an error", func(t *testing.T) {
		_, errOut, code := runBin(t, t.TempDir(), "", "serve", "--apps", apps, "--listen", "scgi:fd:0")
		if code == 0 || !strings.Contains(errOut, "fd 0 is not a listening socket") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

// echoPath is req.path as echo.js and echo.lua report it.
func echoPath(body string) string {
	var out struct{ Path string }
	json.Unmarshal([]byte(body), &out)
	return out.Path
}

func protoName(p string) string {
	if p == "scgi" {
		return "SCGI"
	}
	return "uwsgi"
}

// TestLighttpdSCGISpawn: lighttpd's mod_scgi starts fcgihost itself
// (bin-path, the socket on fd 0) in each protocol, named on the command
// line (docs/deploy/lighttpd-scgi-spawn.conf).
func TestLighttpdSCGISpawn(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "lighttpd")
	bin := testutil.PublicBinary(t)
	root := testutil.OpenDir(t)
	apps := filepath.Join(root, "apps")
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps"), apps)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	mkdir(t, filepath.Join(dir, "www"))
	fe := testutil.StartLighttpd(t, dir, port, testutil.Render(t, "lighttpd-scgi-spawn.conf",
		map[string]string{"DIR": dir, "PORT": strconv.Itoa(port), "APPS": apps, "FCGIHOST": bin}))
	for _, base := range []string{fe.URL + "/s", fe.URL + "/u"} {
		for _, app := range []string{"echo.js", "echo.lua"} {
			r := testutil.Get(t, base+"/"+app+"/p?a=1")
			var out struct {
				Path  string
				Query map[string]string
			}
			if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &out) != nil || out.Path != "/p" || out.Query["a"] != "1" {
				t.Errorf("GET %s/%s/p?a=1: %d %q\n%s", base, app, r.StatusCode, testutil.Tail(r.Body, 300), testutil.Tail(fe.ErrorLog(), 2000))
			}
			body := strings.Repeat("0123456789abcdef", 1<<16) // exactly 1 MiB
			req, _ := http.NewRequest("POST", base+"/"+app, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/octet-stream")
			r = testutil.Do(t, req)
			var post struct {
				BodyLen int `json:"body_len"`
			}
			json.Unmarshal([]byte(r.Body), &post)
			if r.StatusCode != 200 || post.BodyLen != 1<<20 {
				t.Errorf("POST 1 MiB to %s/%s: %d, the script saw %d bytes", base, app, r.StatusCode, post.BodyLen)
			}
			if r := testutil.Get(t, base+"/"+app+"/status/418"); r.StatusCode != 418 || r.Body != "status 418" {
				t.Errorf("%s/%s status: %d %q", base, app, r.StatusCode, r.Body)
			}
		}
	}
}
