// Package testutil starts the real parts the end-to-end tests run against:
// the fcgihost binary built from this tree, and private copies of nginx and
// other front ends on loopback, each in the test's temp dir, on free ports,
// stopped by the test's cleanup.
package testutil

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Need skips the test when program is not installed, with the reason, or
// fails it when CI=true (CI installs every program the tests use).
func Need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
			if _, e := os.Stat(filepath.Join(dir, program)); e == nil {
				return filepath.Join(dir, program)
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI installs it in .ci/run)", program)
		}
		t.Skipf("%s is not installed; skipping (apt-get install it to run this test)", program)
	}
	return p
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/fcgihost once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fcgihost-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fcgihost")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/fcgihost")
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Proc is a started process whose output is captured.
type Proc struct {
	Cmd *exec.Cmd
	out *syncBuffer
}

// Output is everything the process printed so far (stdout and stderr).
func (p *Proc) Output() string { return p.out.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit (up to d) and returns its exit code
// (-1 if it had to be killed).
func (p *Proc) Wait(d time.Duration) int {
	done := make(chan struct{})
	go func() { p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.Cmd.Process.Kill()
		<-done
		return -1
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs name with args in dir (its own process group, so a server
// that signals its group cannot take the test down), and kills it at
// cleanup. Extra env entries are appended to the test's environment.
func Start(t testing.TB, dir string, env []string, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Cmd: cmd, out: out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(name), Tail(out.String(), 4000))
		}
	})
	return p
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// WaitDial waits until addr ("host:port" or "unix:/path") accepts
// connections, failing the test after d.
func WaitDial(t testing.TB, addr string, d time.Duration, p *Proc) {
	t.Helper()
	network, a := "tcp", addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, a = "unix", rest
	}
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout(network, a, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p != nil && p.Cmd.ProcessState != nil {
			t.Fatalf("process exited before listening on %s:\n%s", addr, p.Output())
		}
		if time.Now().After(deadline) {
			out := ""
			if p != nil {
				out = p.Output()
			}
			t.Fatalf("nothing listening on %s after %s: %v\n%s", addr, d, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Host is a running fcgihost.
type Host struct {
	*Proc
	FCGI string // FastCGI address ("127.0.0.1:P" or "unix:/path")
	HTTP string // base URL of the HTTP listener, or ""
	Dir  string
}

// HostOptions say how to start fcgihost.
type HostOptions struct {
	Apps   string   // apps dir (default: the repo's apps/)
	Config string   // TOML config content (written to DIR/fcgihost.toml) or ""
	Unix   bool     // listen on a unix socket instead of TCP
	HTTP   bool     // also open an HTTP listener
	Args   []string // extra serve flags
	Env    []string
	// Wrapper, if set, runs the binary through this command line (e.g.
	// prlimit); it must exec the binary so the PID stays the host's.
	Wrapper []string
}

// StartHost starts `fcgihost serve` and waits until it listens.
func StartHost(t testing.TB, o HostOptions) *Host {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	if o.Apps == "" {
		o.Apps = filepath.Join(RepoRoot(), "apps")
	}
	h := &Host{Dir: dir}
	args := []string{"serve", "--apps", o.Apps}
	if o.Unix {
		h.FCGI = "unix:" + filepath.Join(dir, "fcgihost.sock")
	} else {
		h.FCGI = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	}
	args = append(args, "--listen", h.FCGI)
	if o.HTTP {
		hp := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		h.HTTP = "http://" + hp
		args = append(args, "--http", hp)
	}
	if o.Config != "" {
		cf := filepath.Join(dir, "fcgihost.toml")
		if err := os.WriteFile(cf, []byte(o.Config), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", cf)
	}
	args = append(args, o.Args...)
	env := append([]string{"FCGIHOST_CONFIG="}, o.Env...)
	if len(o.Wrapper) > 0 {
		args = append(append(append([]string{}, o.Wrapper[1:]...), bin), args...)
		bin = Need(t, o.Wrapper[0])
	}
	h.Proc = Start(t, dir, env, bin, args...)
	WaitDial(t, h.FCGI, 30*time.Second, h.Proc)
	if h.HTTP != "" {
		WaitDial(t, strings.TrimPrefix(h.HTTP, "http://"), 10*time.Second, h.Proc)
	}
	return h
}

// Nginx is a private nginx.
type Nginx struct {
	*Proc
	Port int
	Dir  string
	URL  string
}

// StartNginx starts a private nginx passing to h. server is the body of
// its server{} block (the test's locations); {{PORT}}, {{DIR}} and {{FCGI}}
// (an nginx fastcgi_pass target of the host) are replaced, and the
// upstream "fcgihost" (with keepalive) names the host.
func StartNginx(t testing.TB, h *Host, server string) *Nginx {
	t.Helper()
	return startNginx(t, []*Host{h}, server)
}

// startNginx starts a private nginx whose upstream "fcgihost" lists hosts.
func startNginx(t testing.TB, hosts []*Host, server string) *Nginx {
	t.Helper()
	bin := Need(t, "nginx")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	port := FreePort(t)
	var up strings.Builder
	for _, h := range hosts { // "host:port" and "unix:/path" are nginx's forms too
		fmt.Fprintf(&up, "    server %s;\n", h.FCGI)
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  fastcgi_temp_path %[1]s/fastcgi;
  proxy_temp_path %[1]s/proxy;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  client_max_body_size 64m;
  include /etc/nginx/mime.types;
  upstream fcgihost {
%[3]s    keepalive 16;
  }
  server {
    listen 127.0.0.1:%[2]d;
    server_name localhost;
    root %[1]s/www;
%[4]s
  }
}
`, dir, port, up.String(), strings.NewReplacer("{{PORT}}", fmt.Sprint(port), "{{DIR}}", dir, "{{FCGI}}", hosts[0].FCGI).Replace(server))
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, dir, nil, bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	WaitDial(t, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second, p)
	n := &Nginx{Proc: p, Port: port, Dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error.log:\n%s", Tail(n.ErrorLog(), 4000))
		}
	})
	return n
}

// ErrorLog returns nginx's error log so far.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	return string(b)
}

// Response is a fetched HTTP response with its body read.
type Response struct {
	*http.Response
	Body string
}

// Do sends req with a plain client (no redirects followed) and reads the
// body.
func Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return &Response{Response: resp, Body: string(b)}
}

// Get fetches url.
func Get(t testing.TB, url string) *Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, req)
}

// Eventually polls f every 20ms until it returns true or d passes.
func Eventually(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
