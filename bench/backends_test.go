//go:build bench

package bench

// This file starts the FastCGI backends under test, each on a unix socket
// in the test's temp dir, and the private nginx in front of them.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

// backend is one FastCGI server under test.
type backend struct {
	name string // short key: go, js, lua, php, cgi
	desc string // what it is, for the table
	sock string // unix socket path
	path string // request path
	root string // document root sent as DOCUMENT_ROOT/SCRIPT_FILENAME, or ""
	// manyConns is true when the backend serves any number of keep-conn
	// connections at once (a Go server). php-fpm and fcgiwrap children
	// serve one connection each until the web server closes it.
	manyConns bool
	// pgid is the process group of the backend's processes (testutil.Start
	// makes each its own session), whose CPU time is its cost.
	pgid int
}

// goEnv pins the Go processes to the brief's GOMAXPROCS.
var goEnv = []string{"GOMAXPROCS=2", "GOGC=100"}

// built is a program the bench builds once per run (sync.OnceValues).
type built func() (string, error)

// buildOnce returns a built that runs the command made by cmd once, in the
// repository, writing the program to a fresh temp dir under name.
func buildOnce(name string, cmd func(out string) *exec.Cmd) built {
	return sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", name+"-bin-")
		if err != nil {
			return "", err
		}
		out := filepath.Join(dir, name)
		c := cmd(out)
		c.Dir = testutil.RepoRoot()
		if b, err := c.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %v\n%s", name, err, b)
		}
		return out, nil
	})
}

var (
	helloBuild = buildOnce("hellofcgi", func(out string) *exec.Cmd {
		return exec.Command("go", "build", "-o", out, "./bench/cmd/hellofcgi")
	})
	// The C libfcgi responder, with the system's cc and Debian's
	// libfcgi-dev.
	cBuild = buildOnce("hellofcgi-c", func(out string) *exec.Cmd {
		return exec.Command("cc", "-O2", "-o", out, filepath.Join("bench", "testdata", "hellofcgi.c"), "-lfcgi")
	})
)

// helloBinary builds cmd/hellofcgi once.
func helloBinary(t testing.TB) string {
	t.Helper()
	bin, err := helloBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// cBinary builds the C libfcgi responder (bench/testdata/hellofcgi.c) once.
func cBinary(t testing.TB) string {
	t.Helper()
	testutil.Need(t, "cc")
	if _, err := os.Stat("/usr/include/fcgiapp.h"); err != nil {
		t.Fatalf("the C reference needs libfcgi-dev (apt-get install libfcgi-dev): %v", err)
	}
	bin, err := cBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// copyFile copies src to dst with mode.
func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// startBackends starts every backend with workers VMs/children each and
// returns them in table order.
func startBackends(t *testing.T, workers, conns int) []*backend {
	t.Helper()
	bin := testutil.Binary(t)
	php := testutil.Need(t, "php-fpm8.2")
	wrap := testutil.Need(t, "fcgiwrap")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	apps := filepath.Join(dir, "apps")
	www := filepath.Join(dir, "www")
	for _, d := range []string{apps, www} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	repo := testutil.RepoRoot()
	copyFile(t, filepath.Join(repo, "apps", "hello.js"), filepath.Join(apps, "hello.js"), 0o644)
	copyFile(t, filepath.Join(repo, "apps", "hello.lua"), filepath.Join(apps, "hello.lua"), 0o644)
	if err := os.WriteFile(filepath.Join(www, "hello.php"), []byte("<?php echo 'hello world';"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The CGI peer: a CGI-style Lua script run as its own process per
	// request (`fcgihost run FILE` through the #! line), like
	// apps/cgi-env.lua under Apache mod_cgi.
	cgi := fmt.Sprintf("#!%s run\n-- CGI-style hello: the whole file runs per request\nprint(\"Content-Type: text/plain\")\nprint(\"\")\nio.write(\"hello world\")\n", bin)
	if err := os.WriteFile(filepath.Join(www, "hello-cgi.lua"), []byte(cgi), 0o755); err != nil {
		t.Fatal(err)
	}

	goSock := filepath.Join(dir, "go.sock")
	p := testutil.Start(t, dir, goEnv, helloBinary(t), "-listen", "unix:"+goSock)
	testutil.WaitDial(t, "unix:"+goSock, 30*time.Second, p)
	stopOnCleanup(t, p)
	goPID := p.Cmd.Process.Pid

	hostSock := filepath.Join(dir, "fcgihost.sock")
	// One process with workers VMs per app, as php-fpm has workers
	// children; the process model is compared in procs_test.go.
	p = testutil.Start(t, dir, append([]string{"FCGIHOST_CONFIG="}, goEnv...), bin, "serve",
		"--apps", apps, "--listen", "unix:"+hostSock, "--workers", fmt.Sprint(workers), "--processes", "0", "--watch=false")
	testutil.WaitDial(t, "unix:"+hostSock, 30*time.Second, p)
	stopOnCleanup(t, p)
	hostPID := p.Cmd.Process.Pid

	phpSock := filepath.Join(dir, "php-fpm.sock")
	phpConf := fmt.Sprintf(`[global]
pid = %[1]s/php-fpm.pid
error_log = %[1]s/php-fpm.log
daemonize = no
[bench]
listen = %[2]s
listen.mode = 0666
pm = static
pm.max_children = %[3]d
`, dir, phpSock, workers)
	if err := os.WriteFile(filepath.Join(dir, "php-fpm.conf"), []byte(phpConf), 0o644); err != nil {
		t.Fatal(err)
	}
	p = testutil.Start(t, dir, nil, php, "-F", "-R", "-n", "-y", filepath.Join(dir, "php-fpm.conf"))
	testutil.WaitDial(t, "unix:"+phpSock, 30*time.Second, p)
	stopOnCleanup(t, p)
	phpPID := p.Cmd.Process.Pid

	wrapSock := filepath.Join(dir, "fcgiwrap.sock")
	p = testutil.Start(t, dir, nil, wrap, "-c", fmt.Sprint(workers), "-s", "unix:"+wrapSock)
	testutil.WaitDial(t, "unix:"+wrapSock, 30*time.Second, p)
	os.Chmod(wrapSock, 0o666)
	stopOnCleanup(t, p)
	wrapPID := p.Cmd.Process.Pid

	cSock := filepath.Join(dir, "c.sock")
	p = testutil.Start(t, dir, nil, cBinary(t), cSock, fmt.Sprint(conns))
	testutil.WaitDial(t, "unix:"+cSock, 30*time.Second, p)
	stopOnCleanup(t, p)
	cPID := p.Cmd.Process.Pid

	return []*backend{
		{name: "go", desc: "plain Go handler on package fcgi (ceiling)", sock: goSock, path: "/hello", manyConns: true, pgid: goPID},
		{name: "c", desc: fmt.Sprintf("C on libfcgi, %d pre-forked processes (bench/testdata/hellofcgi.c)", conns), sock: cSock, path: "/hello", manyConns: true, pgid: cPID},
		{name: "js", desc: "fcgihost, apps/hello.js (goja)", sock: hostSock, path: "/hello.js", manyConns: true, pgid: hostPID},
		{name: "lua", desc: "fcgihost, apps/hello.lua (gopher-lua)", sock: hostSock, path: "/hello.lua", manyConns: true, pgid: hostPID},
		{name: "php", desc: "php-fpm 8.2, pm=static", sock: phpSock, path: "/hello.php", root: www, pgid: phpPID},
		{name: "cgi", desc: "fcgiwrap + `fcgihost run` per request (CGI)", sock: wrapSock, path: "/hello-cgi.lua", root: www, pgid: wrapPID},
	}
}

// stopOnCleanup stops p's whole process group at cleanup: SIGTERM, so
// that servers remove their sockets, then (after at most 5s) SIGKILL for
// whatever is left — fcgiwrap's children outlive their parent and hold
// its output pipe, on which testutil's cleanup would otherwise wait
// forever. testutil.Start's own cleanup (registered earlier, run later)
// then reaps p.
func stopOnCleanup(t *testing.T, p *testutil.Proc) {
	t.Cleanup(func() {
		pgid := p.Cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		for deadline := time.Now().Add(5 * time.Second); groupAlive(pgid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// groupAlive reports whether a process of group pgid is still running (a
// zombie waiting to be reaped does not count).
func groupAlive(pgid int) bool {
	alive := false
	eachInGroup(pgid, func(state string, _ []string) { alive = alive || state != "Z" })
	return alive
}

// eachInGroup calls f with the state and the /proc/PID/stat fields (from
// field 3, the state, on) of every process of group pgid.
func eachInGroup(pgid int, f func(state string, fields []string)) error {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	want := strconv.Itoa(pgid)
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		// fields[0] is field 3 (state); pgrp is field 5.
		if len(fields) < 15 || fields[2] != want {
			continue
		}
		f(fields[0], fields)
	}
	return nil
}

// params are the FastCGI params nginx's fastcgi_params would send for a
// GET of b.path.
func (b *backend) params() map[string]string {
	p := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "bench",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_NAME":       "localhost",
		"SERVER_ADDR":       "127.0.0.1",
		"SERVER_PORT":       "80",
		"REMOTE_ADDR":       "127.0.0.1",
		"REMOTE_PORT":       "50000",
		"REQUEST_SCHEME":    "http",
		"REQUEST_METHOD":    "GET",
		"REQUEST_URI":       b.path,
		"QUERY_STRING":      "",
		"SCRIPT_NAME":       b.path,
		"DOCUMENT_URI":      b.path,
		"CONTENT_LENGTH":    "",
		"CONTENT_TYPE":      "",
		"HTTP_HOST":         "localhost",
	}
	if b.root != "" {
		p["DOCUMENT_ROOT"] = b.root
		p["SCRIPT_FILENAME"] = b.root + b.path
	}
	return p
}

// check sends one request to b over FastCGI and fails the test unless it
// answers 200 with "hello world" in the body.
func (b *backend) check(t *testing.T) {
	t.Helper()
	if body := b.checkStatus(t, http.StatusOK); !strings.Contains(body, "hello world") {
		t.Fatalf("%s: body %q, want hello world", b.name, body)
	}
}

// checkStatus sends one request to b over FastCGI, fails the test unless
// the status is want, and returns the body.
func (b *backend) checkStatus(t *testing.T, want int) string {
	t.Helper()
	c := &fcgi.Client{Addr: "unix:" + b.sock}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: b.params()})
	if err != nil {
		t.Fatalf("%s: %v", b.name, err)
	}
	body, err := resp.ReadAll()
	if err != nil {
		t.Fatalf("%s: read body: %v", b.name, err)
	}
	if resp.Status != want {
		t.Fatalf("%s: got %d %q (stderr %q), want %d", b.name, resp.Status, body, resp.Stderr, want)
	}
	return string(body)
}

// nginxKeepaliveTimeout closes nginx's idle upstream connections soon
// after a run: an idle keep-conn connection pins a php-fpm or fcgiwrap
// child (it waits on that connection and accepts no other), so the next
// run must not start before they are closed.
const nginxKeepaliveTimeout = 2 * time.Second

// nginx is the private nginx in front of every backend: for each backend
// one port with fastcgi_keep_conn on and an upstream keepalive pool, one
// with keep-conn off (a connection per request).
type nginx struct {
	proc *testutil.Proc
	dir  string
	urls map[string]string // backend name + "/keep" or "/nokeep" → URL
}

func startNginx(t *testing.T, backends []*backend, conns, workers int) *nginx {
	t.Helper()
	bin := testutil.Need(t, "nginx")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	n := &nginx{dir: dir, urls: map[string]string{}}
	var servers strings.Builder
	var ports []int
	for _, b := range backends {
		for _, keep := range []bool{true, false} {
			port := testutil.FreePort(t)
			ports = append(ports, port)
			mode, upstream := "nokeep", fmt.Sprintf("%s_nokeep", b.name)
			keepConn, keepalive := "off", ""
			if keep {
				mode, upstream = "keep", fmt.Sprintf("%s_keep", b.name)
				keepConn, keepalive = "on", fmt.Sprintf(" keepalive %d; keepalive_timeout %s;", conns, nginxKeepaliveTimeout)
			}
			scriptFilename := ""
			root := filepath.Join(dir, "www")
			if b.root != "" {
				root = b.root
				scriptFilename = "      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
			}
			fmt.Fprintf(&servers, `  upstream %[1]s { server unix:%[2]s;%[3]s }
  server {
    listen 127.0.0.1:%[4]d;
    server_name localhost;
    root %[5]s;
    location / {
      include /etc/nginx/fastcgi_params;
%[6]s      fastcgi_keep_conn %[7]s;
      fastcgi_pass %[1]s;
    }
  }
`, upstream, b.sock, keepalive, port, root, scriptFilename, keepConn)
			n.urls[b.name+"/"+mode] = fmt.Sprintf("http://127.0.0.1:%d%s", port, b.path)
		}
	}
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	n.proc = runNginx(t, bin, dir, workers, servers.String(), ports)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error.log:\n%s", testutil.Tail(n.errorLog(), 4000))
		}
	})
	return n
}

// runNginx writes dir/nginx.conf around the server blocks (its temp
// paths and logs in dir), starts nginx there, waits for every port and
// stops it at cleanup.
func runNginx(t *testing.T, bin, dir string, workers int, servers string, ports []int) *testutil.Proc {
	t.Helper()
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes %[2]d;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  fastcgi_temp_path %[1]s/fastcgi;
  proxy_temp_path %[1]s/proxy;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[3]s}
`, dir, workers, servers)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.Start(t, dir, nil, bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	for _, port := range ports {
		testutil.WaitDial(t, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second, p)
	}
	stopOnCleanup(t, p)
	return p
}

func (n *nginx) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// check fetches url once and fails the test unless it is 200 with hello
// world.
func checkURL(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "hello world") {
		t.Fatalf("GET %s: got %d %q, want 200 with hello world", url, resp.StatusCode, body)
	}
}

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// Linux everywhere fcgihost runs).
const clockTick = 10 * time.Millisecond

// groupCPU is the CPU time (user + system, plus that of reaped children)
// used so far by the processes of process group pgid.
func groupCPU(pgid int) (time.Duration, error) {
	var ticks int64
	var perr error
	err := eachInGroup(pgid, func(_ string, f []string) {
		// f[11:15] are fields 14..17: utime, stime, cutime, cstime.
		for _, v := range f[11:15] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil && perr == nil {
				perr = fmt.Errorf("parse /proc stat of group %d: %w", pgid, err)
			}
			ticks += n
		}
	})
	if err == nil {
		err = perr
	}
	return time.Duration(ticks) * clockTick, err
}
