package plugin_test

// Calls to apps with isolation = "process" (docs/embedding.md, "The
// process model"): the test binary is its own isolated child
// (plugin.ServeChild in TestMain).

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/fcgihost/fcgihost/isolation"
	"github.com/fcgihost/fcgihost/plugin"
)

// childKit is the module the isolated children are given (ServeChild).
var childKit = &plugin.Module{Name: "childkit", Funcs: []plugin.Func{{
	Name: "pid",
	Fn:   func(context.Context, *plugin.CallInfo) (any, error) { return os.Getpid(), nil },
}}}

func TestMain(m *testing.M) {
	plugin.ServeChild(childKit)
	if os.Geteuid() == 0 && os.Getenv("PLUGIN_TEST_BIN") == "" {
		// As root the children run as nobody, who must be able to exec
		// the binary: run from a copy in a directory they can reach.
		if dir, err := os.MkdirTemp("", "plugin-test-bin-"); err == nil {
			os.Chmod(dir, 0o755)
			dst := filepath.Join(dir, "plugin.test")
			if b, err := os.ReadFile(os.Args[0]); err == nil && os.WriteFile(dst, b, 0o755) == nil {
				os.Setenv("PLUGIN_TEST_BIN", dir)
				err = syscall.Exec(dst, append([]string{dst}, os.Args[1:]...), os.Environ())
			}
			os.RemoveAll(dir)
		}
	}
	code := m.Run()
	if dir := os.Getenv("PLUGIN_TEST_BIN"); strings.Contains(dir, "plugin-test-bin-") {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func isolated(c *config.Config) {
	c.Defaults.Isolation = "process"
}

// The value, error and timeout tests of plugin_test.go, every app in a
// child process.
func TestIsolated_Values(t *testing.T)   { testValues(t, isolated) }
func TestIsolated_FileLine(t *testing.T) { testErrorsFileLine(t, isolated) }
func TestIsolated_Timeout(t *testing.T)  { testTimeout(t, isolated) }

// TestIsolated_Floats: what JSON cannot write crosses too.
func TestIsolated_Floats(t *testing.T) {
	h, _ := newHost(t, map[string]string{"ejs.js": echoJS, "elua.lua": echoLua}, nil, isolated)
	for _, app := range []string{"ejs", "elua"} {
		for _, v := range []any{math.Inf(-1), 2.0 + 1e-9, 1e300, map[string]any{"$b": "x", "$$": int64(1)}, "\xff\xfe"} {
			got, err := h.Call(context.Background(), app, "echo", v)
			if err != nil || !reflect.DeepEqual(got, v) {
				t.Errorf("%s echo(%#v) = %#v, %v", app, v, got, err)
			}
		}
		got, err := h.Call(context.Background(), app, "echo", math.NaN())
		if f, ok := got.(float64); err != nil || !ok || !math.IsNaN(f) {
			t.Errorf("%s echo(NaN) = %#v, %v", app, got, err)
		}
	}
}

func childPID(h *plugin.Host, app string) int {
	a := h.Server().Registry().App(app)
	if a == nil {
		return 0
	}
	if b, ok := a.CurrentBackend().(interface{ Stats() isolation.Stats }); ok {
		st := b.Stats()
		return st.PID
	}
	return 0
}

// TestIsolated_Crash: a child killed under a call fails that call only;
// another isolated app and an in-process one keep answering, and the
// app's next calls succeed once its child is restarted.
func TestIsolated_Crash(t *testing.T) {
	h, _ := newHost(t, map[string]string{
		"cj.js":      "exports.spin = () => { for (;;) {} }; exports.ok = () => 'ok';",
		"other.js":   "exports.ok = () => 'other';",
		"inproc.lua": "return {ok = function () return 'inproc' end}",
	}, nil, func(c *config.Config) {
		isolated(c)
		c.Defaults.Timeout = 120 * time.Second
		c.AppOverrides = map[string]config.App{"inproc": {Isolation: "vm"}}
	})
	ctx := context.Background()
	for app, want := range map[string]string{"cj": "ok", "other": "other", "inproc": "inproc"} {
		if v, err := h.Call(ctx, app, "ok"); err != nil || v != want {
			t.Fatalf("%s.ok: %v, %v", app, v, err)
		}
	}
	pid := childPID(h, "cj")
	if pid == 0 || childPID(h, "other") == 0 || childPID(h, "other") == pid {
		t.Fatalf("children: cj %d, other %d", pid, childPID(h, "other"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Call(ctx, "cj", "spin")
			errs <- err
		}()
	}
	testutil.Eventually(t, 30*time.Second, "two calls on the child", func() bool {
		st := h.Server().Registry().App("cj").CurrentBackend().(interface{ Stats() isolation.Stats }).Stats()
		return st.InFlight == 2
	})
	time.Sleep(200 * time.Millisecond) // let the requests reach the child
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, plugin.ErrProcess) {
			t.Errorf("call in flight on the killed child: %v, want ErrProcess", err)
		}
	}
	for app, want := range map[string]string{"other": "other", "inproc": "inproc"} {
		if v, err := h.Call(ctx, app, "ok"); err != nil || v != want {
			t.Errorf("%s.ok after the crash of cj: %v, %v", app, v, err)
		}
	}
	testutil.Eventually(t, 60*time.Second, "cj answers again", func() bool {
		v, err := h.Call(ctx, "cj", "ok")
		return err == nil && v == "ok"
	})
	if p := childPID(h, "cj"); p == pid || p == 0 {
		t.Errorf("cj's child after the crash: pid %d (was %d)", p, pid)
	}
}

// TestIsolated_MarkerFromFrontEnd: a FastCGI request from the front end
// carrying the call params is served as a request by the app's handler,
// never run as a call.
func TestIsolated_MarkerFromFrontEnd(t *testing.T) {
	h, dir := newHost(t, map[string]string{
		"web.js": `exports.handle = (req, res) => "web"; exports.secret = () => "called";`,
	}, nil, isolated)
	if v, err := h.Call(context.Background(), "web", "secret"); err != nil || v != "called" {
		t.Fatalf("web.secret: %v, %v", v, err)
	}
	sock := filepath.Join(dir, "front.sock")
	l, err := fcgi.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fs := h.Server().NewFCGIServer(h.Server().Config())
	go fs.Serve(l)
	t.Cleanup(func() { fs.Shutdown(context.Background()) })
	cl := &fcgi.Client{Addr: "unix:" + sock}
	defer cl.Close()
	for _, token := range []string{"", "x", strings.Repeat("0", 64)} {
		resp, err := cl.Do(context.Background(), &fcgi.ClientRequest{Role: fcgi.RoleResponder, Params: map[string]string{
			"REQUEST_METHOD": "GET", "REQUEST_URI": "/web", "SCRIPT_NAME": "/web", "DOCUMENT_URI": "/web",
			"SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": "0",
			"FCGIHOST_CALL": token, "FCGIHOST_CALL_APP": "web", "FCGIHOST_CALL_FUNC": "secret",
		}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Status != 200 || string(body) != "web" || resp.Header.Get("Content-Type") == "application/x-fcgihost-call" {
			t.Errorf("request with FCGIHOST_CALL=%q: %d %q %v, want the handler's answer", token, resp.Status, body, resp.Header)
		}
	}
}

// TestIsolated_Modules: an isolated app's modules are those its child was
// given (ServeChild), and their functions run in the child; a module only
// given to New is not there.
func TestIsolated_Modules(t *testing.T) {
	parentOnly := &plugin.Module{Name: "kit", Values: map[string]any{"v": 1}}
	h, _ := newHost(t, map[string]string{
		"mj.js":  `exports.pid = () => require("host:childkit").pid(); exports.kit = () => require("host:kit").v;`,
		"ml.lua": `return {pid = function () return require("host.childkit").pid() end, kit = function () return require("host.kit").v end}`,
	}, []*plugin.Module{parentOnly, childKit}, isolated)
	for _, app := range []string{"mj", "ml"} {
		v, err := h.Call(context.Background(), app, "pid")
		if err != nil {
			t.Fatalf("%s.pid: %v", app, err)
		}
		if want := int64(childPID(h, app)); v != want || want == int64(os.Getpid()) {
			t.Errorf("%s.pid = %v, want the child's pid %d", app, v, want)
		}
		_, err = h.Call(context.Background(), app, "kit")
		var se *plugin.ScriptError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "no such host module") {
			t.Errorf("%s requires a module only the parent has: %v", app, err)
		}
	}
}

// TestIsolated_CallerDeadline: the caller's ctx deadline, shorter than the
// app's timeout, reaches the child: the call ends with a timeout
// *ScriptError, in-process and isolated alike.
func TestIsolated_CallerDeadline(t *testing.T) {
	for _, mode := range []string{"vm", "process"} {
		h, _ := newHost(t, map[string]string{
			"sj.js":  "exports.spin = () => { for (;;) {} }; exports.ok = () => 1;",
			"sl.lua": "return {spin = function () while true do end end, ok = function () return 1 end}",
		}, nil, func(c *config.Config) {
			c.Defaults.Isolation = mode
			c.Defaults.Timeout = 120 * time.Second
		})
		for _, app := range []string{"sj", "sl"} {
			// Start the child first: its start is not part of the call.
			if _, err := h.Call(context.Background(), app, "ok"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := h.Call(ctx, app, "spin")
			cancel()
			var se *plugin.ScriptError
			if !errors.As(err, &se) || !se.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s %s: %v, want a timeout *ScriptError", mode, app, err)
			}
		}
	}
}
