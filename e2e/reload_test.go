// This file holds the hot-reload and process-life tests (docs/reference.md §5,
// issue 5): edits, broken edits, atomic saves, apps appearing and
// vanishing, changed modules, reloads under steady load, SIGTERM draining,
// SIGHUP config reloads, watch = false and SIGUSR1 log reopening — all
// against the built binary, spoken to with the FastCGI client.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

// versionApp is an app whose body starts and ends with its version
// marker, both read from one module-level constant, so a response made of
// two versions shows.
var versionApp = map[string]string{
	".js": `// reloaded by the tests: V changes on every save
const V = "%s";
module.exports = function (req, res) {
  res.header("Content-Type", "text/plain");
  res.write("begin " + V + "\n");
  for (let i = 0; i < 40; i++) res.write("line " + i + "\n");
  res.write("end " + V + "\n");
};
`,
	".lua": `-- reloaded by the tests: V changes on every save
local V = "%s"
return function(req, res)
  res:header("Content-Type", "text/plain")
  res:write("begin ", V, "\n")
  for i = 0, 39 do res:write("line ", i, "\n") end
  res:write("end ", V, "\n")
end
`,
}

// brokenApp has a syntax error on line 3; throwingApp throws from its
// top-level code on line 2 (it compiles, its VMs fail to start).
var (
	brokenApp = map[string]string{
		".js":  "const V = \"broken\";\nmodule.exports = function (req, res) {\n  res.write(V +);\n};\n",
		".lua": "local V = \"broken\"\nreturn function(req, res)\n  res:write(V ..)\nend\n",
	}
	throwingApp = map[string]string{
		".js":  "const V = \"throws\";\nthrow new Error(\"top-level failure\");\nmodule.exports = function (req, res) { res.write(V); };\n",
		".lua": "local V = \"throws\"\nerror(\"top-level failure\")\nreturn function(req, res) res:write(V) end\n",
	}
)

var engines = []string{".js", ".lua"}

// marker returns the version of a versionApp body, or an error when the
// two markers are missing or disagree.
func marker(body string) (string, error) {
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	first, last := lines[0], lines[len(lines)-1]
	b, ok1 := strings.CutPrefix(first, "begin ")
	e, ok2 := strings.CutPrefix(last, "end ")
	if !ok1 || !ok2 {
		return "", fmt.Errorf("no version markers in %q", testutil.Tail(body, 200))
	}
	if b != e {
		return "", fmt.Errorf("response mixes two versions: begins %q, ends %q", b, e)
	}
	if len(lines) != 42 {
		return "", fmt.Errorf("response of version %s has %d lines, want 42", b, len(lines))
	}
	return b, nil
}

// writeFile replaces path in place (truncate and write, as many editors
// and `echo >` do).
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// saveAtomic saves path the way vim, VS Code and most tools' "safe
// write" do: a temporary file in the same directory renamed over it.
func saveAtomic(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// client is a FastCGI client of h, closed at cleanup.
func client(t testing.TB, h *testutil.Host) *fcgi.Client {
	t.Helper()
	c := &fcgi.Client{Addr: h.FCGI, KeepConn: true}
	t.Cleanup(func() { c.Close() })
	return c
}

// params are the params nginx's fastcgi_params sends for GET path (with
// its query) in a location without SCRIPT_FILENAME.
func params(path string) map[string]string {
	p, q, _ := strings.Cut(path, "?")
	return map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_METHOD":    "GET",
		"SCRIPT_NAME":       p,
		"DOCUMENT_URI":      p,
		"REQUEST_URI":       path,
		"QUERY_STRING":      q,
		"REMOTE_ADDR":       "127.0.0.1",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_NAME":       "localhost",
	}
}

// fget sends GET path and reads the answer.
func fget(ctx context.Context, c *fcgi.Client, path string) (int, string, error) {
	return do(ctx, c, params(path))
}

func do(ctx context.Context, c *fcgi.Client, params map[string]string) (int, string, error) {
	resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: params})
	if err != nil {
		return 0, "", err
	}
	b, err := resp.ReadAll()
	return resp.Status, string(b), err
}

// get is fget that fails the test on a transport error.
func get(t testing.TB, c *fcgi.Client, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, body, err := fget(ctx, c, path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return st, body
}

// version GETs a versionApp and returns its marker, failing the test on
// anything but a well-formed 200.
func version(t testing.TB, c *fcgi.Client, path string) string {
	t.Helper()
	st, body := get(t, c, path)
	if st != 200 {
		t.Fatalf("GET %s: status %d: %s", path, st, testutil.Tail(body, 300))
	}
	v, err := marker(body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// waitVersion polls path until it serves version want and returns how long
// that took from since. Every answer on the way must be a whole version.
func waitVersion(t testing.TB, c *fcgi.Client, path, want string, since time.Time) time.Duration {
	t.Helper()
	deadline := since.Add(15 * time.Second)
	for {
		got := version(t, c, path)
		if got == want {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s still serves %q %s after the save, want %q", path, got, time.Since(since).Round(time.Millisecond), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// appStatus is the part of an app's status JSON these tests read.
type appStatus struct {
	Version         string  `json:"version"`
	Workers         int     `json:"workers"`
	Reloads         int     `json:"reloads"`
	LastReloadError *string `json:"last_reload_error"`
	VMStarts        uint64  `json:"vm_starts"`
	Limits          struct {
		Workers int `json:"workers"`
	} `json:"limits"`
}

// status reads the status page at /status (config: status_path).
func status(t testing.TB, c *fcgi.Client) map[string]appStatus {
	t.Helper()
	st, body := get(t, c, "/status")
	if st != 200 {
		t.Fatalf("status page: %d %s", st, body)
	}
	var rep struct {
		Apps map[string]appStatus `json:"apps"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("status page is not JSON: %v\n%s", err, testutil.Tail(body, 500))
	}
	return rep.Apps
}

// startHost starts fcgihost on a unix socket with the apps of dir.
func startHost(t testing.TB, apps, config string, args ...string) (*testutil.Host, *fcgi.Client) {
	t.Helper()
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: config, Args: args})
	return h, client(t, h)
}

// appsDir makes an empty apps dir (real path: the watcher and the
// registry report real paths).
func appsDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "apps")
}

func TestReload_EditBrokenFix(t *testing.T) {
	t.Parallel()
	for _, ext := range engines {
		t.Run(ext[1:], func(t *testing.T) {
			t.Parallel()
			apps := appsDir(t)
			file := filepath.Join(apps, "app"+ext)
			writeFile(t, file, fmt.Sprintf(versionApp[ext], "v1"))
			// One process: the test reads that process's status the moment
			// its own log line says the reload failed (the status is set
			// first); two workers each reload on their own.
			h, c := startHost(t, apps, "processes = 0\nworkers = 2\nstatus_path = \"/status\"\n")
			if v := version(t, c, "/app"); v != "v1" {
				t.Fatalf("first version = %q", v)
			}

			// An edit is served within a second.
			start := time.Now()
			writeFile(t, file, fmt.Sprintf(versionApp[ext], "v2"))
			if d := waitVersion(t, c, "/app", "v2", start); d > time.Second {
				t.Errorf("edit took %s to be served, want within 1s", d)
			}

			// Broken edits: the old version keeps serving; the error is
			// logged with file:line and shown on the status page.
			for i, broken := range []struct {
				name, code, where, msg string
			}{
				{"syntax error", brokenApp[ext], fmt.Sprintf("app%s:3", ext), ""},
				{"top-level throw", throwingApp[ext], fmt.Sprintf("app%s:2", ext), "top-level failure"},
			} {
				before := strings.Count(h.Output(), "reload failed")
				writeFile(t, file, broken.code)
				var lastErr string
				testutil.Eventually(t, 15*time.Second, broken.name+": failure logged", func() bool {
					if v := version(t, c, "/app"); v != "v2" {
						t.Fatalf("%s: serving %q, want the previous v2", broken.name, v)
					}
					return strings.Count(h.Output(), "reload failed") > before
				})
				// The status is set before the log line is written.
				if e := status(t, c)["app"].LastReloadError; e != nil {
					lastErr = *e
				}
				if !strings.Contains(lastErr, file) || !strings.Contains(lastErr, broken.where) || !strings.Contains(lastErr, broken.msg) {
					t.Errorf("%s: last_reload_error = %q, want %s:… and %q", broken.name, lastErr, broken.where, broken.msg)
				}
				logLine := lastLine(h.Output(), "reload failed")
				if !strings.Contains(logLine, broken.where) {
					t.Errorf("%s: log line %q does not name %s", broken.name, logLine, broken.where)
				}
				if v := version(t, c, "/app"); v != "v2" {
					t.Fatalf("%s (%d): after the failed reload serving %q, want v2", broken.name, i, v)
				}
			}

			// The fix is served and clears the error.
			start = time.Now()
			writeFile(t, file, fmt.Sprintf(versionApp[ext], "v3"))
			waitVersion(t, c, "/app", "v3", start)
			st := status(t, c)["app"]
			if st.LastReloadError != nil {
				t.Errorf("after the fix last_reload_error = %q, want null", *st.LastReloadError)
			}
			if st.Reloads != 2 {
				t.Errorf("reloads = %d, want 2 (v2, v3; failures do not count)", st.Reloads)
			}

			// An atomic save (temp file renamed over) is seen.
			start = time.Now()
			saveAtomic(t, file, fmt.Sprintf(versionApp[ext], "v4"))
			waitVersion(t, c, "/app", "v4", start)

			// Remove and re-create (some editors' save, `cp` after `rm`).
			start = time.Now()
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
			writeFile(t, file, fmt.Sprintf(versionApp[ext], "v5"))
			waitVersion(t, c, "/app", "v5", start)
		})
	}
}

// lastLine is the last line of out containing s.
func lastLine(out, s string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

func TestReload_AppsAppearAndVanish(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	writeFile(t, filepath.Join(apps, "keep.js"), fmt.Sprintf(versionApp[".js"], "keep"))
	_, c := startHost(t, apps, "workers = 1\n")

	for _, p := range []string{"/one", "/folder"} {
		if st, _ := get(t, c, p); st != 404 {
			t.Fatalf("GET %s before the app exists: %d, want 404", p, st)
		}
	}
	// A one-file app and a folder app appear.
	writeFile(t, filepath.Join(apps, "one.js"), fmt.Sprintf(versionApp[".js"], "one"))
	saveAtomic(t, filepath.Join(apps, "folder", "index.lua"), fmt.Sprintf(versionApp[".lua"], "folder"))
	// A folder app is reached at NAME/ (NAME answers 301 to it).
	for _, app := range []string{"one", "folder/"} {
		testutil.Eventually(t, 15*time.Second, "new app "+app+" served", func() bool {
			st, body := get(t, c, "/"+app+"/") // a folder app's /folder is a 301 to /folder/
			v, _ := marker(body)
			return st == 200 && v == strings.TrimSuffix(app, "/")
		})
	}
	// Deleted: 404, while the other apps serve on.
	if err := os.Remove(filepath.Join(apps, "one.js")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(apps, "folder")); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"one", "folder/"} {
		testutil.Eventually(t, 15*time.Second, "deleted app "+app+" answers 404", func() bool {
			st, _ := get(t, c, "/"+app)
			return st == 404
		})
	}
	if v := version(t, c, "/keep"); v != "keep" {
		t.Errorf("other app serves %q", v)
	}
}

// TestReload_NoChangeNoReload: a chmod, a touch and a save of the same
// bytes do not reload the app. Another app's edit, made after them, marks
// when the watcher has delivered them.
func TestReload_NoChangeNoReload(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	file := filepath.Join(apps, "same.lua")
	code := fmt.Sprintf(versionApp[".lua"], "same")
	writeFile(t, file, code)
	writeFile(t, filepath.Join(apps, "other.js"), fmt.Sprintf(versionApp[".js"], "o1"))
	_, c := startHost(t, apps, "workers = 1\nstatus_path = \"/status\"\n")
	// The page adds up every worker's figures: read them once both
	// workers (the default processes = 2) are in.
	testutil.Eventually(t, 60*time.Second, "both workers on the status page", func() bool {
		return status(t, c)["same"].Workers == config.DefaultProcesses
	})
	before := status(t, c)["same"]
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, future, future); err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, code)
	saveAtomic(t, file, code)
	writeFile(t, filepath.Join(apps, "other.js"), fmt.Sprintf(versionApp[".js"], "o2"))
	waitVersion(t, c, "/other", "o2", time.Now())
	after := status(t, c)["same"]
	if after.Reloads != before.Reloads || after.Version != before.Version || after.VMStarts != before.VMStarts {
		t.Errorf("unchanged app reloaded: before %+v, after %+v", before, after)
	}
	if v := version(t, c, "/same"); v != "same" {
		t.Errorf("serves %q", v)
	}
}

// TestReload_RootScripts: scripts under configured roots (shared hosting,
// SCRIPT_FILENAME) reload on edit, including those of a root that
// appeared after the start.
func TestReload_RootScripts(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	if err := os.MkdirAll(apps, 0o755); err != nil {
		t.Fatal(err)
	}
	www := filepath.Join(filepath.Dir(apps), "www")
	alice := filepath.Join(www, "alice", "public", "api.js")
	writeFile(t, alice, fmt.Sprintf(versionApp[".js"], "v1"))
	_, c := startHost(t, apps, fmt.Sprintf("workers = 1\nroots = [%q]\n", filepath.Join(www, "*", "public")))
	script := func(file string) (string, error) {
		p := params("/" + filepath.Base(file))
		p["SCRIPT_FILENAME"] = file
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, body, err := do(ctx, c, p)
		if err != nil {
			t.Fatalf("GET %s: %v", file, err)
		}
		if st != 200 {
			return "", fmt.Errorf("status %d: %s", st, body)
		}
		return marker(body)
	}
	waitScript := func(file, want string) {
		t.Helper()
		var last string
		var lastErr error
		deadline := time.Now().Add(20 * time.Second)
		for {
			last, lastErr = script(file)
			if lastErr == nil && last == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: serves %q (%v), want %q", file, last, lastErr, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitScript(alice, "v1")
	writeFile(t, alice, fmt.Sprintf(versionApp[".js"], "v2"))
	waitScript(alice, "v2")

	// A new site: its root matches the glob after the start. It is found
	// on first use, and then its edits are watched too.
	bob := filepath.Join(www, "bob", "public", "index.lua")
	writeFile(t, bob, fmt.Sprintf(versionApp[".lua"], "v1"))
	waitScript(bob, "v1")
	writeFile(t, bob, fmt.Sprintf(versionApp[".lua"], "v2"))
	waitScript(bob, "v2")
}

// folderApp is a folder app whose output comes from a module in lib/ and,
// once added, from a module in a new subdirectory extra/.
var folderApp = map[string]struct {
	index, indexMore, lib, more string
}{
	".js": {
		index:     "const lib = require(\"./lib/greet.js\");\nmodule.exports = function (req, res) { res.write(lib.greet()); };\n",
		indexMore: "const lib = require(\"./lib/greet.js\");\nconst more = require(\"./extra/more.js\");\nmodule.exports = function (req, res) { res.write(lib.greet() + \" + \" + more.word); };\n",
		lib:       "module.exports = { greet: function () { return \"lib %s\"; } };\n",
		more:      "module.exports = { word: \"more %s\" };\n",
	},
	".lua": {
		index:     "local lib = require(\"lib.greet\")\nreturn function(req, res) res:write(lib.greet()) end\n",
		indexMore: "local lib = require(\"lib.greet\")\nlocal more = require(\"extra.more\")\nreturn function(req, res) res:write(lib.greet(), \" + \", more.word) end\n",
		lib:       "return { greet = function() return \"lib %s\" end }\n",
		more:      "return { word = \"more %s\" }\n",
	},
}

func TestReload_Modules(t *testing.T) {
	t.Parallel()
	for _, ext := range engines {
		t.Run(ext[1:], func(t *testing.T) {
			t.Parallel()
			src := folderApp[ext]
			apps := appsDir(t)
			dir := filepath.Join(apps, "mod")
			writeFile(t, filepath.Join(dir, "index"+ext), src.index)
			writeFile(t, filepath.Join(dir, "lib", "greet"+ext), fmt.Sprintf(src.lib, "1"))
			_, c := startHost(t, apps, "workers = 2\n")
			body := func() string {
				st, b := get(t, c, "/mod/")
				if st != 200 {
					t.Fatalf("GET /mod/: %d %s", st, b)
				}
				return b
			}
			if b := body(); b != "lib 1" {
				t.Fatalf("first answer %q", b)
			}
			waitBody := func(want, what string) {
				t.Helper()
				testutil.Eventually(t, 15*time.Second, what+": want "+want, func() bool { return body() == want })
			}
			// A changed module reloads its app.
			writeFile(t, filepath.Join(dir, "lib", "greet"+ext), fmt.Sprintf(src.lib, "2"))
			waitBody("lib 2", "changed module")
			// A new subdirectory with a module, then the entry requiring it.
			writeFile(t, filepath.Join(dir, "extra", "more"+ext), fmt.Sprintf(src.more, "1"))
			saveAtomic(t, filepath.Join(dir, "index"+ext), src.indexMore)
			waitBody("lib 2 + more 1", "entry requiring a module of a new subdirectory")
			// The new subdirectory is watched: changing only its module
			// reloads the app.
			saveAtomic(t, filepath.Join(dir, "extra", "more"+ext), fmt.Sprintf(src.more, "2"))
			waitBody("lib 2 + more 2", "module in the new subdirectory changed")
		})
	}
}

// load keeps clients busy with versionApp requests and checks every
// answer: a 200, one whole version, never older than the client's last.
type load struct {
	ok, failed atomic.Int64
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	mu       sync.Mutex
	failures []string
	seen     map[string]int // path → highest version any client saw
}

// startLoad starts n clients per path; stop ends them (also at cleanup).
func startLoad(t *testing.T, h *testutil.Host, n int, paths ...string) *load {
	t.Helper()
	l := &load{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for _, path := range paths {
		for i := 0; i < n; i++ {
			l.wg.Add(1)
			go l.client(ctx, h.FCGI, path)
		}
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) client(ctx context.Context, addr, path string) {
	defer l.wg.Done()
	cl := &fcgi.Client{Addr: addr, KeepConn: true}
	defer cl.Close()
	last := 0
	for ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		st, body, err := fget(rctx, cl, path)
		rcancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil || st != 200 {
			l.fail("%s: status %d, err %v, body %q", path, st, err, testutil.Tail(body, 200))
			continue
		}
		v, err := marker(body)
		if err != nil {
			l.fail("%s: %v", path, err)
			continue
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(v, "v"))
		if n < last {
			l.fail("%s: a client saw v%d after v%d", path, n, last)
		}
		last = n
		l.ok.Add(1)
		l.mu.Lock()
		l.seen[path] = max(l.seen[path], n)
		l.mu.Unlock()
	}
}

func (l *load) fail(format string, args ...any) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 10 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
	l.mu.Unlock()
}

// waitServed waits until the clients got n more right answers.
func (l *load) waitServed(t *testing.T, n int64) {
	t.Helper()
	want := l.ok.Load() + n
	testutil.Eventually(t, 15*time.Second, "requests answered under load", func() bool { return l.ok.Load() >= want })
}

// waitSeen waits until the clients got version k (or newer) of every path.
func (l *load) waitSeen(t *testing.T, k int, paths ...string) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, fmt.Sprintf("version %d seen by the clients", k), func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, p := range paths {
			if l.seen[p] < k {
				return false
			}
		}
		return true
	})
}

func (l *load) stop() { l.cancel(); l.wg.Wait() }

// check stops the clients and fails the test if any request failed.
func (l *load) check(t *testing.T, what string) {
	t.Helper()
	l.stop()
	t.Logf("%d requests answered across %s", l.ok.Load(), what)
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d failed requests (of %d) across %s, first ones:\n%s", n, n+l.ok.Load(), what, strings.Join(l.failures, "\n"))
	}
	if l.ok.Load() == 0 {
		t.Fatalf("no request answered across %s", what)
	}
}

// TestReload_SteadyLoad reloads a JS and a Lua app 20 times each while
// clients keep both busy: no request may fail, every answer must be one
// whole version, a client never goes back to an older version, and every
// reload's VMs are started ahead (vm_starts counts no cold start).
func TestReload_SteadyLoad(t *testing.T) {
	t.Parallel()
	const (
		reloads = 20
		workers = 2
		clients = 4 // per app, more than workers: requests queue
	)
	apps := appsDir(t)
	for _, ext := range engines {
		writeFile(t, filepath.Join(apps, "load"+ext), fmt.Sprintf(versionApp[ext], "v0"))
	}
	// One process: vm_starts counts the VMs one process starts per
	// version; each worker's watcher debounces the saves on its own, so
	// the sum over workers is no fixed multiple of the versions.
	h, c := startHost(t, apps, fmt.Sprintf("processes = 0\nworkers = %d\nstatus_path = \"/status\"\n", workers))
	paths := []string{"/load.js", "/load.lua"}
	l := startLoad(t, h, clients, paths...)
	for k := 1; k <= reloads; k++ {
		// Each reload happens under load: wait until the clients have
		// answers again since the last one.
		l.waitServed(t, 20)
		for _, ext := range engines {
			saveAtomic(t, filepath.Join(apps, "load"+ext), fmt.Sprintf(versionApp[ext], "v"+strconv.Itoa(k)))
		}
		l.waitSeen(t, k, paths...)
	}
	l.check(t, fmt.Sprintf("%d reloads of each app", reloads))
	// NAME.js and NAME.lua share a name: the .js one is "load", the
	// other is reached (and reported) by its file name.
	sts := status(t, c)
	for ext, name := range map[string]string{".js": "load", ".lua": "load.lua"} {
		st := sts[name]
		if st.Reloads != reloads {
			t.Errorf("%s: reloads = %d, want %d", ext, st.Reloads, reloads)
		}
		// Each version's VMs were started ahead by the swap, never on a
		// request's path: exactly workers per version.
		if want := uint64(workers * (reloads + 1)); st.VMStarts != want {
			t.Errorf("%s: vm_starts = %d, want %d (%d workers × %d versions): a request started a VM", ext, st.VMStarts, want, workers, reloads+1)
		}
	}
}

// TestProcess_SIGHUPUnderLoad: a SIGHUP replaces every pool and the
// config; requests in flight on the old generation finish and none fails.
func TestProcess_SIGHUPUnderLoad(t *testing.T) {
	t.Parallel()
	const reloads = 10
	apps := appsDir(t)
	for _, ext := range engines {
		writeFile(t, filepath.Join(apps, "load"+ext), fmt.Sprintf(versionApp[ext], "v1"))
	}
	h, _ := startHost(t, apps, "workers = 2\nwatch = false\n")
	l := startLoad(t, h, 4, "/load.js", "/load.lua")
	for k := 1; k <= reloads; k++ {
		l.waitServed(t, 20)
		if err := h.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 15*time.Second, fmt.Sprintf("SIGHUP %d done", k), func() bool {
			return strings.Count(h.Output(), "configuration reloaded") >= k
		})
	}
	l.check(t, fmt.Sprintf("%d SIGHUP reloads", reloads))
}

// slowApp busy-waits ?ms milliseconds and then answers.
const slowApp = `module.exports = function (req, res) {
  const ms = Number(req.query.ms || "0");
  const end = Date.now() + ms;
  while (Date.now() < end) {}
  res.write("slept " + ms);
};
`

// startSlow sends GET /slow?ms=ms in the background, waits until the host
// reports it running and returns the channel of its outcome.
func startSlow(t *testing.T, h *testutil.Host, c *fcgi.Client, ms int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		sc := &fcgi.Client{Addr: h.FCGI}
		defer sc.Close()
		st, body, err := fget(context.Background(), sc, fmt.Sprintf("/slow?ms=%d", ms))
		if err == nil && (st != 200 || body != fmt.Sprintf("slept %d", ms)) {
			err = fmt.Errorf("status %d body %q", st, body)
		}
		done <- err
	}()
	testutil.Eventually(t, 15*time.Second, "slow request running", func() bool {
		st, body := get(t, c, "/status")
		return st == 200 && strings.Contains(body, `"busy": 1`)
	})
	return done
}

func TestProcess_SIGTERMDrains(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	writeFile(t, filepath.Join(apps, "slow.js"), slowApp)
	h, c := startHost(t, apps, "workers = 1\nstatus_path = \"/status\"\ngrace_period = \"30s\"\n")
	done := startSlow(t, h, c, 1500)
	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the request in flight finishes.
	testutil.Eventually(t, 15*time.Second, "listener closed after SIGTERM", func() bool {
		conn, err := net.Dial("unix", strings.TrimPrefix(h.FCGI, "unix:"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	if err := <-done; err != nil {
		t.Errorf("request in flight at SIGTERM: %v", err)
	}
	if code := h.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, testutil.Tail(h.Output(), 2000))
	}
	if !strings.Contains(h.Output(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", testutil.Tail(h.Output(), 2000))
	}
}

func TestProcess_SecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	writeFile(t, filepath.Join(apps, "slow.js"), slowApp)
	h, c := startHost(t, apps, "workers = 1\nstatus_path = \"/status\"\ntimeout = \"120s\"\ngrace_period = \"120s\"\n")
	done := startSlow(t, h, c, 60000)
	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "draining after the first SIGTERM", func() bool {
		return strings.Contains(h.Output(), "shutting down")
	})
	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The grace period and the request are a minute and more; the second
	// signal must not wait for either.
	code := h.Wait(20 * time.Second)
	if code == -1 {
		t.Fatal("still running 20s after the second SIGTERM (killed)")
	}
	if code == 0 {
		t.Errorf("exit code after a second signal = 0, want non-zero (the drain was cut short)")
	}
	if err := <-done; err == nil {
		t.Errorf("the 60s request completed although the host exited at once")
	}
}

func TestProcess_SIGHUPConfig(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	writeFile(t, filepath.Join(apps, "app.lua"), fmt.Sprintf(versionApp[".lua"], "v1"))
	// One process (processes = 0): the test counts one process's VMs per
	// app before and after SIGHUP; a master's SIGHUP is tested in
	// processes_test.go, where the status page sums the workers.
	conf := func(pong string, workers int, extra string) string {
		return fmt.Sprintf("processes = 0\nstatus_path = \"/status\"\nping_path = \"/ping\"\nping_response = %q\nworkers = 1\n%s\n[app.app]\nworkers = %d\n", pong, extra, workers)
	}
	h, c := startHost(t, apps, conf("pong-1", 1, ""))
	cfgFile := filepath.Join(h.Dir, "fcgihost.toml")
	ping := func() string {
		st, body := get(t, c, "/ping")
		if st != 200 {
			t.Fatalf("ping: %d %s", st, body)
		}
		return strings.TrimSpace(body)
	}
	if p := ping(); p != "pong-1" {
		t.Fatalf("ping = %q", p)
	}
	if st := status(t, c)["app"]; st.Workers != 1 || st.Limits.Workers != 1 {
		t.Fatalf("workers = %d (limit %d), want 1", st.Workers, st.Limits.Workers)
	}

	// A config change by SIGHUP: host key and per-app key.
	writeFile(t, cfgFile, conf("pong-2", 3, ""))
	if err := h.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "ping_response after SIGHUP", func() bool { return ping() == "pong-2" })
	if st := status(t, c)["app"]; st.Workers != 3 || st.Limits.Workers != 3 {
		t.Errorf("after SIGHUP workers = %d (limit %d), want 3", st.Workers, st.Limits.Workers)
	}
	if v := version(t, c, "/app"); v != "v1" {
		t.Errorf("app after SIGHUP serves %q", v)
	}

	// A bad config is logged, naming the key, and the old one is kept.
	writeFile(t, cfgFile, conf("pong-3", 1, "no_such_key = 1"))
	if err := h.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "bad config logged", func() bool {
		return strings.Contains(h.Output(), "no_such_key")
	})
	if line := lastLine(h.Output(), "no_such_key"); !strings.Contains(line, "keeping") {
		t.Errorf("bad config log line %q does not say the old config is kept", line)
	}
	if p := ping(); p != "pong-2" {
		t.Errorf("after a bad config ping = %q, want the old pong-2", p)
	}
	if v := version(t, c, "/app"); v != "v1" {
		t.Errorf("app after a bad config serves %q", v)
	}

	// Fixed: the next SIGHUP applies it.
	writeFile(t, cfgFile, conf("pong-4", 1, ""))
	if err := h.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "ping_response after the fixed config", func() bool { return ping() == "pong-4" })
}

// TestReload_WatchOff: with watch = false (config or flag) a save is not
// picked up; SIGHUP reloads it.
func TestReload_WatchOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, config string
		args         []string
	}{
		{"config", "watch = false\n", nil},
		{"flag", "watch = true\n", []string{"--watch=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			apps := appsDir(t)
			file := filepath.Join(apps, "app.js")
			writeFile(t, file, fmt.Sprintf(versionApp[".js"], "v1"))
			h, c := startHost(t, apps, tc.config+"workers = 1\nstatus_path = \"/status\"\n", tc.args...)
			// The socket listens before the apps have compiled: the first
			// answer shows v1 was loaded before the edit.
			if v := version(t, c, "/app"); v != "v1" {
				t.Fatalf("first version = %q", v)
			}
			writeFile(t, file, fmt.Sprintf(versionApp[".js"], "v2"))
			// Several times the watcher's debounce and the 1s promise of
			// watch mode: the old version must hold throughout.
			for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if v := version(t, c, "/app"); v != "v1" {
					t.Fatalf("with watching off the edit was served (%q)", v)
				}
			}
			if st := status(t, c)["app"]; st.Reloads != 0 {
				t.Fatalf("reloads = %d with watching off", st.Reloads)
			}
			if err := h.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitVersion(t, c, "/app", "v2", time.Now())
		})
	}
}

func TestProcess_SIGUSR1ReopensLog(t *testing.T) {
	t.Parallel()
	apps := appsDir(t)
	writeFile(t, filepath.Join(apps, "logs.js"), "module.exports = function (req, res) { log(\"line from \" + req.query.n); res.write(\"ok\"); };\n")
	h, c := startHost(t, apps, "workers = 1\nlog_file = \"fcgihost.log\"\n")
	logFile := filepath.Join(h.Dir, "fcgihost.log")
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return string(b)
	}
	get(t, c, "/logs?n=one")
	testutil.Eventually(t, 15*time.Second, "first line in the log file", func() bool {
		return strings.Contains(read(logFile), "line from one")
	})
	// Under a master (the default processes = 2) every worker is up
	// before the rotation, so that "reopened" speaks for all of them.
	testutil.Eventually(t, 30*time.Second, "both workers ready", func() bool {
		return strings.Count(read(logFile), "worker ready") >= config.DefaultProcesses
	})
	// logrotate: move the file away, then SIGUSR1.
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	get(t, c, "/logs?n=two") // still goes to the moved file
	if err := h.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "log file reopened", func() bool {
		return strings.Contains(read(logFile), "reopened")
	})
	get(t, c, "/logs?n=three")
	testutil.Eventually(t, 15*time.Second, "new line in the new file", func() bool {
		return strings.Contains(read(logFile), "line from three")
	})
	old, cur := read(logFile+".1"), read(logFile)
	if !strings.Contains(old, "line from one") || !strings.Contains(old, "line from two") || strings.Contains(old, "line from three") {
		t.Errorf("rotated file has the wrong lines:\n%s", old)
	}
	if strings.Contains(cur, "line from one") || strings.Contains(cur, "line from two") {
		t.Errorf("new file has lines from before the reopen:\n%s", cur)
	}
}

// BenchmarkReloadLatency measures, per engine, the time from a saved file
// to the first response of the new version (the watcher's debounce,
// compile, VM start ahead and swap), polling every millisecond. Run it as
//
//	go test ./e2e -run '^$' -bench ReloadLatency -benchtime 50x
//
// It reports the median, p99 and max in milliseconds, and the median time
// of the first request answered by a new version next to that of the
// requests before it: equal when the swap started the VMs ahead.
func BenchmarkReloadLatency(b *testing.B) {
	for _, ext := range engines {
		b.Run(ext[1:], func(b *testing.B) {
			apps := appsDir(b)
			file := filepath.Join(apps, "app"+ext)
			writeFile(b, file, fmt.Sprintf(versionApp[ext], "v0"))
			h := testutil.StartHost(b, testutil.HostOptions{Apps: apps, Unix: true, Config: "workers = 2\n"})
			c := client(b, h)
			version(b, c, "/app")
			// lat: save → first new answer; first: how long that first
			// request of a new version took; other: the requests before.
			var lat, first, other []time.Duration
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				v := "v" + strconv.Itoa(i)
				start := time.Now()
				writeFile(b, file, fmt.Sprintf(versionApp[ext], v))
				for {
					t0 := time.Now()
					got := version(b, c, "/app")
					d := time.Since(t0)
					if got == v {
						first = append(first, d)
						break
					}
					other = append(other, d)
					time.Sleep(time.Millisecond)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			q := func(ds []time.Duration, q float64) float64 {
				slices.Sort(ds)
				return ms(ds[int(q*float64(len(ds)-1)+0.5)])
			}
			b.ReportMetric(q(lat, 0.5), "p50-ms")
			b.ReportMetric(q(lat, 0.99), "p99-ms")
			b.ReportMetric(q(lat, 1), "max-ms")
			b.ReportMetric(q(first, 0.5), "first-req-p50-ms")
			b.ReportMetric(q(other, 0.5), "req-p50-ms")
		})
	}
}
