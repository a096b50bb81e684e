//go:build linux

package fcgi

// Interop with real software nobody here wrote: cgi-fcgi (libfcgi),
// nginx, php-fpm and spawn-fcgi. Each test skips, saying why, when its
// program is missing, and fails instead when CI=true.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// needProgram finds name on PATH or in the sbin directories.
func needProgram(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true)", name)
	}
	t.Skipf("%s is not installed; skipping", name)
	return ""
}

// startProcess runs cmd in its own process group and stops it (SIGTERM,
// then SIGKILL to the group) at the end of the test.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	// Its own group, so that workers can be killed with it; killed too if
	// the test binary dies before its cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		pid := cmd.Process.Pid
		syscall.Kill(pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-pid, syscall.SIGKILL) // any worker left behind
	})
}

// waitSocket waits until path accepts connections.
func waitSocket(t *testing.T, path string, proc *exec.Cmd) {
	t.Helper()
	waitFor(t, "socket "+path, func() bool {
		if proc != nil && proc.ProcessState != nil {
			t.Fatalf("%s exited: %v", proc.Path, proc.ProcessState)
		}
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return true
		}
		return false
	})
}

// seenReq is what the interop handler saw of one request.
type seenReq struct {
	keep   bool
	params map[string]string
	cause  error
}

// interopHandler answers /slow by waiting for cancellation, and anything
// else with a summary of the request and a hash of its body.
type interopHandler struct {
	mu          sync.Mutex
	seen        []seenReq
	slowStarted chan struct{}
	slow        chan error
}

func (h *interopHandler) ServeFCGI(w ResponseWriter, r *Request) {
	if strings.Contains(r.Params["REQUEST_URI"], "slow") {
		h.slowStarted <- struct{}{}
		<-r.Context().Done()
		h.slow <- context.Cause(r.Context())
		return
	}
	b, err := io.ReadAll(r.Stdin)
	if err != nil {
		io.WriteString(w, "Status: 500\r\n\r\n"+err.Error())
		return
	}
	h.mu.Lock()
	h.seen = append(h.seen, seenReq{keep: r.KeepConn, params: maps.Clone(r.Params)}) // the server reuses the map
	h.mu.Unlock()
	if strings.Contains(r.Params["QUERY_STRING"], "stderr") {
		io.WriteString(w.Stderr(), "fcgi-interop-stderr-marker")
	}
	fmt.Fprintf(w, "Status: 202 Accepted\r\nContent-Type: text/plain\r\nX-Keep: %v\r\n\r\nmethod=%s query=%s len=%d sha=%x",
		r.KeepConn, r.Params["REQUEST_METHOD"], r.Params["QUERY_STRING"], len(b), sha256.Sum256(b))
}

func (h *interopHandler) last() seenReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

func TestInterop_CgiFcgi(t *testing.T) {
	t.Parallel()
	prog := needProgram(t, "cgi-fcgi")
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			h := &interopHandler{}
			s, _ := newTestServer(t, h)
			addr := startServer(t, s, network)
			_, connect := splitAddr(addr)
			body := bytes.Repeat([]byte("cgi-fcgi body "), 20000) // 280 KB: several records
			cmd := exec.Command(prog, "-bind", "-connect", connect)
			cmd.Env = []string{"REQUEST_METHOD=POST", "QUERY_STRING=a=1&b=2", "SCRIPT_FILENAME=/srv/x.js",
				fmt.Sprint("CONTENT_LENGTH=", len(body)), "HTTP_X_LONG=" + strings.Repeat("L", 1000)}
			cmd.Stdin = bytes.NewReader(body)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("cgi-fcgi: %v\n%s", err, out)
			}
			want := fmt.Sprintf("method=POST query=a=1&b=2 len=%d sha=%x", len(body), sha256.Sum256(body))
			if !bytes.HasPrefix(out, []byte("Status: 202 Accepted\r\n")) || !bytes.HasSuffix(out, []byte(want)) {
				t.Errorf("cgi-fcgi printed %q", out)
			}
			got := h.last()
			if got.keep || got.params["SCRIPT_FILENAME"] != "/srv/x.js" || got.params["HTTP_X_LONG"] != strings.Repeat("L", 1000) {
				t.Errorf("handler saw keep=%v params %v", got.keep, got.params)
			}
		})
	}
}

// nginx runs a private nginx in front of a Server on a unix socket, with
// a location per keep-conn setting, and returns an HTTP client to it.
type nginx struct {
	dir    string
	client *http.Client
}

func startNginx(t *testing.T, appSock string) *nginx {
	t.Helper()
	prog := needProgram(t, "nginx")
	dir := shortTempDir(t)
	for _, d := range []string{"body", "fastcgi", "proxy", "uwsgi", "scgi"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	// One process (master_process off), so that it dies with the test
	// binary even when a timeout skips the cleanup.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;" // it must reach the app socket in a private dir
	}
	conf := fmt.Sprintf(`%[3]s
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    fastcgi_temp_path %[1]s/fastcgi;
    proxy_temp_path %[1]s/proxy;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    client_max_body_size 32m;
    upstream app_keep {
        server unix:%[2]s;
        keepalive 4;
    }
    server {
        listen unix:%[1]s/http.sock;
        location /nokeep/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:%[2]s;
        }
        location /keep/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_pass app_keep;
        }
    }
}
`, dir, appSock, user)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	startProcess(t, cmd)
	sock := filepath.Join(dir, "http.sock")
	waitFor(t, "nginx to listen", func() bool {
		if _, err := os.Stat(sock); err == nil {
			return true
		}
		if cmd.ProcessState != nil {
			t.Fatalf("nginx exited: %s", stderr.String())
		}
		return false
	})
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &nginx{dir: dir, client: &http.Client{Transport: tr}}
}

func (n *nginx) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

func TestInterop_Nginx(t *testing.T) {
	t.Parallel()
	needProgram(t, "nginx")
	h := &interopHandler{slow: make(chan error, 1), slowStarted: make(chan struct{}, 1)}
	s, _ := newTestServer(t, h)
	appDir := shortTempDir(t)
	os.Chmod(appDir, 0o755)
	appSock := filepath.Join(appDir, "app.sock")
	l, err := Listen("unix:"+appSock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, s, l)
	ng := startNginx(t, appSock)

	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, loc := range []string{"nokeep", "keep"} {
		t.Run(loc, func(t *testing.T) {
			before := s.Stats().Accepted
			const n = 5
			for i := 0; i < n; i++ {
				resp, err := ng.client.Get(fmt.Sprintf("http://x/%s/hello?i=%d", loc, i))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("method=GET query=i=%d len=0", i)
				if resp.StatusCode != 202 || !strings.HasPrefix(string(b), want) || resp.Header.Get("X-Keep") != fmt.Sprint(loc == "keep") {
					t.Errorf("got %d %v %q", resp.StatusCode, resp.Header, b)
				}
			}
			if got := h.last(); got.keep != (loc == "keep") {
				t.Errorf("FCGI_KEEP_CONN = %v", got.keep)
			}
			conns := s.Stats().Accepted - before
			if loc == "keep" && conns != 1 || loc == "nokeep" && conns != n {
				t.Errorf("%d requests used %d connections", n, conns)
			}

			resp, err := ng.client.Post("http://x/"+loc+"/upload", "application/octet-stream", bytes.NewReader(big))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("method=POST query= len=%d sha=%x", len(big), sha256.Sum256(big)); string(b) != want {
				t.Errorf("5 MiB POST: got %d %q", resp.StatusCode, b)
			}
		})
	}
	t.Run("stderr", func(t *testing.T) {
		resp, err := ng.client.Get("http://x/keep/e?stderr")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitFor(t, "nginx to log stderr", func() bool {
			return strings.Contains(ng.errorLog(), `FastCGI sent in stderr: "fcgi-interop-stderr-marker"`)
		})
	})
	// nginx never sends FCGI_ABORT_REQUEST: it closes the connection when
	// its client goes away. The handler must see that at once.
	t.Run("client gone", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://x/keep/slow", nil)
		errc := make(chan error, 1)
		go func() {
			_, err := ng.client.Do(req)
			errc <- err
		}()
		<-h.slowStarted
		cancel()
		<-errc
		if cause := <-h.slow; cause != ErrConnClosed {
			t.Errorf("handler cause %v, want ErrConnClosed", cause)
		}
	})
}

func TestInterop_PhpFpm(t *testing.T) {
	t.Parallel()
	var prog string
	for _, v := range []string{"php-fpm", "php-fpm8.4", "php-fpm8.3", "php-fpm8.2", "php-fpm8.1"} {
		if p, err := exec.LookPath(v); err == nil {
			prog = p
			break
		}
		if p := "/usr/sbin/" + v; fileExists(p) {
			prog = p
			break
		}
	}
	if prog == "" {
		needProgram(t, "php-fpm")
	}
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "php.sock")
	script := filepath.Join(dir, "t.php")
	os.WriteFile(script, []byte(`<?php
header("X-Test: yes");
if (($_GET["code"] ?? "") !== "") { http_response_code((int)$_GET["code"]); }
$in = file_get_contents("php://input");
if (isset($_GET["log"])) { error_log("php-stderr-marker"); }
echo "hello ", $_GET["name"] ?? "", " ", strlen($in), " ", md5($in);
`), 0o644)
	conf := fmt.Sprintf(`[global]
pid = %[1]s/php-fpm.pid
error_log = %[1]s/php-fpm.log
daemonize = no
[app]
listen = %[2]s
pm = static
pm.max_children = 4
`, dir, sock)
	if os.Geteuid() == 0 {
		conf += "user = root\ngroup = root\n"
	}
	confPath := filepath.Join(dir, "php-fpm.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(prog, "-F", "-R", "-n", "-y", confPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	startProcess(t, cmd)
	waitSocket(t, sock, cmd)

	var dials atomic.Int32
	c := &Client{Addr: "unix:" + sock, KeepConn: true, Dialer: &net.Dialer{
		Control: func(string, string, syscall.RawConn) error { dials.Add(1); return nil },
	}}
	t.Cleanup(func() { c.Close() })
	params := func(query string, n int) map[string]string {
		return map[string]string{
			"SCRIPT_FILENAME": script, "SCRIPT_NAME": "/t.php", "REQUEST_METHOD": "POST",
			"QUERY_STRING": query, "CONTENT_LENGTH": fmt.Sprint(n), "CONTENT_TYPE": "application/octet-stream",
			"SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_URI": "/t.php?" + query,
		}
	}
	tests := []struct {
		name   string
		query  string
		body   []byte
		status int
		want   string
	}{
		{"get", "name=bob", nil, 200, "hello bob 0 " + fmt.Sprintf("%x", md5.Sum(nil))},
		{"status", "code=404", nil, 404, "hello  0"},
		{"post 1 MiB streamed", "name=up", bytes.Repeat([]byte("p"), 1<<20), 200, fmt.Sprintf("hello up %d %x", 1<<20, md5.Sum(bytes.Repeat([]byte("p"), 1<<20)))},
		{"stderr", "log=1", nil, 200, "hello  0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = struct{ io.Reader }{bytes.NewReader(tt.body)}
			}
			resp, err := c.Do(context.Background(), &ClientRequest{Params: params(tt.query, len(tt.body)), Body: body})
			if err != nil {
				t.Fatalf("%v\nphp-fpm: %s", err, stderr.String())
			}
			b, err := resp.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status || resp.Header.Get("X-Test") != "yes" || !strings.HasPrefix(string(b), tt.want) {
				t.Errorf("got %d %v %q", resp.Status, resp.Header, b)
			}
			if tt.name == "stderr" && !strings.Contains(string(resp.Stderr), "php-stderr-marker") {
				t.Errorf("stderr %q", resp.Stderr)
			}
		})
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d sequential keep-conn requests dialled %d times, want 1", len(tests), n)
	}
	t.Run("missing script", func(t *testing.T) {
		p := params("", 0)
		p["SCRIPT_FILENAME"] = filepath.Join(dir, "nope.php")
		resp, err := c.Do(context.Background(), &ClientRequest{Params: p})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := resp.ReadAll()
		if resp.Status != 404 {
			t.Errorf("got %d %q", resp.Status, b)
		}
	})
	// php-fpm gives each connection a worker for as long as it is open,
	// so keep-conn clients must not run more requests at once than it has
	// workers (pm.max_children), as with nginx's keepalive.
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Do(context.Background(), &ClientRequest{Params: params(fmt.Sprint("name=c", i), 0)})
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := resp.ReadAll()
				if !strings.HasPrefix(string(b), fmt.Sprint("hello c", i, " ")) {
					t.Errorf("got %q", b)
				}
			}()
		}
		wg.Wait()
	})
	t.Run("get values", func(t *testing.T) {
		c.CloseIdleConnections() // free the workers for GetValues' own connection
		m, err := c.GetValues(context.Background(), "FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS")
		if err != nil {
			t.Fatal(err)
		}
		// php-fpm answers only FCGI_MPXS_CONNS (php-cgi also the others).
		if m["FCGI_MPXS_CONNS"] != "0" || (m["FCGI_MAX_CONNS"] != "" && m["FCGI_MAX_CONNS"] != "4") {
			t.Errorf("got %v", m)
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// spawn-fcgi creates the socket and starts the app with it on fd 0.
func TestInterop_SpawnFcgi(t *testing.T) {
	t.Parallel()
	prog := needProgram(t, "spawn-fcgi")
	sock := filepath.Join(shortTempDir(t), "spawn.sock")
	cmd := exec.Command(prog, "-n", "-s", sock, "-M", "0600", "--", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FCGI_TEST_HELPER=inherited")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	startProcess(t, cmd)
	waitSocket(t, sock, cmd)
	for i := 0; i < 3; i++ {
		if got := get(t, "unix:"+sock); got != "inherited" {
			t.Fatalf("got %q (stderr %s)", got, stderr.String())
		}
	}
}
