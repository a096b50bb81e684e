package e2e

// This file runs every deployment recipe of docs/deploy against the real
// web server (issue 6): each config is rendered only for its paths and
// ports, the server is started on loopback in the test's own directory,
// and the same matrix is checked through it — for a JavaScript and a Lua
// app, at the URL root and under a prefix: a GET with a query (with the
// SCRIPT_NAME and PATH_INFO the server sends), a POST body, and a script
// error reaching that server's error log through FCGI_STDERR.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

// envReply is what testdata/front/env.js and env.lua answer.
type envReply struct {
	Engine         string `json:"engine"`
	Method         string `json:"method"`
	Path           string `json:"path"`
	X              string `json:"x"`
	Body           string `json:"body"`
	ScriptName     string `json:"script_name"`
	PathInfo       string `json:"path_info"`
	ScriptFilename string `json:"script_filename"`
	RequestURI     string `json:"request_uri"`
	DocumentRoot   string `json:"document_root"`
	AuthVia        string `json:"auth_via"`
	RemoteUser     string `json:"remote_user"`
	Role           string `json:"role"`
}

func envOf(t *testing.T, r *testutil.Response) envReply {
	t.Helper()
	var e envReply
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, testutil.Tail(r.Body, 500))
	}
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("body not JSON: %v\n%s", err, testutil.Tail(r.Body, 500))
	}
	return e
}

// mount is one way a front end reaches the apps: the URL before
// "/env.EXT/a/b", and the SCRIPT_NAME and PATH_INFO the server should send
// for it ("EXT" is replaced by js or lua).
type mount struct {
	name                 string
	base                 string
	scriptName, pathInfo string
}

// stack is a front end under test.
type stack struct {
	fe     *testutil.FrontEnd
	mounts []mount
	// stderrMark starts the line the server logs for an FCGI_STDERR
	// record; "" when this server does not log them (skipReason says why).
	stderrMark, skipReason string
	// host is the fcgihost the front end talks to, nil when the front end
	// spawns fcgihost itself (then its log is the server's error log).
	host *testutil.Host
}

func token(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// runMatrix checks GET, POST and the error log for both engines through
// every mount of s.
func runMatrix(t *testing.T, s stack) {
	for _, eng := range []string{"js", "lua"} {
		for _, m := range s.mounts {
			t.Run(eng+"/"+m.name, func(t *testing.T) {
				script := "/env." + eng
				t.Run("GET", func(t *testing.T) {
					r := testutil.Get(t, m.base+script+"/a/b?x=1&y=two")
					e := envOf(t, r)
					if e.Engine != eng || e.Method != "GET" || e.Path != "/a/b" || e.X != "1" {
						t.Errorf("engine %q method %q path %q x %q; want %s GET /a/b 1", e.Engine, e.Method, e.Path, e.X, eng)
					}
					if got := r.Header.Get("X-Engine"); got != eng {
						t.Errorf("X-Engine = %q", got)
					}
					wantSN := strings.ReplaceAll(m.scriptName, "EXT", eng)
					wantPI := strings.ReplaceAll(m.pathInfo, "EXT", eng)
					if e.ScriptName != wantSN || e.PathInfo != wantPI {
						t.Errorf("SCRIPT_NAME %q PATH_INFO %q, want %q %q", e.ScriptName, e.PathInfo, wantSN, wantPI)
					}
					if !strings.HasSuffix(e.RequestURI, script+"/a/b?x=1&y=two") {
						t.Errorf("REQUEST_URI %q", e.RequestURI)
					}
				})
				t.Run("POST", func(t *testing.T) {
					body := "payload " + token(eng+"-"+m.name) + " äöü"
					r := testutil.Do(t, newReq(t, "POST", m.base+script+"/form", []byte(body), "text/plain; charset=utf-8"))
					e := envOf(t, r)
					if e.Method != "POST" || e.Path != "/form" || e.Body != body {
						t.Errorf("method %q path %q body %q; want POST /form %q", e.Method, e.Path, e.Body, body)
					}
				})
				t.Run("error log", func(t *testing.T) {
					tok := token("err-" + eng + "-" + m.name)
					r := testutil.Get(t, m.base+script+"/throw?token="+tok)
					if r.StatusCode != 500 || strings.Contains(r.Body, tok) {
						t.Fatalf("status %d body %q: want a plain 500", r.StatusCode, r.Body)
					}
					if s.host != nil {
						testutil.Eventually(t, 10*time.Second, "fcgihost logs the script error", func() bool {
							return strings.Contains(s.host.Output(), "deliberate failure "+tok)
						})
					}
					if s.stderrMark == "" {
						t.Skip(s.skipReason)
					}
					line := regexp.MustCompile(regexp.QuoteMeta(s.stderrMark) + `.*deliberate failure ` + tok)
					testutil.Eventually(t, 10*time.Second, "the error reaches "+s.fe.Name+"'s error log as "+s.stderrMark+"…", func() bool {
						return line.MatchString(s.fe.ErrorLog())
					})
				})
			})
		}
	}
}

// frontApps copies testdata/front (env.js, env.lua) into a directory the
// web server's user can read.
func frontApps(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testutil.OpenDir(t), "apps")
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "front"), dir)
	return dir
}

// startSocketHost starts fcgihost serving apps on a unix socket any local
// user may connect to, with the status page on.
func startSocketHost(t *testing.T, apps string) (*testutil.Host, string) {
	t.Helper()
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true,
		Config: "workers = 2\nsocket_mode = \"0666\"\nstatus_path = \"/fcgihost-status\"\n"})
	testutil.Open(t, h.Dir)
	return h, strings.TrimPrefix(h.FCGI, "unix:")
}

// fcgiCounters reads fcgihost's status page straight from its socket:
// FastCGI connections accepted and requests served so far.
func fcgiCounters(t *testing.T, h *testutil.Host) (conns, reqs uint64) {
	t.Helper()
	c := &fcgi.Client{Addr: h.FCGI}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/fcgihost-status", "REQUEST_URI": "/fcgihost-status", "REMOTE_ADDR": "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := resp.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		FastCGI struct {
			Connections uint64 `json:"connections"`
			Requests    uint64 `json:"requests"`
		} `json:"fastcgi"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("status page: %v\n%s", err, b)
	}
	return st.FastCGI.Connections, st.FastCGI.Requests
}

// checkReuse sends n requests through the front end and checks that they
// did not each need a new FastCGI connection (FCGI_KEEP_CONN honoured).
func checkReuse(t *testing.T, h *testutil.Host, url string) {
	t.Helper()
	const n = 20
	c0, r0 := fcgiCounters(t, h)
	for i := 0; i < n; i++ {
		if r := testutil.Get(t, url); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
	}
	c1, r1 := fcgiCounters(t, h)
	conns, reqs := c1-c0-1, r1-r0-1 // less this status request's own
	t.Logf("%d requests over %d new FastCGI connections", reqs, conns)
	if reqs < n || conns >= reqs {
		t.Errorf("%d requests took %d new connections: connections are not kept", reqs, conns)
	}
}

func TestNginx(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "nginx")
	apps := frontApps(t)
	h, sock := startSocketHost(t, apps)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	conf := testutil.Render(t, "nginx.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": sock, "APPS": apps})
	fe := testutil.StartNginxConf(t, dir, port, conf)
	runMatrix(t, stack{fe: fe, host: h, stderrMark: `FastCGI sent in stderr: "`, mounts: []mount{
		{"root", fe.URL, "/env.EXT/a/b", ""},
		{"prefix", fe.URL + "/app", "/app", "/env.EXT/a/b"},
	}})
	t.Run("keep-alive upstream", func(t *testing.T) { checkReuse(t, h, fe.URL+"/env.lua/") })
	t.Run("extensionless app under the prefix", func(t *testing.T) {
		testutil.WriteFile(t, filepath.Join(apps, "plain.lua"), "return function() return 'plain' end\n", 0o644)
		testutil.Eventually(t, 10*time.Second, "the new app plain.lua is served under /app/plain/x", func() bool {
			r := testutil.Get(t, fe.URL+"/app/plain/x")
			return r.StatusCode == 200 && r.Body == "plain"
		})
	})
}

func TestApacheProxyFCGI(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "apache2")
	apps := frontApps(t)
	h, sock := startSocketHost(t, apps)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	conf := testutil.Render(t, "apache-proxy-fcgi.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": sock, "APPS": apps})
	fe := testutil.StartApache(t, dir, port, conf)
	runMatrix(t, stack{fe: fe, host: h, stderrMark: "AH01071: Got error '", mounts: []mount{
		{"root", fe.URL, "/env.EXT", "/a/b"},
		{"prefix", fe.URL + "/app", "/app/env.EXT", "/a/b"},
		{"ProxyPassMatch", fe.URL + "/pm", "/pm", "/env.EXT/a/b"},
	}})
	t.Run("proxy:fcgi:// SCRIPT_FILENAME prefix", func(t *testing.T) {
		e := envOf(t, testutil.Get(t, fe.URL+"/env.js/a"))
		if want := "proxy:fcgi://localhost" + filepath.Join(apps, "env.js"); e.ScriptFilename != want {
			t.Errorf("SCRIPT_FILENAME %q, want %q (fcgihost strips the prefix)", e.ScriptFilename, want)
		}
	})
	t.Run("enablereuse keeps connections", func(t *testing.T) { checkReuse(t, h, fe.URL+"/env.lua/") })
}

// htpasswd is an Apache password file (SHA-1 form) for users alice
// (allowed by the authorizer scripts) and bob (refused by them).
func htpasswd() string {
	line := func(user, pw string) string {
		sum := sha1.Sum([]byte(pw))
		return user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
	}
	return line("alice", "wonderland") + line("bob", "builder")
}

// authScript copies testdata/auth/auth.EXT to dir; with shebang set its
// first line names the fcgihost binary and the file is executable.
func authScript(t *testing.T, dir, eng string, shebang bool) string {
	t.Helper()
	src := filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "auth", "auth."+eng)
	b := readFile(t, src)
	dst := filepath.Join(dir, "auth."+eng)
	if shebang {
		testutil.WriteFile(t, dst, "#!"+testutil.PublicBinary(t)+"\n"+b, 0o755)
	} else {
		testutil.WriteFile(t, dst, b, 0o644)
	}
	return dst
}

// startFcgid starts Apache with docs/deploy/apache-fcgid.conf: the docroot
// of env scripts, /private protected by the authorizer auth.EXT.
func startFcgid(t *testing.T, authEng string) (*testutil.FrontEnd, string) {
	t.Helper()
	return startFcgidWith(t, authEng, "workers = 1\n")
}

// startFcgidWith is startFcgid with toml as the fcgihost.toml its
// processes read.
func startFcgidWith(t *testing.T, authEng, toml string) (*testutil.FrontEnd, string) {
	t.Helper()
	testutil.Need(t, "apache2")
	bin := testutil.PublicBinary(t)
	root := testutil.OpenDir(t)
	docroot, private := filepath.Join(root, "www"), filepath.Join(root, "private")
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "front"), docroot)
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "private"), private)
	auth := authScript(t, filepath.Join(root, "auth"), authEng, true)
	testutil.Open(t, filepath.Dir(auth))
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	testutil.WriteFile(t, filepath.Join(dir, "htpasswd"), htpasswd(), 0o644)
	testutil.WriteFile(t, filepath.Join(dir, "fcgihost.toml"), toml, 0o644)
	fcgidDir := mkdir(t, filepath.Join(dir, "fcgid"))
	if os.Geteuid() == 0 { // Apache's children run as www-data (as the test's user otherwise)
		mustRun(t, "chown", "www-data:www-data", fcgidDir)
	}
	conf := testutil.Render(t, "apache-fcgid.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "DOCROOT": docroot, "PRIVATE": private, "AUTH": auth, "FCGIHOST": bin})
	return testutil.StartApache(t, dir, port, conf), docroot
}

func TestApacheFcgid(t *testing.T) {
	t.Parallel()
	fe, docroot := startFcgid(t, "js")
	runMatrix(t, stack{fe: fe, stderrMark: "mod_fcgid: stderr: ", mounts: []mount{
		{"root", fe.URL, "/env.EXT", "/a/b"},
		{"prefix", fe.URL + "/app", "/app/env.EXT", "/a/b"},
	}})
	t.Run("1 MiB upload passes FcgidMaxRequestLen", func(t *testing.T) {
		body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		e := envOf(t, testutil.Do(t, newReq(t, "POST", fe.URL+"/env.lua/up", body, "application/octet-stream")))
		if len(e.Body) != len(body) {
			t.Fatalf("script saw %d bytes of %d", len(e.Body), len(body))
		}
	})
	t.Run("a saved change is served", func(t *testing.T) { checkDocRootReload(t, fe, docroot) })
	t.Run("authorizer js", func(t *testing.T) { checkApacheAuthorizer(t, fe, "js") })
	t.Run("authorizer lua", func(t *testing.T) {
		t.Parallel()
		fe, _ := startFcgid(t, "lua")
		checkApacheAuthorizer(t, fe, "lua")
	})
}

// checkApacheAuthorizer checks FcgidAuthorizer auth.EXT on /private: alice
// passes and the authorizer's Variable-AUTH_VIA reaches the request's
// environment; bob authenticates but is refused; no password is refused
// before the authorizer runs.
func checkApacheAuthorizer(t *testing.T, fe *testutil.FrontEnd, eng string) {
	get := func(user, pw string) *testutil.Response {
		req := newReq(t, "GET", fe.URL+"/private/secret.txt", nil, "")
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		return testutil.Do(t, req)
	}
	r := get("alice", "wonderland")
	if r.StatusCode != 200 || r.Body != "top secret\n" {
		t.Fatalf("alice: status %d body %q", r.StatusCode, r.Body)
	}
	if got, want := r.Header.Get("X-Auth-Via"), "auth."+eng+":alice"; got != want {
		t.Errorf("X-Auth-Via (from the authorizer's Variable-AUTH_VIA) = %q, want %q", got, want)
	}
	if v := r.Header.Get("Variable-AUTH_VIA"); v != "" {
		t.Errorf("the raw authorizer header reached the client: %q", v)
	}
	for _, c := range []struct{ user, pw string }{{"bob", "builder"}, {"", ""}} {
		if r := get(c.user, c.pw); r.StatusCode != 401 || strings.Contains(r.Body, "top secret") {
			t.Errorf("user %q: status %d body %q, want 401 without the file", c.user, r.StatusCode, testutil.Tail(r.Body, 200))
		}
	}
}

// startLighttpdSpawn starts lighttpd with docs/deploy/lighttpd-spawn.conf:
// a docroot of env scripts whose /private/ (a static file and the env
// scripts again) is guarded by the authorizer auth.EXT.
func startLighttpdSpawn(t *testing.T, authEng string) (*testutil.FrontEnd, string) {
	t.Helper()
	return startLighttpdSpawnWith(t, authEng, "workers = 1\n")
}

// startLighttpdSpawnWith is startLighttpdSpawn with toml as the
// fcgihost.toml its fcgihost reads.
func startLighttpdSpawnWith(t *testing.T, authEng, toml string) (*testutil.FrontEnd, string) {
	t.Helper()
	testutil.Need(t, "lighttpd")
	bin := testutil.PublicBinary(t)
	root := testutil.OpenDir(t)
	docroot := filepath.Join(root, "www")
	front := filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "front")
	testutil.CopyDir(t, front, docroot)
	testutil.CopyDir(t, front, filepath.Join(docroot, "private"))
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "private"), filepath.Join(docroot, "private"))
	auth := authScript(t, filepath.Join(root, "auth"), authEng, false)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	testutil.WriteFile(t, filepath.Join(dir, "fcgihost.toml"), toml, 0o644)
	conf := testutil.Render(t, "lighttpd-spawn.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "DOCROOT": docroot, "AUTH": auth, "FCGIHOST": bin})
	return testutil.StartLighttpd(t, dir, port, conf), docroot
}

func TestLighttpdSpawn(t *testing.T) {
	t.Parallel()
	fe, docroot := startLighttpdSpawn(t, "lua")
	runMatrix(t, stack{fe: fe, stderrMark: "FastCGI-stderr:", mounts: []mount{
		{"root", fe.URL, "/env.EXT", "/a/b"},
		{"prefix", fe.URL + "/app", "/app/env.EXT", "/a/b"},
	}})
	t.Run("a saved change is served", func(t *testing.T) { checkDocRootReload(t, fe, docroot) })
	t.Run("authorizer lua", func(t *testing.T) { checkLighttpdAuthorizer(t, fe, "lua") })
	t.Run("authorizer js", func(t *testing.T) {
		t.Parallel()
		fe, _ := startLighttpdSpawn(t, "js")
		checkLighttpdAuthorizer(t, fe, "js")
	})
}

// checkLighttpdAuthorizer checks "mode" => "authorizer" with auth.EXT on
// /private/: a request with the token passes, to a static file and to a
// script that sees the authorizer's Variable-AUTH_VIA as AUTH_VIA; one
// without gets the authorizer's own 403.
func checkLighttpdAuthorizer(t *testing.T, fe *testutil.FrontEnd, eng string) {
	get := func(path string, tok bool) *testutil.Response {
		req := newReq(t, "GET", fe.URL+path, nil, "")
		if tok {
			req.Header.Set("X-Token", "open-sesame")
		}
		return testutil.Do(t, req)
	}
	if r := get("/private/secret.txt", true); r.StatusCode != 200 || r.Body != "top secret\n" {
		t.Errorf("with the token: status %d body %q", r.StatusCode, r.Body)
	}
	if r := get("/private/secret.txt", false); r.StatusCode != 403 || r.Body != "denied by auth."+eng+"\n" {
		t.Errorf("without the token: status %d body %q, want the authorizer's 403", r.StatusCode, r.Body)
	}
	for _, script := range []string{"env.js", "env.lua"} {
		e := envOf(t, get("/private/"+script+"/x", true))
		if want := "auth." + eng + ":token"; e.AuthVia != want || e.Role != "RESPONDER" {
			t.Errorf("%s saw AUTH_VIA %q (role %s), want %q from the authorizer's Variable-AUTH_VIA", script, e.AuthVia, e.Role, want)
		}
	}
	if r := get("/private/env.lua/x", false); r.StatusCode != 403 {
		t.Errorf("script without the token: status %d", r.StatusCode)
	}
}

func TestLighttpdSocket(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "lighttpd")
	apps := frontApps(t)
	h, sock := startSocketHost(t, apps)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	mkdir(t, filepath.Join(dir, "www"))
	conf := testutil.Render(t, "lighttpd-socket.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": sock, "APPS": apps})
	fe := testutil.StartLighttpd(t, dir, port, conf)
	runMatrix(t, stack{fe: fe, host: h, stderrMark: "FastCGI-stderr:", mounts: []mount{
		{"root", fe.URL, "", "/env.EXT/a/b"},
		{"prefix", fe.URL + "/app", "/app", "/env.EXT/a/b"},
	}})
}

// caddyLogsStderr reports whether this caddy logs FCGI_STDERR
// (capture_stderr works from 2.7 on).
func caddyLogsStderr(t *testing.T) (bool, string) {
	out, err := exec.Command(testutil.Need(t, "caddy"), "version").Output()
	if err != nil {
		t.Fatalf("caddy version: %v", err)
	}
	v := strings.TrimPrefix(strings.Fields(string(out) + " ")[0], "v")
	var major, minor int
	fmt.Sscanf(v, "%d.%d", &major, &minor)
	return major > 2 || major == 2 && minor >= 7, v
}

func TestCaddy(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "caddy")
	apps := frontApps(t)
	h, sock := startSocketHost(t, apps)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	conf := testutil.Render(t, "Caddyfile", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": sock, "APPS": apps})
	fe := testutil.StartCaddy(t, dir, port, conf)
	s := stack{fe: fe, host: h, mounts: []mount{
		{"root", fe.URL, "/env.EXT", "/a/b"},
		{"prefix", fe.URL + "/app", "/env.EXT", "/a/b"},
	}}
	if ok, v := caddyLogsStderr(t); ok {
		s.stderrMark = `"msg":"stderr"`
	} else {
		s.skipReason = "caddy " + v + " does not log FCGI_STDERR (capture_stderr works from 2.7 on); checked in fcgihost's own log only"
	}
	runMatrix(t, s)
}

// checkDocRootReload: a script of the DOCUMENT_ROOT, run by the fcgihost
// the web server spawned, is served anew after an editor's atomic save.
func checkDocRootReload(t *testing.T, fe *testutil.FrontEnd, docroot string) {
	script := filepath.Join(docroot, "ver.lua")
	save := func(v string) {
		tmp := filepath.Join(docroot, ".ver.lua.tmp")
		testutil.WriteFile(t, tmp, "return function() return '"+v+"' end\n", 0o644)
		if err := os.Rename(tmp, script); err != nil {
			t.Fatal(err)
		}
	}
	save("v1")
	if r := testutil.Get(t, fe.URL+"/ver.lua"); r.StatusCode != 200 || r.Body != "v1" {
		t.Fatalf("status %d body %q", r.StatusCode, r.Body)
	}
	save("v2")
	testutil.Eventually(t, 15*time.Second, "the saved version is served", func() bool {
		return testutil.Get(t, fe.URL+"/ver.lua").Body == "v2"
	})
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	testutil.WriteFile(t, filepath.Join(dir, ".keep"), "", 0o644)
	return dir
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
