package e2e

// End-to-end tests of script storage and outbound calls (docs/reference.md §3, issue
// 9) against the built binary: the kv API from scripts in both languages on
// both backends (bbolt always, Redis when redis-server is installed),
// namespace isolation, quotas, many VMs incrementing one key, request
// timeouts around kv calls, the guestbook surviving a restart and a kill -9
// behind nginx, and fetch's allowlist and SSRF refusals.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/fcgihost/fcgihost/kv"
)

// kvScriptJS and kvScriptLua expose every kv call at a path of their own and
// answer in JSON, so one table of cases checks both languages. A ?vm=1
// answer also names the VM (an id each VM takes from kv when first asked),
// and /hold?n=N makes N requests meet: each waits until N have
// arrived, which needs N VMs at once.
const kvScriptJS = `let vm = null;
module.exports = (req, res) => {
  const q = req.query;
  const num = (name) => (q[name] === undefined ? undefined : Number(q[name]));
  const id = () => (vm === null ? (vm = kv.incr("vm:ids")) : vm);
  switch (req.path) {
  case "/get": return JSON.stringify(kv.get(q.k));
  case "/set": kv.set(q.k, q.v, q.ttl === undefined ? undefined : {ttl: num("ttl")}); return "\"ok\"";
  case "/delete": kv.delete(q.k); return "\"ok\"";
  case "/incr": {
    const n = kv.incr(q.k, num("n"));
    return q.vm ? JSON.stringify([n, id()]) : JSON.stringify(n);
  }
  case "/cas": return JSON.stringify(kv.cas(q.k, q.old === undefined ? null : q.old, q.v));
  case "/list": return JSON.stringify(kv.list(q.p === undefined ? "" : q.p, q.limit === undefined ? undefined : {limit: num("limit")}));
  case "/batch": kv.batch(req.json()); return "\"ok\"";
  case "/hold": {
    kv.incr("hold:" + q.round);
    while (Number(kv.get("hold:" + q.round)) < num("n")) {}
    return JSON.stringify(id());
  }
  }
  res.status(404);
  return "\"no such call\"";
};
`

const kvScriptLua = `local vm
return function(req, res)
  local q, p = req.query, req.path
  local function num(name) return q[name] and tonumber(q[name]) end
  local function id()
    if not vm then vm = kv.incr("vm:ids") end
    return vm
  end
  if p == "/get" then
    local v = kv.get(q.k)
    if v == nil then return "null" end
    return json.encode(v)
  elseif p == "/set" then
    kv.set(q.k, q.v, q.ttl and { ttl = num("ttl") } or nil)
    return '"ok"'
  elseif p == "/delete" then
    kv.delete(q.k)
    return '"ok"'
  elseif p == "/incr" then
    local n = kv.incr(q.k, num("n"))
    if q.vm then return json.encode(json.array({ n, id() })) end
    return json.encode(n)
  elseif p == "/cas" then
    return json.encode(kv.cas(q.k, q.old, q.v))
  elseif p == "/list" then
    return json.encode(kv.list(q.p or "", q.limit and { limit = num("limit") } or nil))
  elseif p == "/batch" then
    kv.batch(req:json())
    return '"ok"'
  elseif p == "/hold" then
    kv.incr("hold:" .. q.round)
    while tonumber(kv.get("hold:" .. q.round)) < num("n") do end
    return json.encode(id())
  end
  res:status(404)
  return '"no such call"'
end
`

// kvApps writes the kv script under each name (NAME.js or NAME.lua) into a
// new apps dir.
func kvApps(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		code := kvScriptJS
		if strings.HasSuffix(n, ".lua") {
			code = kvScriptLua
		}
		writeFile(t, filepath.Join(dir, n), code)
	}
	return dir
}

// forEachBackend runs f as a subtest per kv backend with the config lines
// that select it: the embedded store in a fresh data_dir, and a private
// redis-server (skipped when it is not installed, failed under CI=true).
func forEachBackend(t *testing.T, f func(t *testing.T, kvConfig string)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		f(t, fmt.Sprintf("data_dir = %q\n", t.TempDir()))
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		r := testutil.StartRedis(t)
		f(t, fmt.Sprintf("kv = %q\ndata_dir = %q\n", r.URL, t.TempDir()))
		if n, err := testutil.RedisCommand(r.Addr, "DBSIZE"); err != nil || n == ":0" {
			t.Errorf("redis holds no key after the test (DBSIZE %q, %v): the host did not use it", n, err)
		}
	})
}

// kvCall sends one request to path (with its query) over FastCGI, the way
// nginx's fastcgi_params would, with body as a JSON POST body if not nil.
func kvCall(ctx context.Context, c *fcgi.Client, path string, body []byte) (int, string, error) {
	p := params(path)
	req := &fcgi.ClientRequest{Params: p}
	if body != nil {
		p["REQUEST_METHOD"] = "POST"
		p["CONTENT_TYPE"] = "application/json"
		p["CONTENT_LENGTH"] = strconv.Itoa(len(body))
		req.Body = bytes.NewReader(body)
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return 0, "", err
	}
	b, err := resp.ReadAll()
	return resp.Status, string(b), err
}

// call is kvCall that fails the test on a transport error.
func call(t testing.TB, c *fcgi.Client, path string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, b, err := kvCall(ctx, c, path, body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st, b
}

// q builds "/app/op?k=v&…" from pairs, escaping values.
func q(app, op string, kvs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kvs); i += 2 {
		v.Set(kvs[i], kvs[i+1])
	}
	s := "/" + app + op
	if len(v) > 0 {
		s += "?" + v.Encode()
	}
	return s
}

// step is one request of a kv scenario and what it must answer: a status
// and, for 200, a JSON value.
type step struct {
	name   string
	path   string // op and query, without the app: "/get?k=a"
	body   string // JSON batch body, "" for GET
	status int
	want   string // JSON, compared as decoded values
}

func runSteps(t *testing.T, c *fcgi.Client, app string, steps []step) {
	t.Helper()
	for _, s := range steps {
		var body []byte
		if s.body != "" {
			body = []byte(s.body)
		}
		st, got := call(t, c, "/"+app+s.path, body)
		if st != s.status {
			t.Errorf("%s: %s%s: status %d (%q), want %d", app, s.name, s.path, st, testutil.Tail(got, 200), s.status)
			continue
		}
		if s.status != 200 {
			continue
		}
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Errorf("%s: %s: answer %q is not JSON: %v", app, s.name, got, err)
			continue
		}
		if err := json.Unmarshal([]byte(s.want), &w); err != nil {
			t.Fatalf("bad want %q: %v", s.want, err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %s: %s answered %s, want %s", app, s.name, s.path, got, s.want)
		}
	}
}

// path is "/op?query" for a step.
func path(op string, kvs ...string) string { return q("", op, kvs...)[1:] }

func TestKV_ScriptAPI(t *testing.T) {
	t.Parallel()
	steps := []step{
		{"get missing", path("/get", "k", "a"), "", 200, `null`},
		{"set", path("/set", "k", "a", "v", "1"), "", 200, `"ok"`},
		{"get", path("/get", "k", "a"), "", 200, `"1"`},
		{"set unicode and separators", path("/set", "k", "ü:/\x00x", "v", "€ \"quoted\"\n"), "", 200, `"ok"`},
		{"get unicode", path("/get", "k", "ü:/\x00x"), "", 200, `"€ \"quoted\"\n"`},
		{"incr missing", path("/incr", "k", "c"), "", 200, `1`},
		{"incr by 5", path("/incr", "k", "c", "n", "5"), "", 200, `6`},
		{"incr by -2", path("/incr", "k", "c", "n", "-2"), "", 200, `4`},
		{"get counter", path("/get", "k", "c"), "", 200, `"4"`},
		{"incr a number set as a string", path("/incr", "k", "a"), "", 200, `2`},
		{"set text", path("/set", "k", "s", "v", "text"), "", 200, `"ok"`},
		{"incr text is an error", path("/incr", "k", "s"), "", 500, ``},
		{"text unchanged", path("/get", "k", "s"), "", 200, `"text"`},
		{"cas absent", path("/cas", "k", "x", "v", "one"), "", 200, `true`},
		{"cas absent again", path("/cas", "k", "x", "v", "two"), "", 200, `false`},
		{"cas old", path("/cas", "k", "x", "old", "one", "v", "two"), "", 200, `true`},
		{"cas stale", path("/cas", "k", "x", "old", "one", "v", "three"), "", 200, `false`},
		{"cas result", path("/get", "k", "x"), "", 200, `"two"`},
		{"set l:3", path("/set", "k", "l:3", "v", ""), "", 200, `"ok"`},
		{"set l:1", path("/set", "k", "l:1", "v", ""), "", 200, `"ok"`},
		{"set l:2", path("/set", "k", "l:2", "v", ""), "", 200, `"ok"`},
		{"set m:1", path("/set", "k", "m:1", "v", ""), "", 200, `"ok"`},
		{"list prefix sorted", path("/list", "p", "l:"), "", 200, `["l:1","l:2","l:3"]`},
		{"list limit", path("/list", "p", "l:", "limit", "2"), "", 200, `["l:1","l:2"]`},
		{"list none", path("/list", "p", "nothing"), "", 200, `[]`},
		{"empty value kept", path("/get", "k", "l:1"), "", 200, `""`},
		{"delete", path("/delete", "k", "a"), "", 200, `"ok"`},
		{"deleted", path("/get", "k", "a"), "", 200, `null`},
		{"delete missing", path("/delete", "k", "never"), "", 200, `"ok"`},
		{"batch", "/batch", `[{"op":"set","key":"b:1","value":"x"},{"op":"set","key":"b:2","value":"y","ttl":600},{"op":"delete","key":"l:1"}]`, 200, `"ok"`},
		{"batch wrote", path("/list", "p", "b:"), "", 200, `["b:1","b:2"]`},
		{"batch deleted", path("/list", "p", "l:"), "", 200, `["l:2","l:3"]`},
		{"bad batch", "/batch", `[{"op":"set","key":"z","value":"1"},{"op":"explode","key":"l:2"}]`, 500, ``},
		{"bad batch wrote nothing", path("/get", "k", "z"), "", 200, `null`},
		{"long key refused", path("/set", "k", strings.Repeat("k", kv.MaxKeyLen+1), "v", "1"), "", 500, ``},
		{"set with ttl", path("/set", "k", "t", "v", "soon gone", "ttl", "1"), "", 200, `"ok"`},
		{"ttl key there", path("/get", "k", "t"), "", 200, `"soon gone"`},
		{"ttl key listed", path("/list", "p", "t"), "", 200, `["t"]`},
	}
	forEachBackend(t, func(t *testing.T, kvConfig string) {
		apps := kvApps(t, "kvjs.js", "kvlua.lua")
		h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: "workers = 2\n" + kvConfig})
		c := client(t, h)
		for _, app := range []string{"kvjs", "kvlua"} {
			t.Run(app, func(t *testing.T) {
				runSteps(t, c, app, steps)
				testutil.Eventually(t, 30*time.Second, "the key set with ttl 1 expires", func() bool {
					_, got := call(t, c, "/"+app+path("/get", "k", "t"), nil)
					return got == "null"
				})
				runSteps(t, c, app, []step{
					{"expired key not listed", path("/list", "p", "t"), "", 200, `[]`},
					{"key without ttl stays", path("/get", "k", "x"), "", 200, `"two"`},
				})
			})
		}
		if !strings.Contains(h.Output(), "kv.incr") || !strings.Contains(h.Output(), "not an integer") {
			t.Errorf("the log does not name the failed kv call:\n%s", testutil.Tail(h.Output(), 2000))
		}
	})
}

// TestKV_NamespaceIsolation has one app store secrets and others try to
// reach them by every name: the other app's name as a prefix with the
// separators each backend uses, NUL bytes, the Redis key layout, a very long
// key, list with an empty prefix. App "a" with key "b:c" and app "a:b" with
// key "c" are the concatenation that must not collide.
func TestKV_NamespaceIsolation(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, kvConfig string) {
		apps := kvApps(t, "alice.js", "bob.lua", "mallory.js", "a.lua", "a:b.js")
		h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: "workers = 1\n" + kvConfig})
		c := client(t, h)
		runSteps(t, c, "alice", []step{
			{"alice stores", path("/set", "k", "secret", "v", "alice-secret"), "", 200, `"ok"`},
			{"alice stores b:c", path("/set", "k", "b:c", "v", "alice-bc"), "", 200, `"ok"`},
			{"alice counter", path("/incr", "k", "hits", "n", "41"), "", 200, `41`},
		})
		runSteps(t, c, "a", []step{{"a stores b:c", path("/set", "k", "b:c", "v", "from a"), "", 200, `"ok"`}})
		runSteps(t, c, "a:b", []step{
			{"a:b does not see a's b:c as c", path("/get", "k", "c"), "", 200, `null`},
			{"a:b lists nothing", path("/list", "p", ""), "", 200, `[]`},
			{"a:b stores c", path("/set", "k", "c", "v", "from a:b"), "", 200, `"ok"`},
		})
		runSteps(t, c, "a", []step{{"a's b:c unchanged", path("/get", "k", "b:c"), "", 200, `"from a"`}})

		tricks := []string{
			"secret", "alice:secret", "alice/secret", "../alice/secret", "app:alice/secret", "app:alice\x00secret",
			"alice\x00secret", "\x00alice\x00secret", "fcgihost:5:alice:secret", "fcgihost:alice:secret",
			"5:alice:secret", ":alice:secret", "alice.js:secret", "apps/alice/secret", "hits", "b:c",
		}
		for _, app := range []string{"bob", "mallory"} {
			var steps []step
			for _, k := range tricks {
				steps = append(steps, step{"get " + strconv.Quote(k), path("/get", "k", k), "", 200, `null`})
				steps = append(steps, step{"cas " + strconv.Quote(k), path("/cas", "k", k, "old", "alice-secret", "v", "stolen"), "", 200, `false`})
			}
			steps = append(steps,
				step{"list everything", path("/list", "p", ""), "", 200, `[]`},
				step{"list alice", path("/list", "p", "alice"), "", 200, `[]`},
				step{"very long key", path("/get", "k", strings.Repeat("alice:", 1000)+"secret"), "", 500, ``},
				step{"delete secret", path("/delete", "k", "secret"), "", 200, `"ok"`},
				step{"incr hits", path("/incr", "k", "hits"), "", 200, `1`},
				step{"set secret", path("/set", "k", "secret", "v", app), "", 200, `"ok"`},
				step{"own secret", path("/get", "k", "secret"), "", 200, strconv.Quote(app)},
			)
			runSteps(t, c, app, steps)
		}
		runSteps(t, c, "alice", []step{
			{"alice's secret unchanged", path("/get", "k", "secret"), "", 200, `"alice-secret"`},
			{"alice's counter unchanged", path("/get", "k", "hits"), "", 200, `"41"`},
			{"alice's keys only", path("/list", "p", ""), "", 200, `["b:c","hits","secret"]`},
		})
	})
}

// TestKV_ConcurrentIncr has workers = 4 VMs per app increment one key
// through concurrent FastCGI requests: no update is lost, every answer is
// distinct, and the answers are exactly 1..N. A first round of /hold
// requests proves the four VMs run at once.
func TestKV_ConcurrentIncr(t *testing.T) {
	t.Parallel()
	const clients, perClient, workers = 16, 40, 4
	forEachBackend(t, func(t *testing.T, kvConfig string) {
		apps := kvApps(t, "cjs.js", "clua.lua")
		cfg := fmt.Sprintf("workers = %d\ntimeout = \"60s\"\nqueue_timeout = \"60s\"\n", workers) + kvConfig
		h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
		for _, app := range []string{"cjs", "clua"} {
			t.Run(app, func(t *testing.T) {
				c := &fcgi.Client{Addr: h.FCGI, KeepConn: true, MaxIdle: clients}
				t.Cleanup(func() { c.Close() })

				// workers requests that each wait for all of them: they
				// can only finish if workers VMs serve at once.
				vms := make(chan string, workers)
				var wg sync.WaitGroup
				for i := 0; i < workers; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						st, body := call(t, c, q(app, "/hold", "round", "1", "n", strconv.Itoa(workers)), nil)
						if st != 200 {
							t.Errorf("hold: status %d: %s", st, body)
						}
						vms <- body
					}()
				}
				wg.Wait()
				close(vms)
				seen := map[string]bool{}
				for v := range vms {
					seen[v] = true
				}
				if len(seen) != workers {
					t.Fatalf("hold round served by VMs %v, want %d distinct", seen, workers)
				}

				var mu sync.Mutex
				got := make([]int, 0, clients*perClient)
				byVM := map[float64]int{}
				for i := 0; i < clients; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := 0; j < perClient; j++ {
							st, body := call(t, c, q(app, "/incr", "k", "hits", "vm", "1"), nil)
							var pair [2]float64
							if st != 200 || json.Unmarshal([]byte(body), &pair) != nil {
								t.Errorf("incr: status %d: %s", st, body)
								return
							}
							mu.Lock()
							got = append(got, int(pair[0]))
							byVM[pair[1]]++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				if t.Failed() {
					return
				}
				sort.Ints(got)
				for i, n := range got {
					if n != i+1 {
						t.Fatalf("answers sorted are not 1..%d: position %d holds %d (an update was lost or doubled)", len(got), i, n)
					}
				}
				_, final := call(t, c, q(app, "/get", "k", "hits"), nil)
				if want := strconv.Quote(strconv.Itoa(clients * perClient)); final != want {
					t.Fatalf("final value %s, want %s", final, want)
				}
				t.Logf("%d increments, answers per VM: %v", len(got), byVM)
			})
		}
	})
}

// TestKV_Quota sets kv_max_keys and kv_max_bytes per app in the config: a
// call that would pass them is a script error (500, logged), and nothing of
// it is written, a batch included.
func TestKV_Quota(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 60)
	steps := []step{
		{"first key", path("/set", "k", "k1", "v", "v1"), "", 200, `"ok"`},
		{"second key", path("/set", "k", "k2", "v", "v2"), "", 200, `"ok"`},
		{"batch over max keys", "/batch", `[{"op":"set","key":"k1","value":"changed"},{"op":"set","key":"k3","value":"x"}]`, 500, ``},
		{"batch wrote nothing", path("/list", "p", ""), "", 200, `["k1","k2"]`},
		{"batch changed nothing", path("/get", "k", "k1"), "", 200, `"v1"`},
		{"new key over max keys", path("/set", "k", "k3", "v", "x"), "", 500, ``},
		{"incr of a new key over max keys", path("/incr", "k", "n"), "", 500, ``},
		{"cas of a new key over max keys", path("/cas", "k", "k3", "v", "x"), "", 500, ``},
		{"still two keys", path("/list", "p", ""), "", 200, `["k1","k2"]`},
		{"value over max bytes", path("/set", "k", "k1", "v", big), "", 500, ``},
		{"value unchanged", path("/get", "k", "k1"), "", 200, `"v1"`},
		{"shorter value fine", path("/set", "k", "k1", "v", "1"), "", 200, `"ok"`},
		{"incr an existing key fine", path("/incr", "k", "k1"), "", 200, `2`},
		{"delete frees a key", path("/delete", "k", "k2"), "", 200, `"ok"`},
		{"then a new key fits", path("/set", "k", "k3", "v", "x"), "", 200, `"ok"`},
		{"final keys", path("/list", "p", ""), "", 200, `["k1","k3"]`},
	}
	forEachBackend(t, func(t *testing.T, kvConfig string) {
		apps := kvApps(t, "qjs.js", "qlua.lua", "free.js")
		cfg := "workers = 1\n" + kvConfig + `
[app.qjs]
kv_max_keys = 2
kv_max_bytes = 64

[app.qlua]
kv_max_keys = 2
kv_max_bytes = "64B"
`
		h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
		c := client(t, h)
		for _, app := range []string{"qjs", "qlua"} {
			t.Run(app, func(t *testing.T) { runSteps(t, c, app, steps) })
		}
		// An app without a quota is not bound by the others'.
		for i := 0; i < 5; i++ {
			runSteps(t, c, "free", []step{{"free key", path("/set", "k", fmt.Sprint("k", i), "v", big), "", 200, `"ok"`}})
		}
		if n := strings.Count(h.Output(), "kv quota exceeded"); n < 2*5 {
			t.Errorf("the log names %d quota errors, want at least 10:\n%s", n, testutil.Tail(h.Output(), 3000))
		}
	})
}

// TestKV_RequestTimeout checks that a kv call that cannot finish does not
// keep its request past the app's timeout: with Redis stopped (SIGSTOP:
// every command waits) and with the embedded store's file held by another process. The
// requests answer 504 long before the store would come back, and kv works
// again once it does.
func TestKV_RequestTimeout(t *testing.T) {
	t.Parallel()
	calls := []struct{ path, body string }{
		{path("/get", "k", "a"), ""},
		{path("/set", "k", "a", "v", "2"), ""},
		{path("/delete", "k", "a"), ""},
		{path("/incr", "k", "n"), ""},
		{path("/cas", "k", "a", "old", "1", "v", "3"), ""},
		{path("/list", "p", ""), ""},
		{"/batch", `[{"op":"set","key":"b","value":"1"}]`},
	}
	// every sends each call to both apps at once and checks each answers
	// 504 before ctx (far longer than the timeout) ends.
	every := func(t *testing.T, c *fcgi.Client) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, app := range []string{"tjs", "tlua"} {
			for _, cl := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var body []byte
					if cl.body != "" {
						body = []byte(cl.body)
					}
					st, got, err := kvCall(ctx, c, "/"+app+cl.path, body)
					if err != nil {
						t.Errorf("%s%s: no answer while the store is stuck: %v", app, cl.path, err)
						return
					}
					if st != http.StatusGatewayTimeout {
						t.Errorf("%s%s: status %d (%q), want 504", app, cl.path, st, testutil.Tail(got, 200))
					}
				}()
			}
		}
		wg.Wait()
	}
	cfg := "workers = 8\ntimeout = \"1s\"\nqueue_timeout = \"30s\"\n"
	warm := func(t *testing.T, c *fcgi.Client) {
		t.Helper()
		for _, app := range []string{"tjs", "tlua"} {
			runSteps(t, c, app, []step{{"set a", path("/set", "k", "a", "v", "1"), "", 200, `"ok"`}})
		}
	}

	t.Run("redis stopped", func(t *testing.T) {
		t.Parallel()
		r := testutil.StartRedis(t)
		h := testutil.StartHost(t, testutil.HostOptions{Apps: kvApps(t, "tjs.js", "tlua.lua"), Unix: true,
			Config: cfg + fmt.Sprintf("kv = %q\n", r.URL)})
		c := client(t, h)
		warm(t, c) // the store is open and each VM has its id
		// A stopped server: connections are accepted by the kernel, no
		// command is ever answered until SIGCONT.
		if err := r.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		every(t, c)
		if err := r.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{"tjs", "tlua"} {
			runSteps(t, c, app, []step{{"works again", path("/set", "k", "after", "v", "1"), "", 200, `"ok"`}})
		}
	})

	t.Run("embedded file held", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		// An fcgihost of the previous version still runs on the data_dir
		// and holds its bbolt kv.db: the host's first kv call waits to
		// migrate it, and kv works once it is free.
		holder := holdBolt(t, filepath.Join(data, "kv.db"))
		h := testutil.StartHost(t, testutil.HostOptions{Apps: kvApps(t, "tjs.js", "tlua.lua"), Unix: true,
			Config: cfg + fmt.Sprintf("data_dir = %q\n", data)})
		c := client(t, h)
		every(t, c)
		holder.release(t)
		testutil.Eventually(t, 30*time.Second, "kv works once the file is free", func() bool {
			st, _ := call(t, c, "/tjs"+path("/set", "k", "after", "v", "1"), nil)
			return st == 200
		})
		warm(t, c)
	})
}

// heldFile is a kv store file locked by a child process, as another
// fcgihost serving the same data_dir would hold it.
type heldFile struct{ p *testutil.Proc }

// holdBolt opens path as a bbolt store in a child process (this test binary
// re-run as TestHelperHoldBolt) and returns once the child holds it.
func holdBolt(t *testing.T, path string) *heldFile {
	t.Helper()
	p := testutil.Start(t, filepath.Dir(path), []string{"FCGIHOST_HOLD_BOLT=" + path}, os.Args[0], "-test.run=^TestHelperHoldBolt$", "-test.v")
	testutil.Eventually(t, 30*time.Second, "the helper holds the store", func() bool {
		return strings.Contains(p.Output(), "holding "+path)
	})
	return &heldFile{p}
}

func (h *heldFile) release(t *testing.T) {
	t.Helper()
	h.p.Signal(syscall.SIGTERM)
	h.p.Wait(10 * time.Second)
}

// TestHelperHoldBolt is not a test: run by holdBolt, it holds the bbolt file
// named by FCGIHOST_HOLD_BOLT until SIGTERM.
func TestHelperHoldBolt(t *testing.T) {
	path := os.Getenv("FCGIHOST_HOLD_BOLT")
	if path == "" {
		t.Skip("helper process for TestKV_RequestTimeout")
	}
	st, err := kv.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	fmt.Printf("holding %s\n", path)
	<-stop
}

// guestbookEntries reads the guestbook's JSON view through nginx.
func guestbookEntries(t *testing.T, base string) (total int, names []string) {
	t.Helper()
	r := testutil.Get(t, base+"?format=json")
	var g struct {
		Total   int
		Entries []struct {
			ID      int
			Name    string
			Message string
		}
	}
	if err := json.Unmarshal([]byte(r.Body), &g); err != nil || r.StatusCode != 200 {
		t.Fatalf("GET %s?format=json: status %d, %v: %s", base, r.StatusCode, err, testutil.Tail(r.Body, 300))
	}
	for i, e := range g.Entries {
		if i > 0 && e.ID >= g.Entries[i-1].ID {
			t.Errorf("entries not newest first: %+v", g.Entries)
		}
		names = append(names, e.Name)
	}
	return g.Total, names
}

// sign posts the guestbook's form as a browser does and checks the 303.
func sign(t *testing.T, base, name, message string) {
	t.Helper()
	form := url.Values{"name": {name}, "message": {message}}.Encode()
	r := testutil.Do(t, newReq(t, "POST", base, []byte(form), "application/x-www-form-urlencoded"))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != strings.TrimPrefix(base, baseURL(base)) {
		t.Fatalf("POST %s: status %d, Location %q: %s", base, r.StatusCode, r.Header.Get("Location"), testutil.Tail(r.Body, 300))
	}
}

func baseURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// TestKV_GuestbookSurvivesRestart runs the bundled guestbooks (apps/) behind
// nginx on the embedded store, restarts the binary (SIGTERM, then kill -9
// right after an acknowledged post) on the same data_dir, and finds every
// entry again.
func TestKV_GuestbookSurvivesRestart(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "nginx")
	data := filepath.Join(t.TempDir(), "data")
	cfg := fmt.Sprintf("only_apps = [\"guestbook\", \"guestbook.lua\"]\nworkers = 2\ndata_dir = %q\n", data)
	start := func() (*testutil.Host, *testutil.Nginx) {
		h := testutil.StartHost(t, testutil.HostOptions{Unix: true, Config: cfg})
		return h, testutil.StartNginx(t, h, nginxRoot)
	}
	apps := []string{"guestbook", "guestbook.lua"}

	h, n := start()
	for _, app := range apps {
		base := n.URL + "/" + app
		sign(t, base, "Ada", "Hello <b>world</b> & all")
		sign(t, base, "Grace", "Ünïcödé ✓")
		page := testutil.Get(t, base)
		for _, want := range []string{"<form", "2 entries", "Hello &lt;b&gt;world&lt;/b&gt; &amp; all", "Ünïcödé ✓", "Grace"} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("%s page lacks %q:\n%s", app, want, testutil.Tail(page.Body, 1500))
			}
		}
		if r := testutil.Do(t, newReq(t, "POST", base, []byte("name=&message="), "application/x-www-form-urlencoded")); r.StatusCode != 422 || !strings.Contains(r.Body, "is required") {
			t.Errorf("%s: empty form: status %d", app, r.StatusCode)
		}
	}
	h.Signal(syscall.SIGTERM)
	if code := h.Wait(30 * time.Second); code != 0 {
		t.Fatalf("host exit code %d after SIGTERM", code)
	}
	n.Signal(syscall.SIGQUIT)
	n.Wait(10 * time.Second)
	fi, err := os.Stat(filepath.Join(data, "kv.sqlite"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kv.sqlite: %v, mode %v, want 0600", err, fi.Mode())
	}

	h, n = start()
	for _, app := range apps {
		base := n.URL + "/" + app
		if total, names := guestbookEntries(t, base); total != 2 || !reflect.DeepEqual(names, []string{"Grace", "Ada"}) {
			t.Fatalf("%s after restart: total %d, entries %v; want Grace, Ada", app, total, names)
		}
		sign(t, base, "Linus", "third")
	}
	h.Cmd.Process.Signal(syscall.SIGKILL) // right after the acknowledged posts
	h.Wait(10 * time.Second)

	_, n = start()
	for _, app := range apps {
		base := n.URL + "/" + app
		if total, names := guestbookEntries(t, base); total != 3 || !reflect.DeepEqual(names, []string{"Linus", "Grace", "Ada"}) {
			t.Fatalf("%s after kill -9: total %d, entries %v; want Linus, Grace, Ada", app, total, names)
		}
	}
}

// fetchScriptJS and fetchScriptLua fetch ?url= (with ?method= and ?body=)
// and answer "STATUS BODY", or "refused: MESSAGE" when the call fails.
const fetchScriptJS = `module.exports = async (req) => {
  const init = {method: req.query.method || "GET", headers: {"X-Token": "t0k"}};
  if (req.query.body) init.body = req.query.body;
  try {
    const r = await fetch(req.query.url, init);
    return r.status + " " + (await r.text());
  } catch (e) {
    return "refused: " + e.message;
  }
};
`

const fetchScriptLua = `return function(req, res)
  local ok, r = pcall(http.request, {url = req.query.url, method = req.query.method or "GET",
    headers = {["X-Token"] = "t0k"}, body = req.query.body})
  if not ok then return "refused: " .. tostring(r) end
  return r.status .. " " .. r.body
end
`

// TestFetch_AllowlistAndSSRF runs fetch (JS) and http.request (Lua) against
// local servers: an allowed one listed by address, and a "forbidden" one
// that must never see a request however a script asks for it (another
// port, localhost, the IPv6 and mapped forms, redirects), plus private and
// link-local addresses that are refused before any connection.
func TestFetch_AllowlistAndSSRF(t *testing.T) {
	t.Parallel()
	var forbiddenHits atomic.Int64
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forbiddenHits.Add(1)
		io.WriteString(w, "forbidden data")
	}))
	t.Cleanup(forbidden.Close)
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Header.Get("X-Token"), r.Header.Get("User-Agent"), b)
		default:
			io.WriteString(w, "hello from the allowed server")
		}
	}))
	t.Cleanup(allowed.Close)
	aHost := allowed.Listener.Addr().String() // 127.0.0.1:P
	fHost := forbidden.Listener.Addr().String()
	_, fPort, _ := strings.Cut(fHost, ":")

	apps := t.TempDir()
	for _, g := range []string{"byaddr", "any", "byname", "none"} {
		writeFile(t, filepath.Join(apps, g+"-js.js"), fetchScriptJS)
		writeFile(t, filepath.Join(apps, g+"-lua.lua"), fetchScriptLua)
	}
	cfg := fmt.Sprintf(`workers = 1
timeout = "20s"
data_dir = %q
[app.byaddr-js]
fetch_allow = [%[2]q]
[app.byaddr-lua]
fetch_allow = [%[2]q]
[app.any-js]
fetch_allow = ["*", %[2]q]
[app.any-lua]
fetch_allow = ["*", %[2]q]
[app.byname-js]
fetch_allow = ["localhost"]
[app.byname-lua]
fetch_allow = ["localhost"]
`, t.TempDir(), aHost)
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
	c := client(t, h)

	a := "http://" + aHost
	redirect := func(to string) string { return a + "/redirect?to=" + url.QueryEscape(to) }
	cases := []struct {
		group, name, url, method, body string
		want                           string // prefix of the answer
		refusal                        string // part of the refusal message
	}{
		{"byaddr", "allowed by address", a + "/", "", "", "200 hello from the allowed server", ""},
		{"byaddr", "method, headers and body pass", a + "/echo", "PUT", "payload", "200 PUT t0k fcgihost payload", ""},
		{"byaddr", "redirect within the allowed host", redirect(a + "/x"), "", "", "200 hello from the allowed server", ""},
		{"byaddr", "same server by name", "http://localhost:" + strings.Split(aHost, ":")[1] + "/", "", "", "refused", "not in fetch_allow"},
		{"byaddr", "another port", "http://" + fHost + "/", "", "", "refused", "not in fetch_allow"},
		{"byaddr", "not listed", "http://example.com/", "", "", "refused", "not in fetch_allow"},
		{"byaddr", "redirect to another port", redirect("http://" + fHost + "/"), "", "", "refused", "not in fetch_allow"},
		{"byaddr", "file scheme", "file:///etc/passwd", "", "", "refused", "scheme"},
		{"any", "allowed by address", a + "/", "", "", "200 hello from the allowed server", ""},
		{"any", "loopback not listed", "http://" + fHost + "/", "", "", "refused", "loopback"},
		{"any", "10.x", "http://10.1.2.3/", "", "", "refused", "private"},
		{"any", "cloud metadata", "http://169.254.169.254/latest/meta-data/", "", "", "refused", "link-local"},
		{"any", "IPv6 loopback", "http://[::1]:" + fPort + "/", "", "", "refused", "not in fetch_allow"},
		{"any", "unspecified", "http://0.0.0.0:" + fPort + "/", "", "", "refused", "not in fetch_allow"},
		{"any", "IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + fPort + "/", "", "", "refused", "not in fetch_allow"},
		{"any", "name resolving to loopback", "http://localhost:" + fPort + "/", "", "", "refused", "localhost"},
		{"any", "redirect to loopback", redirect("http://" + fHost + "/"), "", "", "refused", "redirect"},
		{"any", "redirect to a name resolving to loopback", redirect("http://localhost:" + fPort + "/"), "", "", "refused", "redirect"},
		{"any", "redirect to metadata", redirect("http://169.254.169.254/"), "", "", "refused", "link-local"},
		{"byname", "localhost listed by name only", "http://localhost:" + fPort + "/", "", "", "refused", "loopback"},
		{"none", "nothing allowed by default", a + "/", "", "", "refused", "not in fetch_allow"},
	}
	for _, lang := range []string{"js", "lua"} {
		for _, tc := range cases {
			app := tc.group + "-" + lang
			t.Run(app+"/"+tc.name, func(t *testing.T) {
				kvs := []string{"url", tc.url}
				if tc.method != "" {
					kvs = append(kvs, "method", tc.method)
				}
				if tc.body != "" {
					kvs = append(kvs, "body", tc.body)
				}
				st, got := call(t, c, q(app, "", kvs...), nil)
				if st != 200 || !strings.HasPrefix(got, tc.want) || !strings.Contains(got, tc.refusal) {
					t.Errorf("GET %s: status %d, %q; want %q…%q", tc.url, st, got, tc.want, tc.refusal)
				}
				if strings.Count(got, "fetch "+tc.url) > 1 {
					t.Errorf("the message names the URL twice: %q", got)
				}
			})
		}
	}
	if n := forbiddenHits.Load(); n != 0 {
		t.Errorf("the forbidden server was reached %d times", n)
	}
}
