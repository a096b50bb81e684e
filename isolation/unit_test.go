//go:build linux

package isolation

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
)

func TestBackoffDelay(t *testing.T) {
	min, max := 100*time.Millisecond, time.Second
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {50, time.Second}} {
		if got := backoffDelay(tc.n, min, max); got != tc.want {
			t.Errorf("backoffDelay(%d) = %s; want %s", tc.n, got, tc.want)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	host := map[string]string{"TZ": "UTC", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	got := buildEnv([]string{"TZ", "MISSING", "EMPTY", "A=b=c"}, lookup)
	want := []string{"TZ=UTC", "EMPTY=", "A=b=c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("buildEnv = %q; want %q", got, want)
	}
	if got := buildEnv(nil, lookup); got == nil || len(got) != 0 {
		t.Errorf("buildEnv(nil) = %#v; want an empty, non-nil environment (nil would inherit the host's)", got)
	}
}

func TestGlobEscape(t *testing.T) {
	for _, p := range []string{"/var/www/alice/public_html", "/srv/a[1]/*?x", `/odd\dir`} {
		if ok, err := filepath.Match(globEscape(p), p); !ok || err != nil {
			t.Errorf("globEscape(%q) = %q does not match the path itself (%v)", p, globEscape(p), err)
		}
		if ok, _ := filepath.Match(globEscape(p), p+"x"); ok {
			t.Errorf("globEscape(%q) matches another path", p)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                      "hello",
		"/var/www/alice/public_html": "var_www_alice_public_html",
		"../../etc":                  "etc",
		"":                           "unit",
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	st := parseStatus([]byte("Name:\tx\nVmRSS:\t  1234 kB\nVmData:\t10 kB\nUid:\t1\t1\t1\t1\nThreads:\t7\n"))
	if st["VmRSS"] != 1234*1024 || st["VmData"] != 10*1024 || st["Uid"] != 1 || st["Threads"] != 7 {
		t.Errorf("parseStatus = %v", st)
	}
	if rss := rssOf(os.Getpid()); rss <= 0 {
		t.Errorf("rssOf(self) = %d", rss)
	}
}

func TestCgroupParsing(t *testing.T) {
	mountinfo := `24 30 0:22 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
25 30 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
26 30 0:24 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
`
	if got := cgroup2Mount([]byte(mountinfo)); got != "/sys/fs/cgroup" {
		t.Errorf("cgroup2Mount = %q; want /sys/fs/cgroup", got)
	}
	if got := cgroup2Mount([]byte("24 30 0:22 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n")); got != "/mnt/cg two" {
		t.Errorf("cgroup2Mount with an escaped space = %q", got)
	}
	if got := cgroup2Mount([]byte("25 30 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")); got != "" {
		t.Errorf("cgroup2Mount without cgroup2 = %q", got)
	}
	if p, ok := cgroup2Path([]byte("4:memory:/x\n0::/system.slice/fcgihost.service\n")); !ok || p != "/system.slice/fcgihost.service" {
		t.Errorf("cgroup2Path = %q, %v", p, ok)
	}
	if _, ok := cgroup2Path([]byte("4:memory:/x\n")); ok {
		t.Error("cgroup2Path found a v2 path in a v1-only file")
	}
	if !hasControllers("cpuset cpu io memory pids\n", "memory", "pids") || hasControllers("hugetlb", "memory") {
		t.Error("hasControllers")
	}
	if ev := parseFlatKeyed([]byte("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\n")); ev["oom_kill"] != 2 || ev["max"] != 12 {
		t.Errorf("parseFlatKeyed = %v", ev)
	}
}

// TestCgroups runs where this host offers a writable cgroup v2 with the
// memory controller (CI hosts with systemd delegation do).
func TestCgroups(t *testing.T) {
	needRoot(t)
	cg, err := setupCgroups()
	if err != nil {
		t.Skipf("no usable cgroup v2 here: %v", err)
	}
	defer cg.remove()
	u, err := cg.unit("test-unit", 96<<20, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer u.remove()
	for file, want := range map[string]string{"memory.max": "100663296", "pids.max": "64"} {
		b, err := os.ReadFile(filepath.Join(u.dir, file))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q, %v; want %s", file, b, err, want)
		}
	}
}

func TestRelay(t *testing.T) {
	lb := &logBuf{}
	r := newRelay(slog.New(slog.NewJSONHandler(lb, nil)), slog.LevelWarn)
	r.Write([]byte(`{"time":"x","level":"ERROR","msg":"script error","app":"hello","uri":"/x","took":1161000}` + "\n" + `{"level":"DEBUG","msg":"hidden"}` + "\nfatal error: runtime: out of memory\n\ngoroutine 1 [running]:\npartial"))
	r.flush()
	for i := 0; i < maxRawLines+10; i++ {
		r.Write([]byte("noise\n"))
	}
	out := lb.String()
	if l := lb.lines(`"msg":"script error"`); len(l) != 1 || !strings.Contains(l[0], `"level":"ERROR"`) || !strings.Contains(l[0], `"app":"hello"`) || !strings.Contains(l[0], `"uri":"/x"`) || !strings.Contains(l[0], `"took":1161000`) {
		t.Errorf("structured line not relayed with its level and attrs: %q", l)
	}
	if strings.Contains(out, "hidden") {
		t.Error("a debug line passed an info logger")
	}
	if n := len(lb.lines(`"msg":"child output"`)); n != maxRawLines {
		t.Errorf("%d raw lines logged; want the first %d", n, maxRawLines)
	}
	if len(lb.lines("continues; not logged")) != 1 {
		t.Error("no note that raw output was cut")
	}
	if n := r.Notable(); len(n) != 1 || n[0] != "fatal error: runtime: out of memory" {
		t.Errorf("Notable = %q", n)
	}
	if tl := r.Tail(); len(tl) != tailLines || tl[len(tl)-1] != "noise" {
		t.Errorf("Tail = %q", tl)
	}
}

func TestOutOfMemory(t *testing.T) {
	for line, want := range map[string]bool{
		"fatal error: runtime: out of memory":                                  true,
		"fatal error: runtime: cannot allocate memory":                         true,
		"runtime/cgo: pthread_create failed: Resource temporarily unavailable": true,
		"==1==ERROR: ThreadSanitizer failed to allocate 0x1ff000 bytes":        true,
		"panic: runtime error: index out of range [3] with length 3":           false,
		"fatal error: concurrent map writes":                                   false,
	} {
		if got := outOfMemory(line); got != want {
			t.Errorf("outOfMemory(%q) = %v", line, got)
		}
	}
}

func TestNoBodyAndWriteError(t *testing.T) {
	for _, tc := range []struct {
		method, cl string
		want       bool
	}{{"GET", "", true}, {"HEAD", "", true}, {"POST", "0", true}, {"POST", "", false}, {"POST", "12", false}, {"GET", "3", false}} {
		if got := noBody(map[string]string{"REQUEST_METHOD": tc.method, "CONTENT_LENGTH": tc.cl}); got != tc.want {
			t.Errorf("noBody(%s, %q) = %v", tc.method, tc.cl, got)
		}
	}
	s := &recSink{}
	writeError(s, map[string]string{"REQUEST_METHOD": "HEAD"}, http.StatusServiceUnavailable, "down\n", 3)
	if s.status != 503 || s.body.Len() != 0 || s.header.Get("Retry-After") != "3" || s.header.Get("Content-Length") != "0" {
		t.Errorf("HEAD error page: %d %q %v", s.status, s.body.String(), s.header)
	}
}

// TestChildConfig_Root: a root unit's child serves that root only, with
// the per-script tables of its scripts and none of other roots, all in
// process.
func TestChildConfig_Root(t *testing.T) {
	host := config.Default()
	host.Roots = []string{"/var/www/*/public_html"}
	host.Defaults.Isolation = "process"
	host.Defaults.MaxRequests = 100
	// A host that is a master of workers: its children still serve alone.
	host.Processes, host.ProcessMemoryLimit = 4, 1<<30
	host.Pools = map[string]config.Pool{"bob": {Apps: []string{"x"}, Listen: []string{"unix:/run/bob.sock"}, Processes: 2}}
	host.AppOverrides = map[string]config.App{
		"/var/www/alice/public_html/api.js": {Timeout: 5 * time.Second, Isolation: "process", User: "alice"},
		"/var/www/bob/public_html/api.js":   {Timeout: 7 * time.Second},
		"hello":                             {Workers: 2},
	}
	sp := &spec{name: "/var/www/alice/public_html", root: "/var/www/alice/public_html", dataDir: "/data/isolated/alice"}
	c, err := childConfig(host, sp, "/run/x/fcgi.sock", "/run/x/apps")
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse("child.toml", []byte(c.String()))
	if err != nil {
		t.Fatalf("the child config does not parse: %v\n%s", err, c.String())
	}
	if back.Apps != "/run/x/apps" || len(back.Roots) != 1 || back.Roots[0] != sp.root || len(back.OnlyApps) != 0 ||
		len(back.Listen) != 1 || back.Listen[0] != "unix:/run/x/fcgi.sock" || back.HTTP != "" || back.StatusPath != "" ||
		back.LogFormat != "json" || back.DataDir != sp.dataDir || back.SocketMode != 0o600 ||
		back.Processes != 0 || back.ProcessMemoryLimit != 0 || len(back.Pools) != 0 {
		t.Errorf("child config:\n%s", c.String())
	}
	if len(back.AppOverrides) != 1 {
		t.Errorf("child overrides %v; want only alice's script", back.AppOverrides)
	}
	a := back.AppConfig("/var/www/alice/public_html/api.js")
	if a.Timeout != 5*time.Second || a.Isolation != "vm" || a.MaxRequests != 0 {
		t.Errorf("alice's script in the child: timeout %s isolation %s max_requests %d; want 5s vm 0", a.Timeout, a.Isolation, a.MaxRequests)
	}
	if host.AppOverrides["/var/www/alice/public_html/api.js"].Isolation != "process" {
		t.Error("childConfig changed the host's config")
	}
}
