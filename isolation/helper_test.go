//go:build linux

package isolation

// The tests' child: when the test binary is run as `serve --config FILE`
// (as a Supervisor runs fcgihost), it is a small FastCGI server that reads
// the generated config, listens where it says and answers test paths, so
// that the supervisor is tested apart from the script engines (the e2e
// tests run the real fcgihost).

import (
	"bytes"
	"context"
	"fmt"
	"github.com/fcgihost/fcgihost/internal/logbuf"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/registry"
)

// testExe is the binary the tests' supervisors run: this test binary, or
// a copy in a directory other users can reach when the tests run as root.
var testExe string

func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "serve" && os.Args[2] == "--config" {
		os.Exit(fakeChild(os.Args[3]))
	}
	testExe = os.Args[0]
	var tmp string
	if os.Geteuid() == 0 {
		// Children that drop to another user must be able to exec it.
		var err error
		if tmp, err = os.MkdirTemp("", "isolation-test-bin-"); err == nil {
			os.Chmod(tmp, 0o755)
			dst := filepath.Join(tmp, "fcgihost")
			if copyFile(os.Args[0], dst) == nil {
				testExe = dst
			}
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// retained holds what /grow and /alloc keep alive.
var (
	retainedMu sync.Mutex
	retained   [][]byte
)

func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
}

// fakeChild is the tests' child process.
func fakeChild(path string) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake child:", err)
		return 2
	}
	if f := os.Getenv("FAKE_CRASH_IF"); f != "" {
		if _, err := os.Stat(f); err == nil {
			fmt.Fprintln(os.Stderr, "fake child: crashing at start as asked")
			return 3
		}
	}
	l, err := fcgi.Listen(cfg.Listen[0], cfg.SocketMode)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake child:", err)
		return 2
	}
	srv := &fcgi.Server{Handler: fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) { fakeServe(cfg, w, r) }), Logger: log}
	log.Info("fake child serving", "apps", cfg.Apps, "only_apps", cfg.OnlyApps, "roots", cfg.Roots)
	go srv.Serve(l)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	log.Info("fake child stopped")
	return 0
}

func fakeServe(cfg *config.Config, w fcgi.ResponseWriter, r *fcgi.Request) {
	u, _ := url.Parse(r.Params["REQUEST_URI"])
	q := u.Query()
	reply := func(status int, body string) {
		fmt.Fprintf(w, "Status: %d\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
	}
	switch u.Path {
	case "/hello":
		reply(200, "hello "+strconv.Itoa(os.Getpid()))
	case "/id":
		reply(200, fmt.Sprintf("%d %d %d %d", os.Getuid(), os.Getgid(), os.Geteuid(), os.Getegid()))
	case "/env":
		env := os.Environ()
		sort.Strings(env)
		reply(200, strings.Join(env, "\n"))
	case "/cwd":
		wd, _ := os.Getwd()
		reply(200, wd)
	case "/config":
		reply(200, fmt.Sprintf("apps=%s\nonly_apps=%v\nroots=%v\nlisten=%v\nisolation=%s\nmax_requests=%d\nlog_format=%s\ndata_dir=%s\nstatus_path=%s\n",
			cfg.Apps, cfg.OnlyApps, cfg.Roots, cfg.Listen, cfg.Defaults.Isolation, cfg.Defaults.MaxRequests, cfg.LogFormat, cfg.DataDir, cfg.StatusPath))
	case "/ns":
		var b strings.Builder
		for _, n := range []string{"pid", "net", "ipc", "uts", "mnt"} {
			l, _ := os.Readlink("/proc/self/ns/" + n)
			b.WriteString(n + "=" + l + "\n")
		}
		reply(200, b.String())
	case "/alloc":
		// Allocate without end: only the kernel limit stops it.
		for {
			b := make([]byte, 1<<20)
			touch(b)
			retainedMu.Lock()
			retained = append(retained, b)
			retainedMu.Unlock()
		}
	case "/grow":
		kb, _ := strconv.Atoi(q.Get("kb"))
		b := make([]byte, kb<<10)
		touch(b)
		retainedMu.Lock()
		retained = append(retained, b)
		retainedMu.Unlock()
		reply(200, "grown "+strconv.Itoa(os.Getpid()))
	case "/exit":
		os.Exit(3)
	case "/sleep":
		ms, _ := strconv.Atoi(q.Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		reply(200, "slept "+strconv.Itoa(os.Getpid()))
	case "/stderr":
		io.WriteString(w.Stderr(), "script says oops\n")
		reply(500, "oops")
	case "/echo":
		b, _ := io.ReadAll(r.Stdin)
		reply(200, string(b))
	default:
		reply(404, "no such test path "+u.Path)
	}
}

// --- test helpers ---

// openDir is a temp dir that other users can enter (children that drop
// to another user reach their socket and apps through it).
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.Chmod(filepath.Dir(d), 0o755)
	os.Chmod(d, 0o755)
	d, _ = filepath.EvalSymlinks(d)
	return d
}

// logBuf collects log lines for assertions.
type logBuf struct{ logbuf.Buffer }

// lines returns the log lines containing s.
func (l *logBuf) lines(s string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// testConfig is a config with every app isolated, one worker, data in a
// temp dir.
func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Apps = openDir(t)
	cfg.DataDir = filepath.Join(openDir(t), "data")
	cfg.Watch = false
	cfg.Defaults.Isolation = "process"
	cfg.Defaults.Workers = 1
	cfg.Defaults.MemoryLimit = 256 << 20
	cfg.AppOverrides = map[string]config.App{}
	return cfg
}

type testEnv struct {
	m   *Manager
	cfg *config.Config
	log *logBuf
}

// newTestManager starts a Manager over cfg with short backoffs; tune
// changes its options. It is closed at cleanup.
func newTestManager(t *testing.T, cfg *config.Config, tune func(*Options)) *testEnv {
	t.Helper()
	lb := &logBuf{}
	o := Options{
		Config: cfg, Executable: testExe, RuntimeDir: openDir(t),
		Logger:     slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		CrashLoop: 3, StableAfter: 2 * time.Second, CheckEvery: 50 * time.Millisecond,
		StartTimeout: 20 * time.Second, StopTimeout: 5 * time.Second,
	}
	if tune != nil {
		tune(&o)
	}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		m.Close(ctx)
		if t.Failed() {
			t.Logf("log:\n%s", tail(lb.String(), 6000))
		}
	})
	return &testEnv{m: m, cfg: cfg, log: lb}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// fileApp makes a one-file app NAME.js in the apps dir and its registry
// App.
func fileApp(t *testing.T, cfg *config.Config, name string) *registry.App {
	t.Helper()
	entry := filepath.Join(cfg.Apps, name+".js")
	if err := os.WriteFile(entry, []byte("// test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &registry.App{Name: name, Entry: entry, Dir: cfg.Apps, Kind: registry.KindFile}
}

// recSink records a response.
type recSink struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (s *recSink) WriteHeader(status int, h http.Header) error {
	s.status, s.header = status, h.Clone()
	return nil
}

func (s *recSink) Write(p []byte) (int, error) { return s.body.Write(p) }

// get sends GET path through b.
func get(t *testing.T, b registry.Backend, path string) *recSink {
	t.Helper()
	s := &recSink{}
	params := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": path, "SCRIPT_NAME": path, "FCGI_ROLE": "RESPONDER"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b.Serve(ctx, params, nil, s, io.Discard)
	return s
}

// backend starts app's backend.
func (e *testEnv) backend(t *testing.T, a *registry.App) *Handle {
	t.Helper()
	b, err := e.m.Backend(a)
	if err != nil {
		t.Fatalf("Backend(%s): %v", a.Name, err)
	}
	return b.(*Handle)
}

// eventually polls f every 20ms until it is true, failing after d.
func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidOf reads the pid from a "hello PID" style body.
func pidOf(t *testing.T, body string) int {
	t.Helper()
	f := strings.Fields(body)
	if len(f) != 2 {
		t.Fatalf("body %q has no pid", body)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("body %q has no pid", body)
	}
	return n
}
