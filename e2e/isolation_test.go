// This file holds the process-isolation tests (docs/reference.md §7, issue 8,
// docs/isolation.md) against the built binary: the kernel memory limit
// kills only the tenant that passes it, children run as their tenant's
// uid and gid, a crash loop is backed off and reported, max_rss recycles
// under load without a failed request, hot reload and SIGTERM work
// through the child; and the benchmark of hello through a child next to
// in-process.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

// isoStats is the "isolation" object of an app on the status page.
type isoStats struct {
	State    string `json:"state"`
	PID      int    `json:"pid"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
	RSSBytes int64  `json:"rss_bytes"`
	Restarts int    `json:"restarts"`
	Recycles int    `json:"recycles"`
	Failures int    `json:"failures"`
	LastExit string `json:"last_exit"`
}

// isoStatus reads the isolation figures of every app from /status.
func isoStatus(t testing.TB, c *fcgi.Client) map[string]*isoStats {
	t.Helper()
	st, body := get(t, c, "/status")
	if st != 200 {
		t.Fatalf("status page: %d %s", st, body)
	}
	var rep struct {
		Apps map[string]struct {
			Isolation *isoStats `json:"isolation"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("status page is not JSON: %v\n%s", err, testutil.Tail(body, 500))
	}
	out := map[string]*isoStats{}
	for name, a := range rep.Apps {
		if a.Isolation != nil {
			out[name] = a.Isolation
		}
	}
	return out
}

// openApps makes an apps dir other users can read (children drop to
// their tenant's user), and lets them run the binary.
func openApps(t *testing.T) string {
	t.Helper()
	os.Chmod(filepath.Dir(testutil.Binary(t)), 0o755)
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(d), 0o755)
	os.Chmod(d, 0o755)
	apps := filepath.Join(d, "apps")
	if err := os.Mkdir(apps, 0o755); err != nil {
		t.Fatal(err)
	}
	return apps
}

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok && strings.TrimSpace(v) == strconv.Itoa(pid) {
				out = append(out, n)
			}
		}
	}
	return out
}

// procIDs reads the real, effective, saved and fs uid and gid of pid.
func procIDs(t *testing.T, pid int) (uid, gid string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			uid = strings.Join(strings.Fields(v), " ")
		}
		if v, ok := strings.CutPrefix(line, "Gid:"); ok {
			gid = strings.Join(strings.Fields(v), " ")
		}
	}
	return uid, gid
}

const hogJS = `// allocates without end when asked
let keep = [];
module.exports = function (req, res) {
  if (req.query.alloc) {
    for (;;) keep.push(new Array(1 << 20).fill(keep.length));
  }
  res.write("hog ok");
};
`

const calmLua = `return function(req, res) res:write("calm ok") end
`

// TestIsolation_MemoryLimit: a tenant whose script allocates without end
// is killed by the kernel limit — its request gets a 5xx, its child is
// restarted — while another tenant keeps answering every request.
func TestIsolation_MemoryLimit(t *testing.T) {
	t.Parallel()
	apps := openApps(t)
	writeFile(t, filepath.Join(apps, "hog.js"), hogJS)
	writeFile(t, filepath.Join(apps, "calm.lua"), calmLua)
	// One process: the test follows the isolated children of the serving
	// process itself (their pids, restarts, backoff); under a master each
	// worker has children of its own.
	h, c := startHost(t, apps, `processes = 0
status_path = "/status"
isolation = "process"
workers = 2
[app.hog]
memory_limit = "64MiB"
`)
	if st, body := get(t, c, "/hog"); st != 200 || body != "hog ok" {
		t.Fatalf("hog: %d %q", st, body)
	}
	var calmN, calmBad atomic.Int64
	var firstBad atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				st, body, err := fget(rctx, c, "/calm")
				cancel()
				calmN.Add(1)
				if err != nil || st != 200 || body != "calm ok" {
					calmBad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", st, body, err))
				}
			}
		}()
	}
	st, body := get(t, c, "/hog?alloc=1")
	stop()
	wg.Wait()
	if st < 500 {
		t.Errorf("allocating request: %d %q; want a 5xx", st, body)
	}
	if calmN.Load() == 0 || calmBad.Load() > 0 {
		t.Errorf("other tenant: %d requests, %d failed (first: %v)", calmN.Load(), calmBad.Load(), firstBad.Load())
	}
	testutil.Eventually(t, 30*time.Second, "the hog serves again", func() bool {
		st, _ := get(t, c, "/hog")
		return st == 200
	})
	iso := isoStatus(t, c)
	if s := iso["hog"]; s == nil || s.Restarts != 1 || !strings.Contains(s.LastExit, "out of memory") || s.State != "running" {
		t.Errorf("hog's status: %+v; want running after 1 restart, last exit out of memory", s)
	}
	if s := iso["calm"]; s == nil || s.Restarts != 0 {
		t.Errorf("calm's status: %+v; want 0 restarts", s)
	}
	if !strings.Contains(h.Output(), "child died; restarting") {
		t.Errorf("no log line for the death:\n%s", testutil.Tail(h.Output(), 3000))
	}
}

// TestIsolation_TenantIdentity: with shared-hosting roots, each tenant's
// scripts run in a child under the uid and gid that own the tenant's
// directory (read from /proc/PID/status), and an app's user and group
// keys name them explicitly.
func TestIsolation_TenantIdentity(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI runs as root)")
		}
		t.Skip("not root: children cannot change user; skipping")
	}
	apps := openApps(t)
	www := filepath.Join(filepath.Dir(apps), "www")
	tenants := []struct {
		name     string
		uid, gid int
	}{{"alice", 41001, 41001}, {"bob", 41002, 41003}}
	for _, tn := range tenants {
		root := filepath.Join(www, tn.name, "public_html")
		writeFile(t, filepath.Join(root, "who.lua"), `return function(req, res) res:write("tenant `+tn.name+`") end`+"\n")
		for _, d := range []string{filepath.Join(www, tn.name), root} {
			os.Chmod(d, 0o755)
			os.Chown(d, tn.uid, tn.gid)
		}
	}
	os.Chmod(www, 0o755)
	writeFile(t, filepath.Join(apps, "named.lua"), calmLua)
	// One process: the test follows the isolated children of the serving
	// process itself (their pids, restarts, backoff); under a master each
	// worker has children of its own.
	h, c := startHost(t, apps, fmt.Sprintf(`processes = 0
status_path = "/status"
isolation = "process"
workers = 1
roots = [%q]
[app.named]
user = "41010"
group = "41011"
`, filepath.Join(www, "*", "public_html")))
	for _, tn := range tenants {
		script := filepath.Join(www, tn.name, "public_html", "who.lua")
		p := params("/who.lua")
		p["SCRIPT_FILENAME"] = script
		p["DOCUMENT_ROOT"] = filepath.Dir(script)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, body, err := do(ctx, c, p)
		cancel()
		if err != nil || st != 200 || body != "tenant "+tn.name {
			t.Fatalf("%s: %d %q %v", tn.name, st, body, err)
		}
		s := isoStatus(t, c)[script]
		if s == nil || s.PID == 0 {
			t.Fatalf("%s: no child in the status page", tn.name)
		}
		uid, gid := procIDs(t, s.PID)
		if want := strings.Repeat(strconv.Itoa(tn.uid)+" ", 4); uid != want[:len(want)-1] {
			t.Errorf("%s: child %d has Uid %q; want %d everywhere", tn.name, s.PID, uid, tn.uid)
		}
		if want := strings.Repeat(strconv.Itoa(tn.gid)+" ", 4); gid != want[:len(want)-1] {
			t.Errorf("%s: child %d has Gid %q; want %d everywhere", tn.name, s.PID, gid, tn.gid)
		}
	}
	if st, _ := get(t, c, "/named"); st != 200 {
		t.Fatalf("named: %d", st)
	}
	s := isoStatus(t, c)["named"]
	if uid, gid := procIDs(t, s.PID); uid != "41010 41010 41010 41010" || gid != "41011 41011 41011 41011" {
		t.Errorf("named: Uid %q Gid %q; want 41010 and 41011", uid, gid)
	}
	// Three children, all the host's own.
	if kids := childrenOf(h.Cmd.Process.Pid); len(kids) != 3 {
		t.Errorf("host has children %v; want 3", kids)
	}
}

// TestIsolation_CrashLoop: an app whose child dies at every start (its
// top-level code allocates without end) is restarted with backoff, marked
// failed in the log and on the status page, answers 503, and another app
// serves on.
func TestIsolation_CrashLoop(t *testing.T) {
	t.Parallel()
	apps := openApps(t)
	writeFile(t, filepath.Join(apps, "doomed.js"), "let keep = [];\nfor (;;) keep.push(new Array(1 << 20).fill(1));\nmodule.exports = function (req, res) { res.write(\"never\"); };\n")
	writeFile(t, filepath.Join(apps, "calm.lua"), calmLua)
	// One process: the test follows the isolated children of the serving
	// process itself (their pids, restarts, backoff); under a master each
	// worker has children of its own.
	h, c := startHost(t, apps, `processes = 0
status_path = "/status"
isolation = "process"
workers = 1
memory_limit = "64MiB"
`)
	testutil.Eventually(t, 90*time.Second, "the app is marked failed", func() bool {
		s := isoStatus(t, c)["doomed"]
		return s != nil && s.State == "failed"
	})
	s := isoStatus(t, c)["doomed"]
	if s.Failures < 5 || s.Restarts < 5 || !strings.Contains(s.LastExit, "out of memory") {
		t.Errorf("status %+v; want ≥5 failures in a row, last exit out of memory", s)
	}
	if st, body := get(t, c, "/doomed"); st != 503 {
		t.Errorf("failed app: %d %q; want 503", st, body)
	}
	if st, body := get(t, c, "/calm"); st != 200 || body != "calm ok" {
		t.Errorf("other app: %d %q", st, body)
	}
	out := h.Output()
	if !strings.Contains(out, "crash loop: isolated app marked failed") {
		t.Errorf("no crash-loop log line:\n%s", testutil.Tail(out, 3000))
	}
	// The waits between starts double (100ms, 200ms, 400ms, 800ms…).
	var delays []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "child failed to start") {
			if i := strings.Index(line, "retry_in="); i >= 0 {
				delays = append(delays, strings.Fields(line[i+len("retry_in="):])[0])
			}
		}
	}
	want := []string{"100ms", "200ms", "400ms", "800ms"}
	if len(delays) < len(want) || strings.Join(delays[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("backoff delays %v; want them to start %v", delays, want)
	}
}

const leakyJS = `// keeps 200 KB per request
let keep = [];
module.exports = function (req, res) {
  keep.push("x".repeat(200000) + keep.length);
  res.write("ok " + keep.length);
};
`

// TestIsolation_MaxRSS: under load, a child whose resident size passes
// max_rss is replaced by a new one, and not one request fails.
func TestIsolation_MaxRSS(t *testing.T) {
	t.Parallel()
	apps := openApps(t)
	writeFile(t, filepath.Join(apps, "leaky.js"), leakyJS)
	_, c := startHost(t, apps, `status_path = "/status"
isolation = "process"
workers = 4
memory_limit = "1GiB"
max_rss = "96MiB"
`)
	var ok, bad atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				st, body, err := fget(ctx, c, "/leaky")
				cancel()
				if err != nil || st != 200 || !strings.HasPrefix(body, "ok ") {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", st, body, err))
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	var recycles int
	deadline := time.Now().Add(120 * time.Second)
	for recycles < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if s := isoStatus(t, c)["leaky"]; s != nil {
			recycles = s.Recycles
		}
	}
	close(done)
	wg.Wait()
	if recycles < 2 {
		t.Errorf("%d recycles after %d requests; want 2", recycles, ok.Load())
	}
	if bad.Load() > 0 {
		t.Errorf("%d of %d requests failed (first: %v)", bad.Load(), ok.Load()+bad.Load(), firstBad.Load())
	}
	if s := isoStatus(t, c)["leaky"]; s == nil || s.Restarts != 0 {
		t.Errorf("status %+v; want no restart (recycles only)", s)
	}
	t.Logf("%d requests, %d recycles, no failure", ok.Load(), recycles)
}

// TestIsolation_ReloadAndShutdown: a saved change is served through the
// child without a restart of the host or the child, SIGHUP replaces the
// child, and SIGTERM lets a request in flight in the child finish, stops
// the children and exits 0.
func TestIsolation_ReloadAndShutdown(t *testing.T) {
	t.Parallel()
	apps := openApps(t)
	app := filepath.Join(apps, "page.js")
	src := `const V = "%s";
module.exports = function (req, res) {
  const t0 = Date.now();
  while (Date.now() - t0 < Number(req.query.ms || 0)) {}
  res.write("version " + V);
};
`
	writeFile(t, app, fmt.Sprintf(src, "one"))
	h, c := startHost(t, apps, `status_path = "/status"
isolation = "process"
workers = 2
grace_period = "20s"
`)
	if st, body := get(t, c, "/page"); st != 200 || body != "version one" {
		t.Fatalf("%d %q", st, body)
	}
	pid := isoStatus(t, c)["page"].PID
	saveAtomic(t, app, fmt.Sprintf(src, "two"))
	testutil.Eventually(t, 20*time.Second, "the new version is served", func() bool {
		_, body := get(t, c, "/page")
		return body == "version two"
	})
	if p := isoStatus(t, c)["page"].PID; p != pid {
		t.Errorf("the child changed (%d → %d); the child reloads its app itself", pid, p)
	}
	// SIGHUP: a new child for the new configuration; the old one stops.
	h.Signal(syscall.SIGHUP)
	testutil.Eventually(t, 20*time.Second, "a new child after SIGHUP", func() bool {
		s := isoStatus(t, c)["page"]
		return s != nil && s.PID != 0 && s.PID != pid
	})
	testutil.Eventually(t, 20*time.Second, "the old child stops", func() bool { return syscall.Kill(pid, 0) != nil })
	if st, body := get(t, c, "/page"); st != 200 || body != "version two" {
		t.Fatalf("after SIGHUP: %d %q", st, body)
	}
	pid = isoStatus(t, c)["page"].PID
	type answer struct {
		st   int
		body string
		err  error
	}
	res := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, body, err := fget(ctx, c, "/page?ms=1500")
		res <- answer{st, body, err}
	}()
	time.Sleep(300 * time.Millisecond) // the request is in the child's script now
	h.Signal(syscall.SIGTERM)
	a := <-res
	if a.err != nil || a.st != 200 || a.body != "version two" {
		t.Errorf("request in flight at SIGTERM: %d %q %v", a.st, a.body, a.err)
	}
	if code := h.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("child %d outlived the host", pid)
	}
}

// BenchmarkIsolation_Hello measures hello in-process and through a child
// process in the same run, 8 concurrent FastCGI clients each, and reports
// the mean latency of both and their ratio.
//
//	go test ./e2e -run '^$' -bench Isolation_Hello -benchtime 20000x
func BenchmarkIsolation_Hello(b *testing.B) {
	d, _ := filepath.EvalSymlinks(b.TempDir())
	apps := filepath.Join(d, "apps")
	hello := "return function(req, res) res:write(\"hello world\") end\n"
	writeFile(b, filepath.Join(apps, "vm.lua"), hello)
	writeFile(b, filepath.Join(apps, "proc.lua"), hello)
	os.Chmod(filepath.Dir(testutil.Binary(b)), 0o755)
	os.Chmod(d, 0o755)
	os.Chmod(filepath.Dir(d), 0o755)
	os.Chmod(apps, 0o755)
	_, c := startHost(b, apps, `workers = 2
[app.proc]
isolation = "process"
`)
	c.MaxIdle = 64
	for _, p := range []string{"/vm", "/proc"} {
		if st, body := get(b, c, p); st != 200 || body != "hello world" {
			b.Fatalf("%s: %d %q", p, st, body)
		}
	}
	var vmNs, procNs, n atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			for _, p := range [...]struct {
				path string
				ns   *atomic.Int64
			}{{"/vm", &vmNs}, {"/proc", &procNs}} {
				t0 := time.Now()
				st, _, err := fget(ctx, c, p.path)
				p.ns.Add(int64(time.Since(t0)))
				if err != nil || st != 200 {
					b.Errorf("%s: %d %v", p.path, st, err)
					return
				}
			}
			n.Add(1)
		}
	})
	b.StopTimer()
	if n.Load() > 0 {
		vm, proc := float64(vmNs.Load())/float64(n.Load()), float64(procNs.Load())/float64(n.Load())
		b.ReportMetric(vm/1e3, "vm-µs/req")
		b.ReportMetric(proc/1e3, "process-µs/req")
		b.ReportMetric(proc/vm, "process/vm")
	}
}
