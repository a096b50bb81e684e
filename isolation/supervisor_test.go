//go:build linux

package isolation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/registry"
)

// TestServe_OneChild: requests go to one child, kept across requests, and
// the child's config is limited to the app, in-process, JSON logs.
func TestServe_OneChild(t *testing.T) {
	cfg := testConfig(t)
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "hello"))
	first := get(t, b, "/hello")
	if first.status != 200 {
		t.Fatalf("status %d, body %q", first.status, first.body.String())
	}
	pid := pidOf(t, first.body.String())
	for i := 0; i < 5; i++ {
		r := get(t, b, "/hello")
		if r.status != 200 || pidOf(t, r.body.String()) != pid {
			t.Fatalf("request %d: %d %q; want 200 from pid %d", i, r.status, r.body.String(), pid)
		}
	}
	st := b.Stats()
	if st.PID != pid || st.State != StateRunning || st.Restarts != 0 || st.Requests != 6 {
		t.Errorf("stats %+v; want pid %d, running, 0 restarts, 6 requests", st, pid)
	}
	if st.RSSBytes <= 0 {
		t.Errorf("RSSBytes = %d; want the child's resident size", st.RSSBytes)
	}
	conf := get(t, b, "/config").body.String()
	for _, want := range []string{"apps=" + cfg.Apps + "\n", "only_apps=[hello]", "isolation=vm", "max_requests=0", "log_format=json",
		"data_dir=" + filepath.Join(filepath.Dir(cfg.DataDir), "data", "isolated", "hello"), "status_path=\n", "listen=[unix:" + e.m.rtDir} {
		if !strings.Contains(conf, want) {
			t.Errorf("child config lacks %q:\n%s", want, conf)
		}
	}
	// The child's JSON log lines reach the host's log with their level.
	if l := e.log.lines(`"msg":"fake child serving"`); len(l) == 0 || !strings.Contains(l[0], `"child_pid":`) {
		t.Errorf("child log line not relayed with its pid: %q", l)
	}
}

// TestServe_Stderr: the child's FCGI_STDERR reaches the front end's
// stderr, and its status and body pass through.
func TestServe_Stderr(t *testing.T) {
	cfg := testConfig(t)
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "hello"))
	s := &recSink{}
	var stderr strings.Builder
	b.Serve(context.Background(), map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/stderr"}, nil, s, &stderr)
	if s.status != 500 || s.body.String() != "oops" || stderr.String() != "script says oops\n" {
		t.Errorf("got %d %q, stderr %q; want 500 \"oops\", stderr \"script says oops\\n\"", s.status, s.body.String(), stderr.String())
	}
	// A POST body streams to the child.
	s = &recSink{}
	b.Serve(context.Background(), map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/echo", "CONTENT_LENGTH": "5"},
		strings.NewReader("hello"), s, nil)
	if s.status != 200 || s.body.String() != "hello" {
		t.Errorf("echo: %d %q", s.status, s.body.String())
	}
}

// TestServe_Crash: a child that dies under a request fails that request
// with a 502 naming the cause, the unit answers 503 with Retry-After while
// it backs off, and a new child serves after.
func TestServe_Crash(t *testing.T) {
	cfg := testConfig(t)
	e := newTestManager(t, cfg, func(o *Options) { o.BackoffMin, o.BackoffMax = 2*time.Second, 4*time.Second })
	b := e.backend(t, fileApp(t, cfg, "hello"))
	pid := pidOf(t, get(t, b, "/hello").body.String())
	r := get(t, b, "/exit")
	if r.status != http.StatusBadGateway || !strings.Contains(r.body.String(), "died") {
		t.Fatalf("crashing request: %d %q; want 502 saying the process died", r.status, r.body.String())
	}
	r = get(t, b, "/hello")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("during backoff: %d %q Retry-After %q; want 503 with Retry-After", r.status, r.body.String(), r.header.Get("Retry-After"))
	}
	st := b.Stats()
	if st.State != StateBackoff || st.Restarts != 1 || st.LastExit != "exit status 3" || st.RetryAt == nil {
		t.Errorf("stats after crash %+v; want backoff, 1 restart, last exit \"exit status 3\", a retry time", st)
	}
	var r2 *recSink
	eventually(t, 30*time.Second, "a new child serves", func() bool {
		r2 = get(t, b, "/hello")
		return r2.status == 200
	})
	if p2 := pidOf(t, r2.body.String()); p2 == pid {
		t.Errorf("same pid %d after the crash", p2)
	}
	if l := e.log.lines("child died; restarting"); len(l) != 1 || !strings.Contains(l[0], "exit status 3") {
		t.Errorf("log lines of the death: %q", l)
	}
}

// TestCrashLoop: a child that dies at every start is restarted with a
// doubling backoff, the unit is marked failed (log and Stats) while its
// requests get 503 and another unit serves on; once the cause is gone it
// recovers.
func TestCrashLoop(t *testing.T) {
	cfg := testConfig(t)
	flag := filepath.Join(openDir(t), "crash")
	os.WriteFile(flag, nil, 0o644)
	cfg.AppOverrides["bad"] = config.App{Env: []string{"FAKE_CRASH_IF=" + flag}}
	e := newTestManager(t, cfg, func(o *Options) {
		o.BackoffMin, o.BackoffMax, o.CrashLoop, o.StableAfter = 50*time.Millisecond, 400*time.Millisecond, 3, 500*time.Millisecond
	})
	bad := e.backend(t, fileApp(t, cfg, "bad"))
	good := e.backend(t, fileApp(t, cfg, "good"))
	eventually(t, 60*time.Second, "the unit is marked failed", func() bool { return bad.Stats().State == StateFailed })
	if r := get(t, bad, "/hello"); r.status != http.StatusServiceUnavailable {
		t.Errorf("failed unit answered %d %q; want 503", r.status, r.body.String())
	}
	if r := get(t, good, "/hello"); r.status != 200 {
		t.Errorf("other unit answered %d %q; want 200", r.status, r.body.String())
	}
	st := bad.Stats()
	if st.Failures < 3 || st.Restarts < 3 || !strings.Contains(st.LastExit, "exit status 3") {
		t.Errorf("stats %+v; want ≥3 failures and restarts, last exit status 3", st)
	}
	if len(e.log.lines("crash loop: isolated app marked failed")) != 1 {
		t.Errorf("want one crash-loop log line; log:\n%s", e.log.String())
	}
	// The waits double: 50ms, 100ms, 200ms, 400ms, 400ms…
	eventually(t, 60*time.Second, "five failed starts", func() bool { return len(e.log.lines("child failed to start")) >= 5 })
	var delays []string
	for _, l := range e.log.lines("child failed to start") {
		var rec struct {
			RetryIn time.Duration `json:"retry_in"`
		}
		json.Unmarshal([]byte(l), &rec)
		delays = append(delays, rec.RetryIn.String())
	}
	want := []string{"50ms", "100ms", "200ms", "400ms", "400ms"}
	for i := range delays {
		if i < len(want) && delays[i] != want[i] {
			t.Errorf("backoff delays %v; want them to start %v", delays, want)
			break
		}
	}
	os.Remove(flag)
	eventually(t, 30*time.Second, "the unit serves again", func() bool { return get(t, bad, "/hello").status == 200 })
	eventually(t, 30*time.Second, "the unit recovers", func() bool {
		return len(e.log.lines("recovered from its crash loop")) == 1 && bad.Stats().Failures == 0
	})
}

// TestMemoryLimit: a tenant whose script allocates without end is stopped
// by the kernel limit (its request gets a 5xx, its child dies of out of
// memory and is restarted) while another tenant keeps answering.
func TestMemoryLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.AppOverrides["hog"] = config.App{MemoryLimit: 64 << 20}
	e := newTestManager(t, cfg, nil)
	hog := e.backend(t, fileApp(t, cfg, "hog"))
	calm := e.backend(t, fileApp(t, cfg, "calm"))
	if r := get(t, hog, "/hello"); r.status != 200 {
		t.Fatalf("hog: %d %q", r.status, r.body.String())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calmBad []string
	var calmN int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := get(t, calm, "/hello")
			calmN++
			if r.status != 200 {
				calmBad = append(calmBad, fmt.Sprintf("%d %q", r.status, r.body.String()))
			}
		}
	}()
	r := get(t, hog, "/alloc")
	close(stop)
	wg.Wait()
	if r.status < 500 {
		t.Errorf("allocating request: %d %q; want a 5xx", r.status, r.body.String())
	}
	st := hog.Stats()
	if st.Restarts != 1 || !strings.Contains(st.LastExit, "out of memory") {
		t.Errorf("hog stats %+v; want 1 restart, last exit out of memory", st)
	}
	if calmN == 0 || len(calmBad) > 0 {
		t.Errorf("other tenant: %d requests, failures %q", calmN, calmBad)
	}
	eventually(t, 30*time.Second, "the hog serves again", func() bool { return get(t, hog, "/hello").status == 200 })
}

// TestRecycle_MaxRequests: after max_requests requests the child is
// replaced; every request succeeds.
func TestRecycle_MaxRequests(t *testing.T) {
	cfg := testConfig(t)
	cfg.AppOverrides["hello"] = config.App{MaxRequests: 3}
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "hello"))
	pids := map[int]bool{}
	for i := 0; i < 10; i++ {
		r := get(t, b, "/hello")
		if r.status != 200 {
			t.Fatalf("request %d: %d %q", i, r.status, r.body.String())
		}
		pids[pidOf(t, r.body.String())] = true
		if i == 3 {
			eventually(t, 30*time.Second, "a recycle", func() bool { return b.Stats().Recycles >= 1 })
		}
	}
	if len(pids) < 2 {
		t.Errorf("pids %v; want the child replaced", pids)
	}
	if l := e.log.lines("child recycled"); len(l) == 0 || !strings.Contains(l[0], "max_requests (3)") {
		t.Errorf("recycle log %q", l)
	}
}

// TestRecycle_MaxRSS: under load, a child whose resident size passes
// max_rss is replaced, and no request fails.
func TestRecycle_MaxRSS(t *testing.T) {
	cfg := testConfig(t)
	cfg.AppOverrides["leaky"] = config.App{MaxRSS: 48 << 20, MemoryLimit: 1 << 30, Workers: 4}
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "leaky"))
	var (
		mu   sync.Mutex
		bad  []string
		pids = map[int]bool{}
		wg   sync.WaitGroup
	)
	// Load until two recycles have happened (or 20000 requests).
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000 && b.Stats().Recycles < 2; i++ {
				r := get(t, b, "/grow?kb=256")
				mu.Lock()
				if r.status != 200 {
					bad = append(bad, fmt.Sprintf("%d %q", r.status, r.body.String()))
				} else {
					pids[pidOf(t, r.body.String())] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d failed requests: %q", len(bad), bad)
	}
	if st := b.Stats(); st.Recycles < 1 || st.Restarts != 0 {
		t.Errorf("stats %+v; want ≥1 recycle, no restart", st)
	}
	if len(pids) < 2 {
		t.Errorf("pids %v; want more than one child", pids)
	}
	if l := e.log.lines("child recycled"); len(l) == 0 || !strings.Contains(l[0], "passed max_rss") {
		t.Errorf("recycle log %q", l)
	}
}

// TestClose: Close lets a request in flight finish, then stops the child
// and removes the runtime dir.
func TestClose(t *testing.T) {
	cfg := testConfig(t)
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "hello"))
	pid := pidOf(t, get(t, b, "/hello").body.String())
	done := make(chan *recSink)
	go func() { done <- get(t, b, "/sleep?ms=500") }()
	eventually(t, 10*time.Second, "the request is in flight", func() bool { return b.Stats().InFlight == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.status != 200 || !strings.HasPrefix(r.body.String(), "slept") {
		t.Errorf("request in flight at Close: %d %q", r.status, r.body.String())
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("child %d still exists after Close (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(e.m.rtDir); !os.IsNotExist(err) {
		t.Errorf("runtime dir %s still there: %v", e.m.rtDir, err)
	}
	if r := get(t, b, "/hello"); r.status != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d; want 503", r.status)
	}
	if _, err := e.m.Backend(fileApp(t, cfg, "other")); !errors.Is(err, ErrClosed) {
		t.Errorf("Backend after Close: %v; want ErrClosed", err)
	}
}

// TestRootUnit: the scripts of one root share one child configured with
// that root.
func TestRootUnit(t *testing.T) {
	cfg := testConfig(t)
	root := openDir(t)
	cfg.Roots = []string{filepath.Dir(root) + "/*"}
	e := newTestManager(t, cfg, nil)
	mk := func(name string) *registry.App {
		p := filepath.Join(root, name)
		os.WriteFile(p, nil, 0o644)
		return &registry.App{Name: p, Entry: p, Dir: root, Root: root, Kind: registry.KindRoot}
	}
	a, b := e.backend(t, mk("a.js")), e.backend(t, mk("b.js"))
	if a.Supervisor() != b.Supervisor() {
		t.Fatal("two scripts of one root got two children")
	}
	conf := get(t, a, "/config").body.String()
	if !strings.Contains(conf, "roots=["+root+"]") || !strings.Contains(conf, "only_apps=[]") {
		t.Errorf("child config:\n%s", conf)
	}
	// The child lives while any of its apps does.
	a.Close(context.Background())
	if r := get(t, b, "/hello"); r.status != 200 {
		t.Errorf("after one app closed: %d", r.status)
	}
	b.Close(context.Background())
	if st := b.Stats(); st.State != StateStopped {
		t.Errorf("after both closed: %s", st.State)
	}
}

// TestEnvAndDir: the child's environment holds only what the env key
// names (plus GOMEMLIMIT and the secret of its calls, a fresh random
// token), and it runs in the app's directory.
func TestEnvAndDir(t *testing.T) {
	t.Setenv("FCGIHOST_TEST_PASS", "yes")
	t.Setenv("FCGIHOST_TEST_SECRET", "no")
	cfg := testConfig(t)
	cfg.AppOverrides["hello"] = config.App{Env: []string{"FCGIHOST_TEST_PASS", "X=1", "FCGIHOST_TEST_UNSET"}}
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "hello"))
	env := strings.Split(get(t, b, "/env").body.String(), "\n")
	if len(env) == 0 || !regexp.MustCompile(`^FCGIHOST_CALL_TOKEN=[0-9a-f]{64}$`).MatchString(env[0]) {
		t.Fatalf("child env %q; want FCGIHOST_CALL_TOKEN first", env)
	}
	env = env[1:]
	want := []string{"FCGIHOST_TEST_PASS=yes", fmt.Sprintf("GOMEMLIMIT=%d", (256<<20)*9/10), "X=1"}
	if len(env) != len(want) {
		t.Fatalf("child env %q; want %q", env, want)
	}
	for i := range want {
		if env[i] != want[i] {
			t.Errorf("child env %q; want %q", env, want)
		}
	}
	if wd := get(t, b, "/cwd").body.String(); wd != cfg.Apps {
		t.Errorf("child cwd %q; want %q", wd, cfg.Apps)
	}
}
