package js

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// Hostile scripts run in a child process (the test binary re-executed with
// hostileEnv set): a regression to "fatal error: stack overflow" or an
// endless native loop then fails one test instead of killing the package.

const (
	hostileEnv      = "FCGIHOST_JS_HOSTILE_CODE"
	hostileDeadline = "FCGIHOST_JS_HOSTILE_DEADLINE"
	hostileMarker   = "HOSTILE-RESULT "
	// hostileWatchdog is the test's own generous bound on a child that
	// serves one request with a deadline of 1 s (or 10 s).
	hostileWatchdog = 40 * time.Second
)

// hostileResult is what the child saw when it served the request.
type hostileResult struct {
	Kind    string // "ok", "timeout", "limit" (sandbox.ErrTooLarge) or "error"
	Err     string
	Body    string
	Healthy bool
	// The raw end of the child: exit status and the tail of its output
	// (a Go "fatal error" shows there).
	Exit string `json:"-"`
	Tail string `json:"-"`
}

// TestHostileChild is the child side: it serves one request of the
// handler in hostileEnv and prints the result. It does nothing in a normal
// run.
func TestHostileChild(t *testing.T) {
	code := os.Getenv(hostileEnv)
	if code == "" {
		t.Skip("only run as the child of a hostile test")
	}
	deadline, err := time.ParseDuration(os.Getenv(hostileDeadline))
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, map[string]string{"app.js": code})
	a.opts.Limits = sandbox.Limits{Timeout: deadline}
	vm := a.mustVM("app.js")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r := serveCtx(ctx, vm, get("/"))
	out := hostileResult{Kind: "ok", Body: r.body, Healthy: vm.Healthy()}
	if len(out.Body) > 200 {
		out.Body = out.Body[:200]
	}
	if r.err != nil {
		out.Err = r.err.Error()
		var se *script.ScriptError
		switch {
		case errors.As(r.err, &se) && se.Timeout():
			out.Kind = "timeout"
		case errors.Is(r.err, sandbox.ErrTooLarge):
			out.Kind = "limit"
		default:
			out.Kind = "error"
		}
	}
	b, _ := json.Marshal(out)
	os.Stdout.Write(append([]byte("\n"+hostileMarker), append(b, '\n')...))
}

// runHostile serves handler code in a child process with the given
// deadline and returns what the child saw. It fails the test if the child
// died (a Go fatal error) or outlived the watchdog.
func runHostile(t *testing.T, code string, deadline time.Duration) hostileResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileWatchdog)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), hostileEnv+"="+code, hostileDeadline+"="+deadline.String())
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var res hostileResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), hostileMarker); ok {
			found = json.Unmarshal([]byte(l), &res) == nil
		}
	}
	tail := out.String()
	if len(tail) > 2000 {
		tail = tail[:2000] // the first lines name the fatal error
	}
	if ctx.Err() != nil {
		t.Fatalf("the child outlived the %v watchdog (deadline %v): an endless native loop\n%s", hostileWatchdog, deadline, tail)
	}
	if err != nil || !found {
		t.Fatalf("the child died (%v): the process would be lost\n%s", err, tail)
	}
	return res
}

// hostileCase is one hostile handler and what the client must see.
type hostileCase struct {
	name string
	code string // the body of the handler
	want string // hostileResult.Kind
	msg  string // a part of the error message, if any
}

func handlerOf(body string) string {
	return "module.exports = (req, res) => {\n" + body + "\n};"
}

// checkHostile runs each case in a child: with a 1 s deadline when the
// case must end at its deadline, else with a generous one (the machine may
// be loaded; the case must end with its result, not at the deadline).
//
// Under -race the children are the race-instrumented binary, ten times
// slower on inputs of 16 MiB, so their outcomes (a limit reached before the
// deadline) are not those of a real build: the cases are skipped there; the
// in-process tests of the same mechanisms still run.
func checkHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	if raceEnabled {
		t.Skip("hostile scripts are sized for a normal build; run without -race")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deadline := 10 * time.Second
			if tc.want == "timeout" {
				deadline = time.Second
			}
			r := runHostile(t, handlerOf(tc.code), deadline)
			if r.Kind != tc.want {
				t.Fatalf("kind = %s (%s), want %s", r.Kind, r.Err, tc.want)
			}
			if tc.msg != "" && !strings.Contains(r.Err, tc.msg) {
				t.Errorf("error %q does not mention %q", r.Err, tc.msg)
			}
			if r.Kind == "timeout" && r.Healthy {
				t.Errorf("VM still healthy after a timeout")
			}
		})
	}
}
