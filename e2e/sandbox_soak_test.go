//go:build soak

package e2e

// The soak run of the sandbox: the attack mix of TestSandbox_Attacks, one
// attack at a time in a loop, beside a steady stream of normal requests in
// both languages, for SOAK_DURATION (default 1m). It reports RSS before,
// peak and after, and fails if a normal request fails or the host does not
// give the memory back.
//
//	go test -tags soak ./e2e -run TestSoak -v
//	SOAK_DURATION=5m go test -tags soak ./e2e -run TestSoak -v -timeout 20m

import (
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSoak_AttackMix(t *testing.T) {
	d := time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
	}
	_, h, n := sandboxStack(t, attackApps, sandboxConfig)
	pid := h.Cmd.Process.Pid
	// Warm up both languages so that "before" includes the pools.
	for _, p := range []string{"/hello_js", "/hello_lua"} {
		http.Get(n.URL + p)
	}
	before := rssKiB(t, pid, "VmRSS")
	attacks := []string{"/loop_js", "/loop_lua", "/rec_js", "/rec_lua", "/dbl_js", "/dbl_lua", "/grow_js", "/grow_lua",
		"/json_js", "/json_lua", "/rep_js", "/rep_lua", "/gsub_js", "/gsub_lua", "/pattern_lua", "/regexp_js",
		"/exit_js", "/exit_lua", "/big_js", "/big_lua", "/reqjs?m=../../secret", "/reqlua?m=./link"}
	client := &http.Client{Timeout: 60 * time.Second}
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	status := map[int]int{}
	normal, normalBad, attacksDone := 0, 0, 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // one attack at a time, round and round
		defer wg.Done()
		for i := 0; time.Now().Before(deadline); i++ {
			resp, err := client.Get(n.URL + attacks[i%len(attacks)])
			mu.Lock()
			attacksDone++
			if err == nil {
				status[resp.StatusCode]++
			} else {
				status[0]++
			}
			mu.Unlock()
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) { // normal traffic
			defer wg.Done()
			p := []string{"/hello_js", "/hello_lua"}[w]
			for time.Now().Before(deadline) {
				resp, err := client.Get(n.URL + p)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				normal++
				if !ok {
					normalBad++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	wg.Wait()
	after := settledRSS(t, pid, before)
	peak := rssKiB(t, pid, "VmHWM")
	t.Logf("soak %s: %d attacks (statuses %v), %d normal requests (%d failed)", d, attacksDone, status, normal, normalBad)
	t.Logf("host RSS before %d MiB, peak %d MiB, after %d MiB (%+d MiB)", before>>10, peak>>10, after>>10, (after-before)>>10)
	for _, ln := range strings.Split(h.Output(), "\n") {
		if strings.Contains(ln, "memory watchdog") {
			t.Log(ln[strings.Index(ln, "msg="):])
		}
	}
	if normalBad > 0 {
		t.Errorf("%d normal requests failed during the soak", normalBad)
	}
	if after-before > 256<<10 {
		t.Errorf("RSS grew by %d MiB over the soak", (after-before)>>10)
	}
}
