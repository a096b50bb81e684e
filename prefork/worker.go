package prefork

// This file holds the worker's side: the listeners, control pipe and slot
// table it inherits from the master, the "ready" it reports, and the
// wrappers that record each request in the slot table.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/fcgihost/fcgihost/fcgi"
)

// EnvWorker carries, from the master to a worker, the descriptors the
// worker inherits: "fcgi=3,4;http=5;ctl=6;table=7;gate=8;slot=0".
const EnvWorker = "FCGIHOST_WORKER"

// EnvTestHooks, set to 1 in the master's environment, turns on the test
// paths of docs/processes.md ("/__fcgihost_test/fatal", ".../stuck") in
// its workers. Only the end-to-end tests set it.
const EnvTestHooks = "FCGIHOST_TEST_HOOKS"

// Worker is a worker process's link to its master.
type Worker struct {
	FCGI   []net.Listener // the FastCGI listeners, shared with the other workers
	SCGI   []net.Listener // the SCGI listeners, likewise
	UWSGI  []net.Listener // the uwsgi listeners, likewise
	HTTP   net.Listener   // the development HTTP listener, or nil
	Slot   int
	runDir string
	ctl    *os.File
	tab    *table
	hooks  bool
}

// IsWorker reports whether this process was started by a master as a
// worker.
func IsWorker() bool { return os.Getenv(EnvWorker) != "" }

// FromEnv sets up a worker from what its master passed: it waits for the
// master's go-ahead (given once the process is in its cgroup), then opens
// the inherited listeners and maps the slot table. The variables are
// removed from the environment.
func FromEnv() (*Worker, error) {
	spec := os.Getenv(EnvWorker)
	os.Unsetenv(EnvWorker)
	w := &Worker{hooks: os.Getenv(EnvTestHooks) == "1"}
	os.Unsetenv(EnvTestHooks)
	fds := map[string][]int{}
	for _, part := range strings.Split(spec, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%s: bad part %q", EnvWorker, part)
		}
		if k == "rt" {
			w.runDir = v
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("%s: bad number in %q", EnvWorker, part)
			}
			fds[k] = append(fds[k], n)
		}
	}
	if g := fds["gate"]; len(g) == 1 {
		f := os.NewFile(uintptr(g[0]), "gate")
		var b [1]byte
		n, _ := f.Read(b[:])
		f.Close()
		if n != 1 {
			return nil, fmt.Errorf("the master did not let this worker start")
		}
	}
	if s := fds["slot"]; len(s) == 1 {
		w.Slot = s[0]
	}
	for _, fd := range fds["fcgi"] {
		l, err := fileListener(fd)
		if err != nil {
			return nil, err
		}
		w.FCGI = append(w.FCGI, l)
	}
	for _, fd := range fds["scgi"] {
		l, err := fileListener(fd)
		if err != nil {
			return nil, err
		}
		w.SCGI = append(w.SCGI, l)
	}
	for _, fd := range fds["uwsgi"] {
		l, err := fileListener(fd)
		if err != nil {
			return nil, err
		}
		w.UWSGI = append(w.UWSGI, l)
	}
	if h := fds["http"]; len(h) == 1 {
		l, err := fileListener(h[0])
		if err != nil {
			return nil, err
		}
		w.HTTP = l
	}
	if c := fds["ctl"]; len(c) == 1 {
		w.ctl = os.NewFile(uintptr(c[0]), "master-ctl")
	}
	if t := fds["table"]; len(t) == 1 {
		f := os.NewFile(uintptr(t[0]), "slot-table")
		tab, err := mapTable(f, true)
		f.Close()
		if err != nil {
			return nil, err
		}
		w.tab = tab
	}
	return w, nil
}

func fileListener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "listener-"+strconv.Itoa(fd))
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("inherited listener fd %d: %w", fd, err)
	}
	return l, nil
}

// Ready tells the master that this worker accepts connections.
func (w *Worker) Ready() { w.send("ready") }

// Reopened tells the master that this worker reopened its logs (SIGUSR1).
func (w *Worker) Reopened() { w.send("reopened") }

// Retire asks the master to replace this worker.
func (w *Worker) Retire(why string) { w.send("retire " + strings.ReplaceAll(why, "\n", " ")) }

func (w *Worker) send(msg string) {
	if w == nil || w.ctl == nil {
		return
	}
	w.ctl.WriteString(msg + "\n")
}

// WrapFCGI records each request of h in the slot table.
func (w *Worker) WrapFCGI(h fcgi.Handler) fcgi.Handler {
	if w == nil || w.tab == nil {
		return h
	}
	return fcgi.HandlerFunc(func(rw fcgi.ResponseWriter, r *fcgi.Request) {
		uri := r.Params["REQUEST_URI"]
		if uri == "" {
			uri = r.Params["SCRIPT_NAME"] + r.Params["PATH_INFO"]
		}
		i := w.tab.begin(describe(r.Params["REQUEST_METHOD"], uri, r.Params["SCRIPT_FILENAME"]))
		defer w.tab.end(i)
		if w.hooks {
			testHook(uri)
		}
		h.ServeFCGI(rw, r)
	})
}

// Begin records a request of a gateway that is neither FastCGI nor HTTP
// (SCGI, uwsgi) in the slot table; the function it returns ends it.
func (w *Worker) Begin(params map[string]string) func() {
	if w == nil || w.tab == nil {
		return func() {}
	}
	uri := params["REQUEST_URI"]
	if uri == "" {
		uri = params["SCRIPT_NAME"] + params["PATH_INFO"]
	}
	i := w.tab.begin(describe(params["REQUEST_METHOD"], uri, params["SCRIPT_FILENAME"]))
	if w.hooks {
		testHook(uri)
	}
	return func() { w.tab.end(i) }
}

// WrapHTTP records each request of h in the slot table.
func (w *Worker) WrapHTTP(h http.Handler) http.Handler {
	if w == nil || w.tab == nil {
		return h
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		i := w.tab.begin(describe(r.Method, r.RequestURI, ""))
		defer w.tab.end(i)
		if w.hooks {
			testHook(r.RequestURI)
		}
		h.ServeHTTP(rw, r)
	})
}

func describe(method, uri, script string) string {
	if method == "" {
		method = "GET"
	}
	s := method + " " + uri
	if script != "" {
		s += " (" + script + ")"
	}
	if len(s) > textMax {
		s = s[:textMax]
	}
	return s
}

// testHook runs the test path of a whole process: a Go fatal error (as a
// runtime bug or a stack overflow in an engine is).
func testHook(uri string) {
	if strings.HasPrefix(uri, "/__fcgihost_test/fatal") {
		debug.SetMaxStack(256 << 10)
		recurse(0)
	}
}

// ScriptHook returns the test hook of a script call (host.Host.TestHook)
// when the test hooks are on, else nil.
func (w *Worker) ScriptHook() func(appPath string) {
	if w == nil || !w.hooks {
		return nil
	}
	return ScriptTestHook
}

// ScriptTestHook runs the test paths of an app (docs/processes.md, "Test
// hooks"), called where the app's script would run, with a VM leased and
// the request's timeout running: APP/__fcgihost_test/stuck never returns
// and ignores every cancellation, as a native built-in stuck in a wait
// does; APP/__fcgihost_test/spin does the same on a busy core, as one
// stuck in a loop does.
func ScriptTestHook(appPath string) {
	switch {
	case strings.HasPrefix(appPath, "/__fcgihost_test/stuck"):
		select {}
	case strings.HasPrefix(appPath, "/__fcgihost_test/spin"):
		for n := uint64(0); ; n++ {
			spinSink.Store(n)
		}
	}
}

var spinSink atomic.Uint64

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}
