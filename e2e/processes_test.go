package e2e

// The process model of docs/processes.md, end to end: the real binary as a
// master with workers behind a real nginx. A worker killed with SIGKILL,
// or dying of a Go fatal error, under load: no connection refused, at
// most the requests in flight on it fail (502 from nginx), the master's
// pid is unchanged and a new worker serves. A request stuck in a call
// that never returns gets its 504 at its deadline, and its worker is
// retired and replaced.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
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

// workerPIDs lists the child processes of pid.
func workerPIDs(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[0] != "Z" && f[0] != "X" && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func waitWorkers(t *testing.T, h *testutil.Host, n int, exclude ...int) []int {
	t.Helper()
	var pids []int
	defer func() {
		if t.Failed() {
			t.Logf("children of the master: %v; worker lines:\n%s", pids, grepLines(h.Output(), "worker"))
		}
	}()
	testutil.Eventually(t, 60*time.Second, fmt.Sprintf("%d workers ready", n), func() bool {
		pids = workerPIDs(t, h.Cmd.Process.Pid)
		for _, p := range pids {
			for _, x := range exclude {
				if p == x {
					return false
				}
			}
		}
		return len(pids) == n && strings.Count(h.Output(), "worker ready") >= n
	})
	return pids
}

const procApps = `module.exports = function (req, res) {
  const ms = Number(req.query.ms || "0");
  const end = Date.now() + ms;
  while (Date.now() < end) {}
  res.write("ok " + req.path);
};
`

// loadResult is the outcome of a bounded request loop.
type loadResult struct {
	ok, bad, transport atomic.Int64
	mu                 sync.Mutex
	statuses           map[int]int
}

// runLoad sends requests from clients goroutines until stop is closed.
func runLoad(t *testing.T, url string, clients int, stop <-chan struct{}) (*loadResult, func()) {
	t.Helper()
	r := &loadResult{statuses: map[int]int{}}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err != nil {
					r.transport.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					r.ok.Add(1)
				} else {
					r.bad.Add(1)
				}
				r.mu.Lock()
				r.statuses[resp.StatusCode]++
				r.mu.Unlock()
			}
		}()
	}
	return r, wg.Wait
}

func startProcStack(t *testing.T, config string, env ...string) (*testutil.Host, *testutil.Nginx) {
	t.Helper()
	apps := t.TempDir()
	if err := os.WriteFile(filepath.Join(apps, "app.js"), []byte(procApps), 0o644); err != nil {
		t.Fatal(err)
	}
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: config, Env: env})
	n := testutil.StartNginx(t, h, nginxRoot)
	return h, n
}

// checkLoad asserts what a crash of one worker may cost: no transport
// error, no refused upstream connection, only 502s and at most inFlight
// of them.
func checkLoad(t *testing.T, r *loadResult, n *testutil.Nginx, inFlight int64) {
	t.Helper()
	t.Logf("load: %d ok, %d failed %v, %d transport errors", r.ok.Load(), r.bad.Load(), r.statuses, r.transport.Load())
	if r.transport.Load() != 0 {
		t.Errorf("%d requests failed at the transport", r.transport.Load())
	}
	for st, k := range r.statuses {
		if st != 200 && st != 502 {
			t.Errorf("%d answers with status %d; only 200 and 502 (a request in flight on the dead worker) are allowed", k, st)
		}
	}
	if r.bad.Load() > inFlight {
		t.Errorf("%d requests failed; at most the %d in flight on the dead worker may", r.bad.Load(), inFlight)
	}
	if r.ok.Load() == 0 {
		t.Error("no request succeeded")
	}
	if el := n.ErrorLog(); strings.Contains(el, "Connection refused") || strings.Contains(el, "No such file") {
		t.Errorf("nginx saw a refused upstream connection:\n%s", testutil.Tail(el, 2000))
	}
}

func TestProcesses_KillWorkerUnderLoad(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 2\nworkers = 2\n")
	master := h.Cmd.Process.Pid
	pids := waitWorkers(t, h, 2)
	const clients = 4
	stop := make(chan struct{})
	res, wait := runLoad(t, n.URL+"/app/x?ms=2", clients, stop)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return res.ok.Load() > 50 })
	victim := pids[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The replacement comes up while the load goes on.
	after := waitWorkers(t, h, 2, victim)
	before := res.ok.Load()
	testutil.Eventually(t, 10*time.Second, "load served after the crash", func() bool { return res.ok.Load() > before+50 })
	close(stop)
	wait()
	checkLoad(t, res, n, clients)
	if h.Cmd.ProcessState != nil || syscall.Kill(master, 0) != nil {
		t.Fatal("the master died")
	}
	out := h.Output()
	if !strings.Contains(out, "worker died; replacing it") || !strings.Contains(out, "killed by signal killed") {
		t.Errorf("the master did not log the death:\n%s", testutil.Tail(out, 3000))
	}
	t.Logf("workers %v → %v", pids, after)
}

func TestProcesses_FatalErrorUnderLoad(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 2\nworkers = 2\n", "FCGIHOST_TEST_HOOKS=1")
	master := h.Cmd.Process.Pid
	pids := waitWorkers(t, h, 2)
	const clients = 4
	stop := make(chan struct{})
	res, wait := runLoad(t, n.URL+"/app/x?ms=2", clients, stop)
	testutil.Eventually(t, 10*time.Second, "load running", func() bool { return res.ok.Load() > 50 })
	// A Go fatal error (stack overflow) cannot be recovered: it ends the
	// worker that ran it.
	r := testutil.Get(t, n.URL+"/__fcgihost_test/fatal")
	if r.StatusCode != 502 {
		t.Errorf("the request that crashed its worker got %d, want 502", r.StatusCode)
	}
	testutil.Eventually(t, 20*time.Second, "a worker replaced", func() bool {
		now := workerPIDs(t, master)
		return len(now) == 2 && !(contains(now, pids[0]) && contains(now, pids[1]))
	})
	waitWorkers(t, h, 2)
	before := res.ok.Load()
	testutil.Eventually(t, 10*time.Second, "load served after the crash", func() bool { return res.ok.Load() > before+50 })
	close(stop)
	wait()
	checkLoad(t, res, n, clients)
	if syscall.Kill(master, 0) != nil {
		t.Fatal("the master died")
	}
	out := h.Output()
	for _, want := range []string{"worker died; replacing it", "stack overflow", "GET /__fcgihost_test/fatal for "} {
		if !strings.Contains(out, want) {
			t.Errorf("master log lacks %q:\n%s", want, grepLines(out, "worker died"))
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// cpuTicks is the CPU time (user + system, in clock ticks) that pid and
// its children still running have used, and the pids it read.
func cpuTicks(t *testing.T, pid int) (int64, []int) {
	t.Helper()
	pids := append([]int{pid}, workerPIDs(t, pid)...)
	var sum int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// After the command: state(0) ppid(1) … utime(11) stime(12).
		for _, i := range []int{11, 12} {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			sum += n
		}
	}
	return sum, pids
}

// A script call stuck on a busy core, ignoring its interrupt (the spin
// test hook, docs/processes.md): the client gets the host's own 504 at
// the deadline, not nginx's after its read timeout nor a 502 when the
// worker is killed; the worker is retired and replaced, and the host's
// process tree is idle again within the grace period.
func TestProcesses_StuckRequestRetiresWorker(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 1\nworkers = 1\ntimeout = \"1s\"\nqueue_timeout = \"1s\"\ngrace_period = \"2s\"\n", "FCGIHOST_TEST_HOOKS=1")
	master := h.Cmd.Process.Pid
	pids := waitWorkers(t, h, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/app/__fcgihost_test/spin", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stuck request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("stuck request answered %d %q after %s", resp.StatusCode, body, time.Since(t0).Round(time.Millisecond))
	if resp.StatusCode != 504 || string(body) != "script timed out\n" {
		t.Errorf("stuck request answered %d %q, want the host's 504 \"script timed out\"", resp.StatusCode, body)
	}
	// The worker asked to be retired; a new one serves.
	waitWorkers(t, h, 1, pids[0])
	if r := testutil.Get(t, n.URL+"/app/after"); r.StatusCode != 200 || r.Body != "ok /after" {
		t.Errorf("after the retirement: %d %q", r.StatusCode, r.Body)
	}
	// The spinning worker is killed after grace_period: no core stays busy.
	testutil.Eventually(t, 60*time.Second, "the stuck worker gone", func() bool { return syscall.Kill(pids[0], 0) != nil })
	testutil.Eventually(t, 60*time.Second, "the host's process tree idle", func() bool {
		a, _ := cpuTicks(t, master)
		time.Sleep(time.Second)
		b, now := cpuTicks(t, master)
		t.Logf("host tree %v used %d ticks in 1s", now, b-a)
		return b-a < 30 // well under a third of one core (100 ticks a second)
	})
	out := h.Output()
	for _, want := range []string{"script stuck in a call that ignores its interrupt", "retiring worker", "request stuck past its deadline: GET /app/__fcgihost_test/spin (app app)"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, testutil.Tail(out, 3000))
		}
	}
	if el := n.ErrorLog(); strings.Contains(el, "upstream timed out") {
		t.Errorf("nginx timed out on the upstream:\n%s", testutil.Tail(el, 2000))
	}
}

// In one process (processes = 0) a stuck call gets its 504 at the deadline
// too; its VM stays with the stuck call, and the app serves on with the
// others (docs/processes.md, "Stuck requests").
func TestProcesses_StuckRequestSingleProcess(t *testing.T) {
	t.Parallel()
	// Single-process internals: what one process does with a stuck call.
	h, n := startProcStack(t, "processes = 0\nworkers = 2\ntimeout = \"1s\"\nqueue_timeout = \"1s\"\ngrace_period = \"2s\"\n", "FCGIHOST_TEST_HOOKS=1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/app/__fcgihost_test/stuck", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stuck request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 504 || string(body) != "script timed out\n" {
		t.Errorf("stuck request answered %d %q, want the host's 504 \"script timed out\"", resp.StatusCode, body)
	}
	if r := testutil.Get(t, n.URL+"/app/after"); r.StatusCode != 200 || r.Body != "ok /after" {
		t.Errorf("after the stuck call: %d %q", r.StatusCode, r.Body)
	}
	if kids := workerPIDs(t, h.Cmd.Process.Pid); len(kids) != 0 {
		t.Errorf("processes = 0 started children %v", kids)
	}
	testutil.Eventually(t, 30*time.Second, "the log line about the lost VM", func() bool {
		return strings.Contains(h.Output(), "the stuck call keeps its VM")
	})
}

func TestProcesses_SignalsAndMasterPID(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 2\nworkers = 1\n")
	pids := waitWorkers(t, h, 2)
	// SIGHUP with the same process keys: each worker reloads in place.
	h.Signal(syscall.SIGHUP)
	testutil.Eventually(t, 30*time.Second, "both workers reloaded", func() bool {
		return strings.Count(h.Output(), "configuration reloaded") >= 2
	})
	if now := workerPIDs(t, h.Cmd.Process.Pid); len(now) != 2 || !contains(now, pids[0]) || !contains(now, pids[1]) {
		t.Fatalf("workers %v after an in-place SIGHUP, want %v", now, pids)
	}
	// A change of a process key replaces both workers; the master stays.
	cf := filepath.Join(h.Dir, "fcgihost.toml")
	if err := os.WriteFile(cf, []byte("processes = 2\nworkers = 1\nprocess_max_requests = 100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Signal(syscall.SIGHUP)
	testutil.Eventually(t, 30*time.Second, "workers replaced", func() bool {
		return strings.Contains(h.Output(), "SIGHUP: replacing the workers") && strings.Count(h.Output(), "configuration reloaded") >= 3
	})
	now := waitWorkers(t, h, 2, pids...)
	if r := testutil.Get(t, n.URL+"/app/y"); r.StatusCode != 200 {
		t.Fatalf("after SIGHUP: %d %s", r.StatusCode, r.Body)
	}
	// SIGUSR1 reaches the workers (they log their reopen too).
	h.Signal(syscall.SIGUSR1)
	testutil.Eventually(t, 10*time.Second, "logs reopened by the master and the workers", func() bool {
		return strings.Count(h.Output(), "log files reopened") >= 3
	})
	// SIGTERM: the workers drain, the master exits 0.
	h.Signal(syscall.SIGTERM)
	if code := h.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, testutil.Tail(h.Output(), 2000))
	}
	for _, p := range now {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("worker %d outlived the master", p)
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// bombApp allocates 1 MiB strings until it is stopped.
const bombApp = `module.exports = function (req, res) {
  const a = [], s = "x".repeat(1 << 20);
  for (let i = 0; i < 100000; i++) { a.push(s + i); }
  res.write(String(a.length));
};
`

// TestProcesses_MemoryLimit: a worker past process_memory_limit is killed
// (by the kernel under a cgroup, by the Go runtime under RLIMIT_DATA) and
// replaced; the other worker keeps serving.
func TestProcesses_MemoryLimit(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cgroup", "rlimit"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var env []string
			if mode == "rlimit" {
				env = append(env, "FCGIHOST_WORKER_LIMIT=rlimit")
			} else if os.Geteuid() != 0 {
				t.Skip("cgroups need root here")
			}
			apps := t.TempDir()
			os.WriteFile(filepath.Join(apps, "app.js"), []byte(procApps), 0o644)
			os.WriteFile(filepath.Join(apps, "bomb.js"), []byte(bombApp), 0o644)
			h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Env: env,
				Config: "processes = 2\nworkers = 1\ntimeout = \"50s\"\nmemory_limit = \"2GiB\"\nprocess_memory_limit = \"160MiB\"\n"})
			n := testutil.StartNginx(t, h, nginxRoot)
			waitWorkers(t, h, 2)
			out := h.Output()
			if mode == "cgroup" && !strings.Contains(out, "limit=\"cgroup v") {
				t.Skipf("no writable cgroup on this machine:\n%s", grepLines(out, "cgroup"))
			}
			if mode == "rlimit" && !strings.Contains(out, "limit=rlimit") {
				t.Fatalf("rlimit not in force:\n%s", grepLines(out, "master started"))
			}
			stop := make(chan struct{})
			res, wait := runLoad(t, n.URL+"/app/x?ms=1", 2, stop)
			r := testutil.Get(t, n.URL+"/bomb") // timeout: the default 30s
			if r.StatusCode != 502 {
				t.Errorf("memory bomb answered %d, want 502 (its worker killed)", r.StatusCode)
			}
			var line string
			defer func() {
				if t.Failed() {
					t.Logf("master lines:\n%s", grepLines(h.Output(), "pool=main"))
				}
			}()
			testutil.Eventually(t, 90*time.Second, "the death logged", func() bool {
				line = grepLines(h.Output(), "worker died")
				return line != ""
			})
			t.Log(line)
			want := "out of memory"
			if mode == "cgroup" {
				want = "killed by the kernel: out of memory (cgroup v"
			}
			if !strings.Contains(line, want) || !strings.Contains(line, "GET /bomb") {
				t.Errorf("death reason lacks %q and the request:\n%s", want, line)
			}
			waitWorkers(t, h, 2)
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wait()
			checkLoad(t, res, n, 2)
		})
	}
}

// TestProcesses_StatusAggregates: the status page adds up every worker's
// figures and lists the workers with the master's view of them.
func TestProcesses_StatusAggregates(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 2\nworkers = 1\nstatus_path = \"/status\"\n")
	pids := waitWorkers(t, h, 2)
	const reqs = 40
	for i := 0; i < reqs; i++ {
		if r := testutil.Get(t, n.URL+"/app/s"); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	type worker struct {
		PID      int    `json:"pid"`
		State    string `json:"state"`
		Requests uint64 `json:"requests"`
		RSS      int64  `json:"rss_bytes"`
		Restarts int    `json:"restarts"`
		LastExit string `json:"last_exit"`
	}
	type report struct {
		PID  int `json:"pid"`
		Apps map[string]struct {
			Requests uint64 `json:"requests"`
			Workers  int    `json:"workers"`
		} `json:"apps"`
		Processes struct {
			MasterPID int      `json:"master_pid"`
			Workers   []worker `json:"workers"`
		} `json:"processes"`
	}
	get := func() report {
		t.Helper()
		r := testutil.Get(t, n.URL+"/status")
		var rep report
		if err := json.Unmarshal([]byte(r.Body), &rep); err != nil {
			t.Fatalf("status %d: %v\n%s", r.StatusCode, err, r.Body)
		}
		return rep
	}
	rep := get()
	if got := rep.Apps["app"].Requests; got != reqs {
		t.Errorf("app requests = %d, want %d (the sum over the workers)", got, reqs)
	}
	if got := rep.Apps["app"].Workers; got != 2 {
		t.Errorf("app VMs = %d, want 2 (one per worker)", got)
	}
	master := h.Cmd.Process.Pid
	if rep.PID != master || rep.Processes.MasterPID != master {
		t.Errorf("pid %d master_pid %d, want the master's %d", rep.PID, rep.Processes.MasterPID, master)
	}
	var sum uint64
	for _, w := range rep.Processes.Workers {
		if !contains(pids, w.PID) || w.State != "ready" || w.RSS <= 0 {
			t.Errorf("worker line %+v (workers %v)", w, pids)
		}
		sum += w.Requests
	}
	if len(rep.Processes.Workers) != 2 || sum < reqs {
		t.Errorf("workers %+v: requests sum %d, want ≥ %d", rep.Processes.Workers, sum, reqs)
	}
	// A worker killed shows in its slot's restarts and last exit.
	syscall.Kill(pids[0], syscall.SIGKILL)
	waitWorkers(t, h, 2, pids[0])
	testutil.Eventually(t, 10*time.Second, "the restart on the status page", func() bool {
		for _, w := range get().Processes.Workers {
			if w.Restarts == 1 && strings.Contains(w.LastExit, "killed by signal killed") {
				return true
			}
		}
		return false
	})
}

// procUID is the real uid of process pid, and its command line.
func procUID(t *testing.T, pid int) (int, string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, ""
	}
	uid := -1
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			uid, _ = strconv.Atoi(strings.Fields(rest)[0])
		}
	}
	cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return uid, strings.ReplaceAll(string(cl), "\x00", " ")
}

// TestProcesses_Pools: two pools with their own users and sockets behind
// one nginx: each app answers on its pool's socket only, each pool's
// workers run as its user.
func TestProcesses_Pools(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("pools with users need root")
	}
	// The workers run as nobody and daemon: the binary and the apps
	// must be theirs to read.
	os.Chmod(filepath.Dir(testutil.Binary(t)), 0o755)
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	apps := filepath.Join(base, "apps")
	os.Mkdir(apps, 0o755)
	for _, name := range []string{"a", "b", "shared"} {
		src := fmt.Sprintf("module.exports = function (req, res) { res.write(%q + \" \" + req.path); };\n", name)
		if err := os.WriteFile(filepath.Join(apps, name+".js"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sock := func(n string) string { return filepath.Join(base, n+".sock") }
	conf := fmt.Sprintf(`processes = 1
workers = 1
status_path = "/status"
[pool.a]
apps = ["a"]
listen = "unix:%s"
user = "nobody"
processes = 2

[pool.b]
apps = ["b"]
listen = "unix:%s"
socket_mode = "0600"
socket_owner = "www-data"
socket_group = "www-data"
user = "daemon"
processes = 1
`, sock("a"), sock("b"))
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: conf})
	n := testutil.StartNginx(t, h, fmt.Sprintf(`
    location /a/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%s; }
    location /b/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%s; }
    location /cross/ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_NAME /b; fastcgi_pass unix:%s; }
    location / { include /etc/nginx/fastcgi_params; fastcgi_pass fcgihost; }
`, sock("a"), sock("b"), sock("a")))
	// 1 default worker + 2 of pool a + 1 of pool b.
	testutil.Eventually(t, 30*time.Second, "every worker ready", func() bool {
		return strings.Count(h.Output(), "worker ready") >= 4
	})
	for path, want := range map[string]string{"/a/x": "a /x", "/b/y": "b /y", "/shared/z": "shared /z"} {
		if r := testutil.Get(t, n.URL+path); r.StatusCode != 200 || r.Body != want {
			t.Errorf("GET %s: %d %q, want %q", path, r.StatusCode, r.Body, want)
		}
	}
	// Each pool's socket file has its pool's socket_mode and owner (pool
	// a: the top-level default 0660, the master's root).
	wwwData, err := user.Lookup("www-data")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pool     string
		mode     os.FileMode
		uid, gid string
	}{{"a", 0o660, "0", "0"}, {"b", 0o600, wwwData.Uid, wwwData.Gid}} {
		fi, err := os.Stat(sock(c.pool))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != c.mode || strconv.Itoa(int(st.Uid)) != c.uid || strconv.Itoa(int(st.Gid)) != c.gid {
			t.Errorf("pool %s's socket: mode %o owner %d:%d, want %o %s:%s", c.pool, fi.Mode().Perm(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}
	// An app of another pool is not served on a pool's socket, nor a
	// pool's app on the shared one.
	if r := testutil.Get(t, n.URL+"/cross/q"); r.StatusCode != 404 {
		t.Errorf("pool b's app through pool a's socket: %d %q, want 404", r.StatusCode, r.Body)
	}
	if r := testutil.Get(t, n.URL+"/a.js/z"); r.StatusCode != 404 {
		t.Errorf("pool a's app through the shared socket: %d %q, want 404", r.StatusCode, r.Body)
	}
	nobody, daemon := 65534, 1
	seen := map[string]int{}
	for _, pid := range workerPIDs(t, h.Cmd.Process.Pid) {
		uid, cl := procUID(t, pid)
		switch {
		case strings.Contains(cl, "fcgihost-pool-a-"):
			seen["a"]++
			if uid != nobody {
				t.Errorf("pool a worker %d runs as uid %d, want %d (nobody)", pid, uid, nobody)
			}
		case strings.Contains(cl, "fcgihost-pool-b-"):
			seen["b"]++
			if uid != daemon {
				t.Errorf("pool b worker %d runs as uid %d, want %d (daemon)", pid, uid, daemon)
			}
		default:
			seen["main"]++
			if uid != 0 {
				t.Errorf("default pool worker %d runs as uid %d, want the master's 0", pid, uid)
			}
		}
	}
	if seen["a"] != 2 || seen["b"] != 1 || seen["main"] != 1 {
		t.Errorf("workers per pool %v, want a:2 b:1 main:1", seen)
	}
	// The status page on pool a's socket: pool a's two workers, as nobody
	// (their report sockets live in a directory of theirs).
	ac := &fcgi.Client{Addr: "unix:" + sock("a")}
	defer ac.Close()
	var rep struct {
		Processes struct {
			Pool    string `json:"pool"`
			Workers []struct {
				PID   int    `json:"pid"`
				State string `json:"state"`
				Error string `json:"error"`
			} `json:"workers"`
		} `json:"processes"`
		Apps map[string]struct {
			Workers int `json:"workers"`
		} `json:"apps"`
	}
	if st, body := get(t, ac, "/status"); st != 200 || json.Unmarshal([]byte(body), &rep) != nil {
		t.Fatalf("pool a's status: %d %s", st, body)
	}
	if p := rep.Processes; p.Pool != "a" || len(p.Workers) != 2 || p.Workers[0].Error != "" || p.Workers[1].Error != "" || rep.Apps["a"].Workers != 2 {
		t.Errorf("pool a's status: %+v, app a VMs %d (want 2: one per worker)", p, rep.Apps["a"].Workers)
	}
	if _, ok := rep.Apps["b"]; ok {
		t.Error("pool a's status lists pool b's app")
	}
	// A pool's worker killed is replaced within its pool.
	for _, pid := range workerPIDs(t, h.Cmd.Process.Pid) {
		if _, cl := procUID(t, pid); strings.Contains(cl, "fcgihost-pool-b-") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	testutil.Eventually(t, 20*time.Second, "pool b's worker replaced", func() bool {
		r := testutil.Get(t, n.URL+"/b/again")
		return r.StatusCode == 200 && r.Body == "b /again"
	})
	if out := h.Output(); !strings.Contains(out, `pool=b`) || !strings.Contains(out, "worker died; replacing it") {
		t.Errorf("no death logged for pool b:\n%s", grepLines(out, "worker died"))
	}
}

// TestProcesses_SpawnedOnFD0: started by spawn-fcgi (as mod_fcgid and
// lighttpd's bin-path start it) with the socket on fd 0, the master passes
// fd 0 to its workers; a worker killed is replaced and the web server's
// process (the master) stays.
func TestProcesses_SpawnedOnFD0(t *testing.T) {
	t.Parallel()
	spawn := testutil.Need(t, "spawn-fcgi")
	bin := testutil.Binary(t)
	apps := t.TempDir()
	if err := os.WriteFile(filepath.Join(apps, "app.js"), []byte(procApps), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "fd0.sock")
	p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, spawn, "-n", "-s", sock, "--", bin, "serve", "--apps", apps, "--processes", "2", "--workers", "1")
	testutil.WaitDial(t, "unix:"+sock, 15*time.Second, p)
	master := p.Cmd.Process.Pid
	var pids []int
	testutil.Eventually(t, 30*time.Second, "two workers", func() bool {
		pids = workerPIDs(t, master)
		return len(pids) == 2 && strings.Count(p.Output(), "worker ready") >= 2
	})
	c := &fcgi.Client{Addr: "unix:" + sock}
	defer c.Close()
	failed := 0
	for i := 0; i < 60; i++ {
		if i == 20 {
			syscall.Kill(pids[0], syscall.SIGKILL)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, body, err := fget(ctx, c, "/app/n")
		cancel()
		if err != nil || st != 200 || body != "ok /n" {
			failed++
			t.Logf("request %d: %d %q %v", i, st, body, err)
		}
	}
	// Sequential requests: at most the one on the killed worker fails.
	if failed > 1 {
		t.Errorf("%d of 60 requests failed across a worker's death", failed)
	}
	if syscall.Kill(master, 0) != nil {
		t.Fatal("the master (the web server's process) died")
	}
	now := workerPIDs(t, master)
	if contains(now, pids[0]) {
		t.Errorf("the killed worker %d is still listed: %v", pids[0], now)
	}
	testutil.Eventually(t, 20*time.Second, "replacement", func() bool { return len(workerPIDs(t, master)) == 2 })
}

// TestProcesses_MaxRequestsRecyclesGracefully: process_max_requests
// replaces workers under nginx load: the replacement is ready before the
// old worker stops accepting, so no request fails.
func TestProcesses_MaxRequestsRecyclesGracefully(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 2\nworkers = 1\nprocess_max_requests = 60\n")
	waitWorkers(t, h, 2)
	stop := make(chan struct{})
	res, wait := runLoad(t, n.URL+"/app/r", 4, stop)
	testutil.Eventually(t, 60*time.Second, "three recycles", func() bool {
		return strings.Count(h.Output(), "served process_max_requests") >= 3
	})
	close(stop)
	wait()
	t.Logf("load: %d ok, %d failed %v", res.ok.Load(), res.bad.Load(), res.statuses)
	if res.bad.Load() != 0 || res.transport.Load() != 0 {
		t.Errorf("%d requests failed, %d at the transport, across graceful recycles:\n%s", res.bad.Load(), res.transport.Load(), testutil.Tail(n.ErrorLog(), 2000))
	}
}

// TestProcesses_MasterKilledTakesWorkers: a master killed with SIGKILL
// leaves no worker behind holding the sockets.
func TestProcesses_MasterKilledTakesWorkers(t *testing.T) {
	t.Parallel()
	h, _ := startProcStack(t, "processes = 2\nworkers = 1\n")
	pids := waitWorkers(t, h, 2)
	syscall.Kill(h.Cmd.Process.Pid, syscall.SIGKILL)
	h.Wait(10 * time.Second)
	testutil.Eventually(t, 10*time.Second, "workers gone", func() bool {
		for _, p := range pids {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil && !strings.Contains(string(b), ") Z ") {
				return false
			}
		}
		return true
	})
}

// A SIGTERM sent to the whole process group (as Ctrl-C in a terminal or
// kill -TERM -PGID does) reaches the workers as well as the master, and
// then the master's own SIGTERM: the workers still drain — a request in
// flight is answered — rather than take the master's signal for a second
// one (docs/processes.md, "Signals").
func TestProcesses_GroupSignalDrains(t *testing.T) {
	t.Parallel()
	h, n := startProcStack(t, "processes = 2\nworkers = 1\nstatus_path = \"/status\"\ngrace_period = \"30s\"\n")
	master := h.Cmd.Process.Pid
	workers := waitWorkers(t, h, 2)
	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		c := &http.Client{Timeout: 60 * time.Second}
		resp, err := c.Get(n.URL + "/app/slow?ms=2000")
		if err != nil {
			got <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{code: resp.StatusCode, body: string(b)}
	}()
	// The slow request is running once the workers report two requests in
	// flight: it and the status request asking.
	testutil.Eventually(t, 30*time.Second, "the slow request in flight", func() bool {
		r := testutil.Get(t, n.URL+"/status")
		var st struct {
			Processes struct {
				Workers []struct {
					InFlight int `json:"in_flight"`
				} `json:"workers"`
			} `json:"processes"`
		}
		if json.Unmarshal([]byte(r.Body), &st) != nil {
			return false
		}
		sum := 0
		for _, w := range st.Processes.Workers {
			sum += w.InFlight
		}
		return sum >= 2
	})
	// The group's signal reaches the workers; the master's own SIGTERM to
	// them comes after it, apart (sent at once, the kernel may merge the
	// two into one).
	for _, w := range workers {
		if err := syscall.Kill(w, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 30*time.Second, "both workers draining", func() bool {
		return strings.Count(h.Output(), "msg=\"shutting down\"") >= 2
	})
	if err := syscall.Kill(master, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.code != 200 || a.body != "ok /slow" {
		t.Errorf("request in flight during the group's SIGTERM: %d %q %v, want 200 \"ok /slow\"", a.code, a.body, a.err)
	}
	if code := h.Wait(60 * time.Second); code != 0 {
		t.Errorf("the master exited with %d, want 0", code)
	}
	if out := h.Output(); strings.Contains(out, "second signal: exiting now") {
		t.Errorf("a worker took the master's SIGTERM for a second signal:\n%s", grepLines(out, "signal"))
	}
}
