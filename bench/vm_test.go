//go:build bench

package bench

// This file measures what one VM costs (time to instantiate it from a
// compiled bundle, the memory it holds while idle) and how long a host with
// 4 apps × 4 workers takes to start.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/script"
)

// vmCost is one engine's per-VM figures.
type vmCost struct {
	engine     string
	newVM      time.Duration // one NewVM from a compiled bundle (top-level code run)
	allocsVM   int64         // allocations per NewVM
	heapPerVM  float64       // live heap held by one idle VM, bytes
	rssPerVM   float64       // resident memory of the real binary per extra idle VM, bytes
	compileDur time.Duration // one Compile, for scale
}

// compileHello compiles apps/hello.EXT with eng.
func compileHello(t testing.TB, eng script.Engine, ext string) script.Bundle {
	t.Helper()
	dir := filepath.Join(testutil.RepoRoot(), "apps")
	entry := filepath.Join(dir, "hello"+ext)
	code, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eng.Compile(script.Source{App: "hello", Dir: dir, Entry: entry, Code: code}, script.Options{})
	if err != nil {
		t.Fatalf("compile %s: %v", entry, err)
	}
	return b
}

// measureVMs measures NewVM and idle heap per VM for both engines in this
// process.
func measureVMs(t *testing.T) []*vmCost {
	t.Helper()
	engines := []struct {
		name string
		eng  script.Engine
		ext  string
	}{{"js", js.New(), ".js"}, {"lua", lua.New(), ".lua"}}
	var out []*vmCost
	for _, e := range engines {
		bundle := compileHello(t, e.eng, e.ext)
		c := &vmCost{engine: e.name}
		ctx := context.Background()

		// The VM answers: a VM that cannot serve hello is not worth timing.
		vm, err := bundle.NewVM(ctx)
		if err != nil {
			t.Fatalf("%s: NewVM: %v", e.name, err)
		}
		var sink bodySink
		res := script.NewResponse(&sink, 0, false)
		req := &script.Request{Params: map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/hello"}, Method: "GET", URI: "/hello", Path: "/"}
		if err := vm.Serve(ctx, req, res); err != nil {
			t.Fatalf("%s: Serve: %v", e.name, err)
		}
		if err := res.Finish(); err != nil {
			t.Fatalf("%s: Finish: %v", e.name, err)
		}
		if !strings.HasPrefix(sink.String(), "hello world") {
			t.Fatalf("%s: hello VM wrote %q", e.name, sink.String())
		}
		vm.Close()

		br := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := bundle.NewVM(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				v.Close()
				b.StartTimer()
			}
		})
		c.newVM = time.Duration(br.NsPerOp())
		c.allocsVM = br.AllocsPerOp()

		dir := filepath.Join(testutil.RepoRoot(), "apps")
		entry := filepath.Join(dir, "hello"+e.ext)
		code, _ := os.ReadFile(entry)
		cr := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				if _, err := e.eng.Compile(script.Source{App: "hello", Dir: dir, Entry: entry, Code: code}, script.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		c.compileDur = time.Duration(cr.NsPerOp())

		const n = 200
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		vms := make([]script.VM, n)
		for i := range vms {
			if vms[i], err = bundle.NewVM(ctx); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		c.heapPerVM = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		if c.heapPerVM <= 0 {
			t.Errorf("%s: idle heap per VM = %.0f bytes, want > 0", e.name, c.heapPerVM)
		}
		for _, v := range vms {
			v.Close()
		}
		out = append(out, c)
	}
	return out
}

// bodySink collects a response body.
type bodySink struct{ strings.Builder }

func (s *bodySink) WriteHeader(int, http.Header) error { return nil }

// measureRSS starts the real binary serving one hello app with 1 and with
// 1+extra workers and returns the resident-memory difference per extra
// VM (after the start-up garbage is collected: GODEBUG is not needed, the
// host is idle and we wait for its RSS to settle).
func measureRSS(t *testing.T, costs []*vmCost) {
	t.Helper()
	bin := testutil.Binary(t)
	const extra = 100
	for _, c := range costs {
		apps := t.TempDir()
		copyFile(t, filepath.Join(testutil.RepoRoot(), "apps", "hello."+c.engine), filepath.Join(apps, "hello."+c.engine), 0o644)
		rss := func(workers int) int64 {
			dir := t.TempDir()
			sock := filepath.Join(dir, "s.sock")
			// One process: its own RSS is the measure.
			p := testutil.Start(t, dir, append([]string{"FCGIHOST_CONFIG="}, goEnv...), bin, "serve",
				"--apps", apps, "--listen", "unix:"+sock, "--workers", strconv.Itoa(workers), "--processes", "0", "--watch=false")
			defer func() { p.Signal(syscall.SIGTERM); p.Wait(10 * time.Second) }()
			testutil.WaitDial(t, "unix:"+sock, 60*time.Second, p)
			// Let the runtime's background scavenger and GC settle: take the
			// lowest of a few samples over two seconds.
			low := int64(-1)
			for range 10 {
				time.Sleep(200 * time.Millisecond)
				if v := procRSS(t, p.Cmd.Process.Pid); low < 0 || v < low {
					low = v
				}
			}
			return low
		}
		one, many := rss(1), rss(1+extra)
		c.rssPerVM = float64(many-one) / extra
	}
}

// procRSS reads VmRSS of pid in bytes.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatalf("parse VmRSS %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// startup is the start-up time of `fcgihost serve` with 4 apps × 4
// workers: from exec to the FastCGI socket accepting (the apps are compiled
// and their VMs preloaded before the host listens).
type startup struct {
	runs          int
	median, min   time.Duration
	apps, workers int
}

// measureStartup starts the binary runs times on 4 bundled apps (two JS,
// two Lua) with 4 workers each, timing exec → listening, and checks each
// start answers every app.
func measureStartup(t *testing.T, runs int) startup {
	t.Helper()
	bin := testutil.Binary(t)
	apps := t.TempDir()
	names := []string{"hello.js", "hello.lua", "contacts.js", "signup.lua"}
	for _, n := range names {
		copyFile(t, filepath.Join(testutil.RepoRoot(), "apps", n), filepath.Join(apps, n), 0o644)
	}
	paths := []string{"/hello.js", "/hello.lua", "/contacts", "/signup"}
	var took []time.Duration
	for range runs {
		dir := t.TempDir()
		sock := filepath.Join(dir, "s.sock")
		// One process: it listens once its VMs are up (a master listens
		// at once, before its workers start).
		cmd := exec.Command(bin, "serve", "--apps", apps, "--listen", "unix:"+sock, "--workers", "4", "--processes", "0")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append([]string{"FCGIHOST_CONFIG="}, goEnv...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		var out bodySink
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var d time.Duration
		for {
			c, err := net.Dial("unix", sock)
			if err == nil {
				d = time.Since(start)
				c.Close()
				break
			}
			if time.Since(start) > time.Minute {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				cmd.Wait()
				t.Fatalf("fcgihost did not listen within a minute:\n%s", out.String())
			}
			time.Sleep(200 * time.Microsecond)
		}
		for _, p := range paths {
			(&backend{name: p, sock: sock, path: p}).checkStatus(t, 200)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		took = append(took, d)
	}
	slices.Sort(took)
	return startup{runs: runs, median: took[len(took)/2], min: took[0], apps: len(names), workers: 4}
}
