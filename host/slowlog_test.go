package host

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
)

// TestSlowlog: a request still running past slowlog gets one log line with
// its URL, app and the script's stack at that moment, while it keeps
// running; a request that ends first gets none.
func TestSlowlog(t *testing.T) {
	th := newTestHost(t, []string{"s", "f"}, map[string]registry.Settings{
		"s": {Pool: pool.Options{Workers: 1}, Slowlog: 5 * time.Millisecond},
		"f": {Pool: pool.Options{Workers: 1}, Slowlog: time.Hour},
	})
	done := make(chan int)
	go func() { done <- th.get(t, "/s/slow?x=1").Code }()
	<-th.gate.entered
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a measurement
	for !strings.Contains(th.log.String(), "slow request") {
		if time.Now().After(deadline) {
			t.Fatalf("no slow log line:\n%s", th.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The script is still running: the line was written while it ran.
	select {
	case c := <-done:
		t.Fatalf("request finished (%d) before the gate opened", c)
	default:
	}
	th.gate.open()
	if c := <-done; c != 200 {
		t.Fatalf("slow request: %d, want 200 (the slow log must not stop it)", c)
	}
	th.get(t, "/f/")

	var lines []string
	for _, l := range strings.Split(th.log.String(), "\n") {
		if strings.Contains(l, "slow request") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d slow log lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	entry := filepath.Join(th.dir, "s.fk")
	for _, want := range []string{"app=s", `uri="/s/slow?x=1"`, "where=\"busyLoop (" + entry + ":7:9)\"", entry + ":2:3"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("slow log line lacks %q:\n%s", want, lines[0])
		}
	}
	rep := th.statusJSON(t)
	if rep.Apps["s"].Slow != 1 || rep.Apps["f"].Slow != 0 || rep.Apps["s"].Limits.Slowlog != "5ms" {
		t.Errorf("slow: s %d f %d (want 1 0), limit %q", rep.Apps["s"].Slow, rep.Apps["f"].Slow, rep.Apps["s"].Limits.Slowlog)
	}
}

func TestTopFrame(t *testing.T) {
	tests := []struct{ stack, want string }{
		{"", ""},
		{"\n  at f (a.js:3:4)\n  at g (a.js:9:1)", "f (a.js:3:4)"},
		{"a.lua:7: in function 'f'\na.lua:2: in main chunk", "a.lua:7: in function 'f'"},
	}
	for _, tt := range tests {
		if got := topFrame(tt.stack); got != tt.want {
			t.Errorf("topFrame(%q) = %q, want %q", tt.stack, got, tt.want)
		}
	}
}
