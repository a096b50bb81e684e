package e2e

// Tests of issue 20: a newcomer following README.md and docs/ word by word.

import (
	"bytes"
	"context"
	"fmt"
	"net"
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

// TestRecipesConfigFile runs the mod_fcgid and lighttpd-spawn recipes
// verbatim, first without creating the fcgihost.toml their FCGIHOST_CONFIG
// names (the file is optional: the scripts are served with the defaults),
// then with a file that has a mistake: every request is a 500 and the
// mistake, with file and line, is in the web server's error log.
func TestRecipesConfigFile(t *testing.T) {
	t.Parallel()
	fcgid := func(t *testing.T, toml string) (*testutil.FrontEnd, string) {
		testutil.Need(t, "apache2")
		bin := testutil.PublicBinary(t)
		root := testutil.OpenDir(t)
		docroot, private := filepath.Join(root, "www"), filepath.Join(root, "private")
		testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "front"), docroot)
		testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "private"), private)
		auth := authScript(t, filepath.Join(root, "auth"), "js", true)
		testutil.Open(t, filepath.Dir(auth))
		dir, port := testutil.OpenDir(t), testutil.FreePort(t)
		testutil.WriteFile(t, filepath.Join(dir, "htpasswd"), htpasswd(), 0o644)
		if toml != "" {
			testutil.WriteFile(t, filepath.Join(dir, "fcgihost.toml"), toml, 0o644)
		}
		fcgidDir := mkdir(t, filepath.Join(dir, "fcgid"))
		if os.Geteuid() == 0 {
			mustRun(t, "chown", "www-data:www-data", fcgidDir)
		}
		conf := testutil.Render(t, "apache-fcgid.conf", map[string]string{
			"DIR": dir, "PORT": strconv.Itoa(port), "DOCROOT": docroot, "PRIVATE": private, "AUTH": auth, "FCGIHOST": bin})
		return testutil.StartApache(t, dir, port, conf), dir
	}
	lighttpd := func(t *testing.T, toml string) (*testutil.FrontEnd, string) {
		testutil.Need(t, "lighttpd")
		bin := testutil.PublicBinary(t)
		root := testutil.OpenDir(t)
		docroot := filepath.Join(root, "www")
		testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "front"), docroot)
		auth := authScript(t, filepath.Join(root, "auth"), "lua", false)
		dir, port := testutil.OpenDir(t), testutil.FreePort(t)
		if toml != "" {
			testutil.WriteFile(t, filepath.Join(dir, "fcgihost.toml"), toml, 0o644)
		}
		conf := testutil.Render(t, "lighttpd-spawn.conf", map[string]string{
			"DIR": dir, "PORT": strconv.Itoa(port), "DOCROOT": docroot, "AUTH": auth, "FCGIHOST": bin})
		return testutil.StartLighttpd(t, dir, port, conf), dir
	}
	for _, fe := range []struct {
		name  string
		start func(*testing.T, string) (*testutil.FrontEnd, string)
	}{{"apache-fcgid", fcgid}, {"lighttpd-spawn", lighttpd}} {
		t.Run(fe.name+"/no file", func(t *testing.T) {
			t.Parallel()
			s, dir := fe.start(t, "")
			e := envOf(t, testutil.Get(t, s.URL+"/env.js/a?x=1"))
			if e.Path != "/a" || e.X != "1" {
				t.Errorf("path %q x %q", e.Path, e.X)
			}
			if fe.name == "apache-fcgid" { // lighttpd does not log its children's stderr
				want := filepath.Join(dir, "fcgihost.toml")
				testutil.Eventually(t, 10*time.Second, "the error log names the missing config file", func() bool {
					return strings.Contains(s.ErrorLog(), "does not exist; using the defaults") && strings.Contains(s.ErrorLog(), want)
				})
			}
		})
		t.Run(fe.name+"/bad file", func(t *testing.T) {
			t.Parallel()
			s, _ := fe.start(t, "workers = 1\nwrokers = 2\n")
			r := testutil.Get(t, s.URL+"/env.lua/a")
			if r.StatusCode != 500 {
				t.Errorf("status %d, want 500", r.StatusCode)
			}
			testutil.Eventually(t, 10*time.Second, "the error log names the mistake", func() bool {
				return strings.Contains(s.ErrorLog(), `fcgihost.toml:2: unknown key "wrokers" (did you mean "workers"?)`)
			})
		})
	}
}

// TestSubcommandHelp: every subcommand answers -h and --help with its
// usage on stdout and exit 0 (run and check never take --help for a
// file), and a mistyped flag names the nearest one and exits 2.
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, cmd := range []string{"serve", "run", "check", "request", "bench", "version"} {
		for _, h := range []string{"-h", "--help"} {
			out, errOut, code := runBin(t, dir, "", cmd, h)
			if code != 0 || !strings.HasPrefix(out, "usage: fcgihost "+cmd) || errOut != "" {
				t.Errorf("fcgihost %s %s: exit %d, stdout %q, stderr %q; want its usage on stdout, exit 0", cmd, h, code, testutil.Tail(out, 200), errOut)
			}
		}
		if out, _, code := runBin(t, dir, "", "help", cmd); code != 0 || !strings.HasPrefix(out, "usage: fcgihost "+cmd) {
			t.Errorf("fcgihost help %s: exit %d, stdout %q", cmd, code, testutil.Tail(out, 200))
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--wrokers", "2"}, "unknown flag --wrokers (did you mean --workers?)"},
		{[]string{"serve", "-listne", "x"}, "(did you mean --listen?)"},
		{[]string{"request", "--conect", "127.0.0.1:1", "/"}, "(did you mean --connect?)"},
		{[]string{"bench", "--keepconn", "/"}, "(did you mean --keep-conn?)"},
		{[]string{"check", "--strict"}, "unknown flag --strict"},
		{[]string{"run", "--verbose"}, "unknown flag --verbose"},
	} {
		out, errOut, code := runBin(t, dir, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("fcgihost %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}

// runBinEnv is runBin with extra environment variables.
func runBinEnv(t *testing.T, dir, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "FCGIHOST_CONFIG="}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestRunByHand: `fcgihost run FILE` typed in a shell takes the request
// from the environment's CGI variables and stdin (README.md, "Command
// line"), for the bundled CGI-style scripts of both engines and a handler;
// the host's other variables stay out of the script's env.
func TestRunByHand(t *testing.T) {
	t.Parallel()
	apps := filepath.Join(testutil.RepoRoot(), "apps")
	for _, f := range []string{"cgi-env.js", "cgi-env.lua"} {
		out, errOut, code := runBinEnv(t, apps, "a=1", []string{"REQUEST_METHOD=POST", "QUERY_STRING=x=2"}, "run", f)
		if code != 0 || !strings.Contains(out, "method=POST") || !strings.Contains(out, "query=x=2") || !strings.Contains(out, "body=a=1") {
			t.Errorf("%s: exit %d stdout %q stderr %q; want method=POST query=x=2 body=a=1", f, code, out, errOut)
		}
		out, _, _ = runBinEnv(t, apps, "ignored", nil, "run", f)
		if !strings.Contains(out, "method=GET") || !strings.Contains(out, "body=\n") {
			t.Errorf("%s with no CGI variables: %q, want a GET without a body", f, out)
		}
	}
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "form.js"), `module.exports = (req, res) => {
  res.json({method: req.method, path: req.path, uri: req.uri, name: req.form().name, ua: req.headers["user-agent"] || "",
    type: req.headers["content-type"] || "", secret: req.params.SECRET_TOKEN || ""});
};
`, 0o644)
	out, errOut, code := runBinEnv(t, dir, "name=Ada", []string{"REQUEST_METHOD=post", "PATH_INFO=/p", "HTTP_USER_AGENT=demo", "SECRET_TOKEN=s3cret"}, "run", "form.js")
	want := `{"method":"POST","path":"/p","uri":"/p","name":"Ada","ua":"demo","type":"application/x-www-form-urlencoded","secret":""}`
	if code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("handler: exit %d stdout %q stderr %q; want the body %s", code, out, errOut, want)
	}
}

// TestCheckLoadsApps: `fcgihost check` fails on what serve would fail on —
// a require naming no file (at the top level or inside the handler, JS and
// Lua), top-level code that throws or runs past the app's timeout (from
// the config) — and passes the bundled apps.
func TestCheckLoadsApps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"apps/lazy.js":           "module.exports = function (req, res) {\n  if (req.path === '/x') return require('./missing');\n  return 'ok';\n};\n",
		"apps/top.lua":           "local m = require('nothere')\nreturn function() return 'x' end\n",
		"apps/folder/index.lua":  "return function()\n  local u = require 'lib.util'\n  return u.x\nend\n",
		"apps/folder/lib/ok.lua": "return {}\n",
		"apps/throws.js":         "throw new Error('boom at load');\nmodule.exports = () => 1;\n",
		"apps/spins.js":          "while (true) {}\nmodule.exports = () => 1;\n",
		"apps/good.js":           "const lib = require('./shared/lib');\nmodule.exports = () => lib.x;\n",
		"apps/shared/lib.js":     "module.exports = {x: 1};\n",
		"fcgihost.toml":          "apps = \"apps\"\n[app.spins]\ntimeout = \"200ms\"\n",
	} {
		testutil.WriteFile(t, filepath.Join(dir, name), content, 0o644)
	}
	out, errOut, code := runBinEnv(t, dir, "", nil, "check", "--config", "fcgihost.toml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		`apps/lazy.js:2:33: require("./missing"): cannot load module: no file`,
		`apps/top.lua:1: require("nothere"): module not found`,
		`apps/folder/index.lua:2: require("lib.util"): module not found`,
		`apps/throws.js:1:`, "boom at load",
		`apps/spins.js:1:`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	if strings.Contains(out, "good.js") || strings.Contains(out, "shared") {
		t.Errorf("a good app was reported:\n%s", out)
	}
	if !strings.Contains(errOut, "5 of 6 apps failed to load") {
		t.Errorf("stderr %q", errOut)
	}
	// The bundled apps load.
	out, errOut, code = runBinEnv(t, testutil.RepoRoot(), "", nil, "check")
	if code != 0 || !strings.Contains(errOut, "apps loaded") {
		t.Errorf("bundled apps: exit %d\n%s%s", code, out, errOut)
	}
}

// TestBundledAppsMountPoint runs the bundled apps behind
// docs/deploy/nginx.conf verbatim, at the root and under /app/: a folder
// app reached without its trailing slash is redirected to it, the blog's
// and the wiki's links and contacts.js's Location stay inside the app
// (req.base), and contacts.js keeps its data in kv: two POSTs get ids 1
// and 2 although every VM serves one request only (max_requests = 1).
func TestBundledAppsMountPoint(t *testing.T) {
	t.Parallel()
	fe := bundledBehindNginx(t, "workers = 2\nmax_requests = 1\n")
	hrefs := regexp.MustCompile(`<a href="([^"]*)"`)
	for _, prefix := range []string{"", "/app"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			for _, app := range []string{"blog", "wiki"} {
				r := testutil.Get(t, fe.URL+prefix+"/"+app+"?x=1")
				if loc := r.Header.Get("Location"); r.StatusCode != 301 || loc != prefix+"/"+app+"/?x=1" {
					t.Errorf("GET %s/%s: status %d Location %q, want 301 to %s/%s/?x=1", prefix, app, r.StatusCode, loc, prefix, app)
				}
				r = testutil.Get(t, fe.URL+prefix+"/"+app+"/")
				links := hrefs.FindAllStringSubmatch(r.Body, -1)
				if r.StatusCode != 200 || len(links) == 0 {
					t.Fatalf("GET %s/%s/: status %d, links %q: %s", prefix, app, r.StatusCode, links, r.Body)
				}
				for _, l := range links {
					if !strings.HasPrefix(l[1], prefix+"/"+app+"/") {
						t.Errorf("%s/%s/ links to %q, outside the app", prefix, app, l[1])
						continue
					}
					if r := testutil.Get(t, fe.URL+l[1]); r.StatusCode != 200 {
						t.Errorf("link %s: status %d", l[1], r.StatusCode)
					}
				}
			}
		})
	}
	for i, prefix := range []string{"", "/app"} {
		r := testutil.Do(t, newReq(t, "POST", fe.URL+prefix+"/contacts/", []byte("name=Ada&email=ada@example.org"), "application/x-www-form-urlencoded"))
		want := fmt.Sprintf("%s/contacts/%d", prefix, i+1)
		if r.StatusCode != 201 || r.Header.Get("Location") != want || !strings.Contains(r.Body, fmt.Sprintf(`"id":%d`, i+1)) {
			t.Errorf("POST %s/contacts/: status %d Location %q body %s; want 201 to %s", prefix, r.StatusCode, r.Header.Get("Location"), r.Body, want)
		}
		if r := testutil.Get(t, fe.URL+want); r.StatusCode != 200 || !strings.Contains(r.Body, "ada@example.org") {
			t.Errorf("GET %s: status %d body %s", want, r.StatusCode, r.Body)
		}
	}
	r := testutil.Get(t, fe.URL+"/contacts/")
	if !strings.Contains(r.Body, `"id":1`) || !strings.Contains(r.Body, `"id":2`) {
		t.Errorf("GET /contacts/ does not list both contacts: %s", r.Body)
	}
}

// TestReadmeQuickStart follows README.md's quick start: the Go version it
// states is go.mod's, and in a directory holding the binary as ./fcgihost
// and the bundled apps, `./fcgihost serve` prints each app's URL and the
// curl and `./fcgihost request` lines print what the README shows. Only the
// ports differ (9000 and 8080 may be taken on a shared machine).
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	readme := readFile(t, filepath.Join(testutil.RepoRoot(), "README.md"))
	gomod := readFile(t, filepath.Join(testutil.RepoRoot(), "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if !strings.Contains(readme, "Go "+m[1]+" or newer") {
		t.Errorf("README does not say \"Go %s or newer\" (go.mod: %s)", m[1], m[0])
	}
	qs := readme[strings.Index(readme, "## Quick start"):]
	qs = qs[:strings.Index(qs[3:], "\n## ")+3]
	blocks := regexp.MustCompile("(?s)```(sh)?\n(.*?)```").FindAllStringSubmatch(qs, -1)
	if len(blocks) < 2 {
		t.Fatalf("quick start: %d code blocks", len(blocks))
	}
	cmds := strings.Split(strings.TrimSpace(blocks[0][2]), "\n")
	if len(cmds) != 2 || cmds[0] != "go build -v -o fcgihost ./cmd/fcgihost" || cmds[1] != "./fcgihost serve" {
		t.Fatalf("quick start commands changed: %q", cmds)
	}
	dir := t.TempDir()
	bin := readFile(t, testutil.Binary(t))
	testutil.WriteFile(t, filepath.Join(dir, "fcgihost"), bin, 0o755)
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "apps"), filepath.Join(dir, "apps"))
	fport, hport := testutil.FreePort(t), testutil.FreePort(t)
	faddr, haddr := fmt.Sprintf("127.0.0.1:%d", fport), fmt.Sprintf("127.0.0.1:%d", hport)
	p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, "./fcgihost", "serve", "--listen", faddr, "--http", haddr)
	testutil.WaitDial(t, haddr, 30*time.Second, p)
	testutil.Eventually(t, 10*time.Second, "serve prints the apps' URLs", func() bool {
		out := p.Output()
		return strings.Contains(out, "http://"+haddr+"/hello\n") && strings.Contains(out, "http://"+haddr+"/blog/\n")
	})
	transcript := strings.ReplaceAll(strings.ReplaceAll(blocks[1][2], "127.0.0.1:9000", faddr), "127.0.0.1:8080", haddr)
	parts := strings.Split(transcript, "$ ")[1:]
	for _, part := range parts {
		cmdLine, want, _ := strings.Cut(part, "\n")
		var got string
		switch {
		case strings.HasPrefix(cmdLine, "curl "):
			url := strings.Trim(strings.TrimPrefix(cmdLine, "curl "), "'")
			got = testutil.Get(t, url).Body + "\n"
		case strings.HasPrefix(cmdLine, "./fcgihost "):
			out, errOut, code := runBin(t, dir, "", strings.Fields(strings.TrimPrefix(cmdLine, "./fcgihost "))...)
			if code != 0 {
				t.Errorf("%s: exit %d: %s", cmdLine, code, errOut)
			}
			got = strings.ReplaceAll(out, "\r\n", "\n") + "\n"
		default:
			t.Fatalf("unknown command in the quick start: %q", cmdLine)
		}
		if got != want {
			t.Errorf("%s printed\n%q\nthe README shows\n%q", cmdLine, got, want)
		}
	}
}

// TestDocsLeadSomewhere: no code comment or doc cites a contract file the
// repository does not have, every relative link of README.md and docs/
// names an existing file, and no doc ends with a leftover draft.
func TestDocsLeadSomewhere(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot()
	missing := "SPEC" + ".md"
	link := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`)
	// Fenced code blocks are not markdown: `CallAs[float64](ctx, ...)` in
	// a Go example is no link.
	fence := regexp.MustCompile("(?ms)^[ \\t]*```.*?^[ \\t]*```")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "data" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(p)
		if ext != ".go" && ext != ".md" && ext != ".conf" && ext != ".toml" && ext != ".js" && ext != ".lua" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		rel, _ := filepath.Rel(root, p)
		if _, err := os.Stat(filepath.Join(root, missing)); err != nil && (strings.Contains(s, missing) || strings.Contains(s, "SPEC"+" §")) {
			t.Errorf("%s cites %s, which is not in the repository (cite docs/reference.md)", rel, missing)
		}
		if ext == ".md" {
			for _, m := range link.FindAllStringSubmatch(fence.ReplaceAllString(s, ""), -1) {
				if _, err := os.Stat(filepath.Join(filepath.Dir(p), m[1])); err != nil {
					t.Errorf("%s links to %s, which does not exist", rel, m[1])
				}
			}
			if strings.Contains(s, "(section for README.md)") {
				t.Errorf("%s has a leftover \"section for README.md\"", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRootsWithoutAppsDir: a shared-hosting config with roots only starts
// in a directory with no ./apps, and so does one that says apps = "";
// without roots, apps = "" is refused with the key named.
func TestRootsWithoutAppsDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, apps string }{{"default apps missing", ""}, {"apps empty", "apps = \"\"\n"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pub := filepath.Join(dir, "www", "alice", "public_html")
			testutil.WriteFile(t, filepath.Join(pub, "hi.lua"), "return function() return 'hi from alice' end\n", 0o644)
			conf := tc.apps + fmt.Sprintf("roots = [%q]\nworkers = 1\n", filepath.Join(dir, "www", "*", "public_html"))
			testutil.WriteFile(t, filepath.Join(dir, "fcgihost.toml"), conf, 0o644)
			addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, testutil.Binary(t), "serve", "--config", "fcgihost.toml", "--listen", addr)
			testutil.WaitDial(t, addr, 30*time.Second, p)
			out, errOut, code := runBin(t, dir, "", "request", "--connect", addr, "--root", pub, "/hi.lua")
			if code != 0 || out != "hi from alice" {
				t.Errorf("exit %d stdout %q stderr %q", code, out, errOut)
			}
		})
	}
	t.Run("apps empty without roots", func(t *testing.T) {
		dir := t.TempDir()
		testutil.WriteFile(t, filepath.Join(dir, "fcgihost.toml"), "apps = \"\"\n", 0o644)
		_, errOut, code := runBin(t, dir, "", "serve", "--config", "fcgihost.toml", "--listen", "127.0.0.1:0")
		if code != 2 || !strings.Contains(errOut, `key "apps": must not be empty unless "roots" are set`) {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
}

// TestLogNoise: logs carry one line per event that matters, durations as
// durations. A reload does not repeat that hello.js and hello.lua share a
// name; an isolated app's child logs "took=12ms", not nanoseconds; a
// script served alone on fd 0 next to its socket does not complain it
// cannot read the socket.
func TestLogNoise(t *testing.T) {
	t.Parallel()
	t.Run("reload and isolated child", func(t *testing.T) {
		t.Parallel()
		apps := openApps(t)
		writeFile(t, filepath.Join(apps, "hello.js"), "module.exports = () => 'js';\n")
		writeFile(t, filepath.Join(apps, "hello.lua"), "return function() return 'lua' end\n")
		writeFile(t, filepath.Join(apps, "iso.lua"), "return function() return 'iso' end\n")
		h, c := startHost(t, apps, "workers = 1\n[app.iso]\nisolation = \"process\"\n")
		if st, body := get(t, c, "/iso"); st != 200 || body != "iso" {
			t.Fatalf("/iso: %d %q", st, body)
		}
		for i := 0; i < 2; i++ {
			writeFile(t, filepath.Join(apps, "hello.js"), fmt.Sprintf("module.exports = () => 'js %d';\n", i))
			want := fmt.Sprintf("js %d", i)
			testutil.Eventually(t, 10*time.Second, "the change is served", func() bool {
				_, body := get(t, c, "/hello")
				return body == want
			})
		}
		out := h.Output()
		if n := strings.Count(out, "share a name"); n > 0 {
			t.Errorf("%d lines about hello.js and hello.lua sharing a name at the default level:\n%s", n, testutil.Tail(out, 2000))
		}
		if m := regexp.MustCompile(`took=\d+(\s|$)`).FindString(out); m != "" {
			t.Errorf("a duration logged as a bare number %q:\n%s", m, testutil.Tail(out, 2000))
		}
		if !regexp.MustCompile(`took=[0-9.]+(ms|µs|s)`).MatchString(out) {
			t.Errorf("no took= duration in the log:\n%s", testutil.Tail(out, 2000))
		}
	})
	t.Run("one script on fd 0 next to its socket", func(t *testing.T) {
		t.Parallel()
		spawn := testutil.Need(t, "spawn-fcgi")
		dir := t.TempDir()
		script := filepath.Join(dir, "one.lua")
		testutil.WriteFile(t, script, "return function() return 'one' end\n", 0o644)
		sock := filepath.Join(dir, "one.sock-0")
		p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, spawn, "-n", "-s", sock, "--", testutil.Binary(t), script)
		testutil.WaitDial(t, "unix:"+sock, 15*time.Second, p)
		if out, errOut, code := runBin(t, dir, "", "request", "--connect", "unix:"+sock, "/"); code != 0 || out != "one" {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
		// The web server binds its socket anew when it restarts fcgihost.
		l, err := net.Listen("unix", filepath.Join(dir, "one.sock-1"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		testutil.WriteFile(t, script, "return function() return 'two' end\n", 0o644)
		testutil.Eventually(t, 10*time.Second, "the change is served", func() bool {
			out, _, _ := runBin(t, dir, "", "request", "--connect", "unix:"+sock, "/")
			return out == "two"
		})
		if strings.Contains(p.Output(), "cannot read") {
			t.Errorf("log:\n%s", testutil.Tail(p.Output(), 2000))
		}
	})
}

// TestFrontController runs docs/deploy/nginx-front-controller.conf
// verbatim: a static file is sent by nginx, a path naming an app reaches
// that app, and every other path reaches the fallback app with the whole
// path as req.path and an empty req.base.
func TestFrontController(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "nginx")
	apps := filepath.Join(testutil.OpenDir(t), "apps")
	testutil.WriteFile(t, filepath.Join(apps, "site.js"), `module.exports = (req, res) => {
  if (req.path === "/missing") return res.status(404).json({missing: true});
  return {front: true, path: req.path, base: req.base, query: req.query.q || ""};
};
`, 0o644)
	testutil.WriteFile(t, filepath.Join(apps, "hello.lua"), "return function(req) return 'hello ' .. req.path end\n", 0o644)
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true,
		Config: "workers = 1\nsocket_mode = \"0666\"\nfallback = \"site\"\n"})
	testutil.Open(t, h.Dir)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	testutil.WriteFile(t, filepath.Join(dir, "www", "robots.txt"), "User-agent: *\n", 0o644)
	conf := testutil.Render(t, "nginx-front-controller.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": strings.TrimPrefix(h.FCGI, "unix:"), "APPS": apps})
	fe := testutil.StartNginxConf(t, dir, port, conf)
	if r := testutil.Get(t, fe.URL+"/robots.txt"); r.StatusCode != 200 || r.Body != "User-agent: *\n" {
		t.Errorf("static file: %d %q", r.StatusCode, r.Body)
	}
	if r := testutil.Get(t, fe.URL+"/hello/x"); r.Body != "hello /x" {
		t.Errorf("/hello/x: %d %q", r.StatusCode, r.Body)
	}
	for _, p := range []string{"/", "/posts/7", "/a/b.html"} {
		r := testutil.Get(t, fe.URL+p+"?q=1")
		want := fmt.Sprintf(`{"front":true,"path":%q,"base":"","query":"1"}`, p)
		if r.StatusCode != 200 || r.Body != want {
			t.Errorf("%s: %d %q, want %s", p, r.StatusCode, r.Body, want)
		}
	}
	if r := testutil.Get(t, fe.URL+"/missing"); r.StatusCode != 404 || r.Body != `{"missing":true}` {
		t.Errorf("/missing: %d %q, want the fallback app's own 404", r.StatusCode, r.Body)
	}
}

// TestAppEnv: an app's env entries are visible to its scripts — JS env
// (handler and CGI style), Lua os.getenv — in-process and in a
// process-isolated child; a bare NAME takes fcgihost's own value (a
// secret kept out of the config file); another app sees none of it, and
// a request param of the same name does not override it.
func TestAppEnv(t *testing.T) {
	t.Parallel()
	apps := openApps(t)
	writeFile(t, filepath.Join(apps, "ej.js"), "const g = env.GREETING;\nmodule.exports = () => [g, env.TOKEN || '-', String(Object.isFrozen(env))].join(' ');\n")
	writeFile(t, filepath.Join(apps, "el.lua"), "local g = os.getenv('GREETING')\nreturn function() return g .. ' ' .. (os.getenv('TOKEN') or '-') end\n")
	writeFile(t, filepath.Join(apps, "ecgi.js"), "print('Content-Type: text/plain');\nprint('');\nwrite(env.GREETING + ' ' + env.TOKEN + ' ' + env.REQUEST_METHOD);\n")
	writeFile(t, filepath.Join(apps, "eiso.lua"), "return function() return (os.getenv('GREETING') or '-') .. ' ' .. (os.getenv('TOKEN') or '-') end\n")
	writeFile(t, filepath.Join(apps, "other.js"), "module.exports = () => (env.GREETING || '-') + ' ' + (env.TOKEN || '-');\n")
	// [app.NAME.vars]: a table beside env; a name in both takes the vars value.
	writeFile(t, filepath.Join(apps, "ev.mjs"), "export default { fetch(request, env) { return new Response(env.API_BASE + ' ' + env.GREETING + ' ' + env.TOKEN); } };\n")
	writeFile(t, filepath.Join(apps, "evl.lua"), "return function() return os.getenv('API_BASE') .. ' ' .. os.getenv('GREETING') .. ' ' .. os.getenv('TOKEN') end\n")
	conf := "workers = 1\n"
	for _, a := range []string{"ev", "evl"} {
		conf += fmt.Sprintf("[app.%s]\nenv = [\"GREETING=from env\", \"TOKEN\"]\n", a)
		if a == "evl" {
			conf += "isolation = \"process\"\n"
		}
		conf += fmt.Sprintf("[app.%s.vars]\nAPI_BASE = \"https://api.example.com/%s\"\nGREETING = \"from vars\"\n", a, a)
	}
	for _, a := range []string{"ej", "el", "ecgi", "eiso"} {
		conf += fmt.Sprintf("[app.%s]\nenv = [\"GREETING=hi %s\", \"TOKEN\"]\n", a, a)
		if a == "eiso" {
			conf += "isolation = \"process\"\n"
		}
	}
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Config: conf, Env: []string{"TOKEN=s3cret"}})
	c := &fcgi.Client{Addr: h.FCGI}
	defer c.Close()
	for path, want := range map[string]string{
		"/ej": "hi ej s3cret true", "/el": "hi el s3cret", "/ecgi": "hi ecgi s3cret GET", "/eiso": "hi eiso s3cret", "/other": "- -",
		"/ev": "https://api.example.com/ev from vars s3cret", "/evl": "https://api.example.com/evl from vars s3cret",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": path, "REQUEST_URI": path, "GREETING": "evil", "TOKEN": "evil"}})
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", path, err)
		}
		b, err := resp.ReadAll()
		cancel()
		if err != nil || string(b) != want {
			t.Errorf("%s: %q (%v), want %q", path, b, err, want)
		}
	}
	if strings.Contains(readFile(t, filepath.Join(h.Dir, "fcgihost.toml")), "s3cret") {
		t.Fatal("test setup: the secret is in the config file")
	}
}

// TestStatusPage_Fits renders the status page of ten busy apps in headless
// Chromium at 1280 and 390 px wide: nothing is wider than the window and
// every app's last column (the last reload) is on screen, and each app row
// carries its two charts (requests/s and p99 over the last minutes, inline
// SVG). With $FCGIHOST_STATUS_SCREENSHOTS set to a directory the
// screenshots are written there (docs/status.png, docs/status-narrow.png).
func TestStatusPage_Fits(t *testing.T) {
	t.Parallel()
	chrome := testutil.Need(t, "chromium")
	apps := t.TempDir()
	var names []string
	for i, n := range []string{"blog", "contacts", "guestbook", "hello", "wiki", "signup", "shop-frontend", "api-gateway", "image-resizer", "newsletter"} {
		names = append(names, n)
		if i%2 == 0 {
			testutil.WriteFile(t, filepath.Join(apps, n+".js"), "module.exports = (req, res) => { if (req.query.fail) throw new Error('x'); return 'ok'; };\n", 0o644)
		} else {
			testutil.WriteFile(t, filepath.Join(apps, n+".lua"), "return function(req) if req.query.fail then error('x') end return 'ok' end\n", 0o644)
		}
	}
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, HTTP: true, Config: "workers = 1\nstatus_path = \"/fcgihost-status\"\n"})
	for i, n := range names {
		for j := 0; j <= i*3; j++ {
			testutil.Get(t, h.HTTP+"/"+n+"/x")
		}
		if i%3 == 0 {
			testutil.Get(t, h.HTTP+"/"+n+"/x?fail=1")
		}
	}
	page := testutil.Get(t, h.HTTP+"/fcgihost-status?html").Body
	if n := strings.Count(page, `<svg class="spark"`); n != 2*len(names) {
		t.Errorf("%d charts, want two per app (%d)", n, 2*len(names))
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "src=") {
		t.Error("the status page loads scripts or external assets")
	}
	// A copy of the page with a script that measures it: the page itself
	// has no script and no external asset, so the copy renders the same.
	const measure = `<script>addEventListener("load", () => {
  const w = innerWidth, d = document.documentElement;
  const cut = [...document.querySelectorAll("#apps tr.app td:last-child")].filter((c) => c.getBoundingClientRect().right > w + 0.5).length;
  document.body.setAttribute("data-measure", d.scrollWidth + " " + w + " " + cut);
});</script>`
	copyFile := filepath.Join(t.TempDir(), "status.html")
	testutil.WriteFile(t, copyFile, strings.Replace(page, "</body>", measure+"</body>", 1), 0o644)
	run := func(width int, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir(), "--hide-scrollbars",
			fmt.Sprintf("--window-size=%d,1400", width)}
		cmd := exec.CommandContext(ctx, chrome, append(base, args...)...)
		cmd.Dir = t.TempDir()
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, testutil.Tail(errb.String(), 2000))
		}
		return out.String()
	}
	for _, width := range []int{1280, 390} {
		dom := run(width, "--dump-dom", "file://"+copyFile)
		m := regexp.MustCompile(`data-measure="(\d+) (\d+) (\d+)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("%d px: no measure in the DOM:\n%s", width, testutil.Tail(dom, 500))
		}
		if m[1] != m[2] || m[3] != "0" {
			t.Errorf("%d px: page %s px wide in a %s px window, %s app rows cut off", width, m[1], m[2], m[3])
		}
		shot := filepath.Join(t.TempDir(), "status.png")
		run(width, "--screenshot="+shot, "file://"+copyFile)
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			t.Fatalf("no screenshot: %v", err)
		}
		if dir := os.Getenv("FCGIHOST_STATUS_SCREENSHOTS"); dir != "" {
			name := "status.png"
			if width < 1280 {
				name = "status-narrow.png"
			}
			testutil.WriteFile(t, filepath.Join(dir, name), readFile(t, shot), 0o644)
		}
	}
}

// bundledBehindNginx serves a copy of the bundled apps with config behind
// docs/deploy/nginx.conf (the apps at the root and under /app/).
func bundledBehindNginx(t *testing.T, config string) *testutil.FrontEnd {
	t.Helper()
	testutil.Need(t, "nginx")
	apps := filepath.Join(testutil.OpenDir(t), "apps")
	testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(), "apps"), apps)
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: config + "socket_mode = \"0666\"\n"})
	testutil.Open(t, h.Dir)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	conf := testutil.Render(t, "nginx.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": strings.TrimPrefix(h.FCGI, "unix:"), "APPS": apps})
	return testutil.StartNginxConf(t, dir, port, conf)
}

// TestBundledAppsStyle: every HTML page of the bundled apps, at the root
// and under /app/, links the shared stylesheet next to it, which the
// assets app serves as text/css with an ETag and answers 304 when the
// browser has it; and a user name signed up once is taken whichever VM
// serves the second try.
func TestBundledAppsStyle(t *testing.T) {
	t.Parallel()
	fe := bundledBehindNginx(t, "workers = 2\nmax_requests = 1\n")
	css := regexp.MustCompile(`<link rel="stylesheet" href="([^"]*)">`)
	for _, prefix := range []string{"", "/app"} {
		for _, page := range []string{"/blog/", "/blog/hello", "/wiki/", "/wiki/lua", "/guestbook", "/guestbook.lua", "/signup"} {
			r := testutil.Get(t, fe.URL+prefix+page)
			m := css.FindStringSubmatch(r.Body)
			if r.StatusCode != 200 || m == nil || m[1] != prefix+"/assets/style.css" {
				t.Errorf("%s%s: status %d, stylesheet %q, want %s/assets/style.css", prefix, page, r.StatusCode, m, prefix)
				continue
			}
			if !strings.Contains(r.Body, `name="viewport"`) {
				t.Errorf("%s%s: no viewport meta (unreadable on a phone)", prefix, page)
			}
		}
		r := testutil.Get(t, fe.URL+prefix+"/assets/style.css")
		etag := r.Header.Get("ETag")
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") || etag == "" || !strings.Contains(r.Body, "body{") {
			t.Fatalf("%s/assets/style.css: %d %q ETag %q", prefix, r.StatusCode, r.Header.Get("Content-Type"), etag)
		}
		req := newReq(t, "GET", fe.URL+prefix+"/assets/style.css", nil, "")
		req.Header.Set("If-None-Match", etag)
		if r := testutil.Do(t, req); r.StatusCode != 304 || r.Body != "" {
			t.Errorf("conditional GET: %d %q, want 304 without a body", r.StatusCode, r.Body)
		}
	}
	post := func() *testutil.Response {
		return testutil.Do(t, newReq(t, "POST", fe.URL+"/signup", []byte("user=grace&age=40"), "application/x-www-form-urlencoded"))
	}
	if r := post(); r.StatusCode != 201 {
		t.Errorf("first signup: %d %s", r.StatusCode, r.Body)
	}
	if r := post(); r.StatusCode != 422 || !strings.Contains(r.Body, `"user":"is taken"`) {
		t.Errorf("second signup on another VM: %d %s, want 422 is taken", r.StatusCode, r.Body)
	}
}
