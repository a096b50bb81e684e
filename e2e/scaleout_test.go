package e2e

// Scaling out (docs/scaling.md): two fcgihost processes, each with its own
// copy of the app files as two machines would have, behind one nginx
// upstream, sharing one Redis. A counter incremented through both ends
// exact, and new versions of the app deployed to every host — files
// replaced in place (watch), then a new release directory behind a
// symlink and SIGHUP — are served by every host while the count goes on.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

const (
	scaleCounterJS  = "module.exports = () => \"%s \" + kv.incr(\"n\");\n"
	scaleCounterLua = "return function() return \"%s \" .. kv.incr(\"n\") end\n"
)

// deployCounter writes version ver of both counter apps into apps, each
// file replaced atomically (as rsync, git checkout or a package would).
func deployCounter(t *testing.T, apps, ver string) {
	t.Helper()
	saveAtomic(t, filepath.Join(apps, "cjs.js"), fmt.Sprintf(scaleCounterJS, ver))
	saveAtomic(t, filepath.Join(apps, "clua.lua"), fmt.Sprintf(scaleCounterLua, ver))
}

// counted records every counter value handed out, to check at the end
// that they are exactly 1..N.
type counted struct {
	mu   sync.Mutex
	seen []int
}

// add parses "VER N" and records N.
func (c *counted) add(t *testing.T, body string) string {
	t.Helper()
	ver, n, ok := strings.Cut(body, " ")
	v, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Errorf("counter answered %q", body)
		return ""
	}
	c.mu.Lock()
	c.seen = append(c.seen, v)
	c.mu.Unlock()
	return ver
}

// check verifies the values handed out are 1..len exactly.
func (c *counted) check(t *testing.T, app string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	sort.Ints(c.seen)
	for i, v := range c.seen {
		if v != i+1 {
			t.Fatalf("%s: the %d values handed out, sorted, hold %d at position %d: an increment was lost or doubled", app, len(c.seen), v, i)
		}
	}
}

// appRequests reads app's request count from a host's status page.
func appRequests(t *testing.T, c *fcgi.Client, app string) uint64 {
	t.Helper()
	st, body := get(t, c, "/fcgihost-status")
	var rep struct {
		Apps map[string]struct {
			Requests uint64 `json:"requests"`
		} `json:"apps"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &rep) != nil {
		t.Fatalf("status page: %d %s", st, testutil.Tail(body, 300))
	}
	return rep.Apps[app].Requests
}

func TestScaleOut_TwoHostsOneRedis(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "nginx")
	const clients, perClient = 8, 40
	r := testutil.StartRedis(t)
	cfg := fmt.Sprintf("kv = %q\nworkers = 2\nstatus_path = \"/fcgihost-status\"\n", r.URL)

	// Each host: DIR/current -> DIR/rel1, the apps dir of release 1.
	var hosts []*testutil.Host
	var hostDirs []string
	var direct []*fcgi.Client
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		deployCounter(t, filepath.Join(dir, "rel1"), "v1")
		if err := os.Symlink("rel1", filepath.Join(dir, "current")); err != nil {
			t.Fatal(err)
		}
		h := testutil.StartHost(t, testutil.HostOptions{Apps: filepath.Join(dir, "current"), Config: cfg})
		hosts, hostDirs, direct = append(hosts, h), append(hostDirs, dir), append(direct, client(t, h))
	}
	n := testutil.StartNginxUpstream(t, hosts, `
    location / {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass fcgihost;
      fastcgi_keep_conn on;
    }
`)
	hc := &http.Client{Timeout: time.Minute}
	t.Cleanup(hc.CloseIdleConnections)
	fetch := func(t *testing.T, url string) string {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: status %d: %s", url, resp.StatusCode, b)
			return ""
		}
		return string(b)
	}

	counts := map[string]*counted{"cjs": {}, "clua": {}}
	for _, app := range []string{"cjs", "clua"} {
		t.Run(app, func(t *testing.T) {
			cnt := counts[app]
			var wg sync.WaitGroup
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < perClient && !t.Failed(); j++ {
						if body := fetch(t, n.URL+"/"+app); body != "" {
							cnt.add(t, body)
						}
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			cnt.check(t, app)
			var sum uint64
			for i, c := range direct {
				reqs := appRequests(t, c, app)
				if reqs == 0 {
					t.Errorf("host %d served no request of %s: nginx did not balance", i, app)
				}
				sum += reqs
			}
			if sum != clients*perClient {
				t.Errorf("the hosts served %d requests of %s, want %d", sum, app, clients*perClient)
			}
		})
	}
	if t.Failed() {
		return
	}

	// served checks that every host serves version ver of both apps and
	// that the count went on.
	served := func(ver string) {
		for _, app := range []string{"cjs", "clua"} {
			t.Run(app+" "+ver, func(t *testing.T) {
				cnt := counts[app]
				for i, c := range direct {
					testutil.Eventually(t, 30*time.Second, fmt.Sprintf("host %d serves %s of %s", i, ver, app), func() bool {
						_, body := get(t, c, "/"+app)
						return cnt.add(t, body) == ver
					})
				}
				for i := 0; i < 10; i++ {
					if got := cnt.add(t, fetch(t, n.URL+"/"+app)); got != ver {
						t.Errorf("after the deploy nginx got %q from a host, want %s", got, ver)
					}
				}
				cnt.check(t, app)
				t.Logf("%s: %d increments through 2 hosts, exact", app, len(cnt.seen))
			})
		}
	}

	// Files replaced in place on every host: each host's watcher picks
	// them up.
	for _, dir := range hostDirs {
		deployCounter(t, filepath.Join(dir, "rel1"), "v2")
	}
	served("v2")

	// A new release directory on every host, switched to atomically by
	// renaming a new symlink over "current", then SIGHUP.
	for i, dir := range hostDirs {
		deployCounter(t, filepath.Join(dir, "rel2"), "v3")
		if err := os.Symlink("rel2", filepath.Join(dir, "current.new")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "current.new"), filepath.Join(dir, "current")); err != nil {
			t.Fatal(err)
		}
		if err := hosts[i].Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	served("v3")
}
