package js

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// The slow log reads a running handler's stack from another goroutine,
// without stopping it: the stack names the running function and its line.
func TestCurrentStackWhileRunning(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `function spin(ms) {
  const end = Date.now() + ms;
  const parts = [];
  while (Date.now() < end) { parts.push("x".repeat(3)); if (parts.length > 1000) parts.length = 0; }
}
module.exports = (req, res) => { spin(700); return "done"; };
`})
	vm := a.mustVM("app.js")
	sc, ok := vm.(script.StackCapturer)
	if !ok {
		t.Fatal("JS handler VM does not implement script.StackCapturer")
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- serveCtx(ctx, vm, get("/"))
	}()
	time.Sleep(100 * time.Millisecond)
	stack := sc.CurrentStack()
	r := <-done
	if r.err != nil || r.body != "done" {
		t.Fatalf("the request did not finish normally after the capture: %v %q", r.err, r.body)
	}
	first, _, _ := strings.Cut(stack, "\n")
	if !strings.Contains(first, "spin") || !strings.Contains(first, a.path("app.js")+":4:") {
		t.Fatalf("stack %q: want the innermost frame in spin at app.js:4", stack)
	}
	if !strings.Contains(stack, a.path("app.js")+":6:") {
		t.Errorf("stack %q lacks the handler's frame at app.js:6", stack)
	}
}

// A stack asked for while no built-in is called (or between requests)
// says it is unavailable instead of blocking.
func TestCurrentStackUnavailableWhenIdle(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = () => "ok";`})
	vm := a.mustVM("app.js")
	if s := vm.(script.StackCapturer).CurrentStack(); !strings.HasPrefix(s, "unavailable:") {
		t.Fatalf("idle VM stack = %q, want unavailable", s)
	}
}
