package e2e

// The embedded kv store shared by several fcgihost processes (issue 15):
// Apache mod_fcgid's process class (the docs/deploy recipe verbatim, with
// its FcgidMaxProcessesPerClass 4) and spawn-fcgi -F 4 each run the bundled
// guestbooks on one data_dir, and 200 concurrent posts to each make 200
// entries, without an error.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/fcgihost/fcgihost/kv"
)

const concurrentPosts = 200

// sharedDataDir makes a data_dir the front end's user (www-data under
// root) can write.
func sharedDataDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(testutil.OpenDir(t), "data")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		mustRun(t, "chown", "www-data:www-data", d)
	}
	return d
}

// copyGuestbooks puts the bundled guestbooks into docroot.
func copyGuestbooks(t *testing.T, docroot string) {
	t.Helper()
	for _, f := range []string{"guestbook.js", "guestbook.lua"} {
		b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "apps", f))
		if err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(docroot, f), string(b), 0o644)
	}
}

// postAll sends n concurrent posts through post and fails the test with
// the first few errors.
func postAll(t *testing.T, n int, post func(i int) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := post(i); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d posts failed; first: %s", len(errs), n, strings.Join(errs[:min(3, len(errs))], "\n"))
	}
	t.Logf("%d concurrent posts in %v", n, time.Since(start).Round(time.Millisecond))
}

// checkGuestbook checks the JSON view: total n, the newest entry is number
// n (no id lost or repeated).
func checkGuestbook(t *testing.T, body []byte, n int) {
	t.Helper()
	var g struct {
		Total   int
		Entries []struct{ ID int }
	}
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("guestbook JSON: %v: %s", err, testutil.Tail(string(body), 300))
	}
	if g.Total != n || len(g.Entries) == 0 || g.Entries[0].ID != n {
		t.Fatalf("guestbook: total %d, newest id %v; want %d and %d", g.Total, g.Entries[:min(1, len(g.Entries))], n, n)
	}
}

func TestKV_MultiProcess_ApacheFcgid(t *testing.T) {
	t.Parallel()
	data := sharedDataDir(t)
	fe, docroot := startFcgidWith(t, "js", fmt.Sprintf("workers = 2\ndata_dir = %q\n", data))
	copyGuestbooks(t, docroot)
	// A connection per post: a kept-alive one that Apache closes after its
	// KeepAliveTimeout (5 s) while idle in the pool would fail the next
	// POST sent on it with EOF (not retried: POST is not idempotent).
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, app := range []string{"guestbook.js", "guestbook.lua"} {
		t.Run(app, func(t *testing.T) {
			u := fe.URL + "/" + app
			postAll(t, concurrentPosts, func(i int) error {
				form := url.Values{"name": {fmt.Sprint("n", i)}, "message": {fmt.Sprint("post ", i)}}
				r, err := client.PostForm(u, form)
				if err != nil {
					return err
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if r.StatusCode != http.StatusSeeOther {
					return fmt.Errorf("post %d: status %d: %s", i, r.StatusCode, testutil.Tail(string(b), 300))
				}
				return nil
			})
			r := testutil.Get(t, u+"?format=json")
			checkGuestbook(t, []byte(r.Body), concurrentPosts)
		})
	}
	if log := fe.ErrorLog(); strings.Contains(log, "kv") && strings.Contains(log, "timeout") {
		t.Errorf("kv errors in Apache's error log:\n%s", testutil.Tail(log, 2000))
	}
	// Several processes served: mod_fcgid started more than one.
	if n := strings.Count(fe.ErrorLog(), "FastCGI listening"); n > 0 && n < 2 {
		t.Logf("only %d fcgihost process logged its start", n)
	}
}

func TestKV_MultiProcess_SpawnFcgi(t *testing.T) {
	t.Parallel()
	spawn := testutil.Need(t, "spawn-fcgi")
	bin := testutil.Binary(t)
	dir := t.TempDir()
	docroot := filepath.Join(dir, "www")
	copyGuestbooks(t, docroot)
	cfg := filepath.Join(dir, "fcgihost.toml")
	testutil.WriteFile(t, cfg, fmt.Sprintf("workers = 2\ndata_dir = %q\n", filepath.Join(dir, "data")), 0o644)
	sock, pidFile := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "spawn.pid")
	// spawn-fcgi forks the 4 children, writes their pids and exits; their
	// output goes to a file (a pipe would outlive spawn-fcgi).
	logPath := filepath.Join(dir, "children.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(spawn, "-F", "4", "-s", sock, "-P", pidFile, "--", bin)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	cmd.Env = append(os.Environ(), "FCGIHOST_CONFIG="+cfg)
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("spawn-fcgi: %v: %s", err, b)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file: %q", raw)
		}
		pids = append(pids, pid)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if len(pids) != 4 {
		t.Fatalf("spawn-fcgi started %d processes (%q), want 4", len(pids), raw)
	}
	c := &fcgi.Client{Addr: "unix:" + sock}
	defer c.Close()
	do := func(app, method, query, body string) (int, []byte, error) {
		params := map[string]string{
			"REQUEST_METHOD": method, "SCRIPT_FILENAME": filepath.Join(docroot, app), "DOCUMENT_ROOT": docroot,
			"SCRIPT_NAME": "/" + app, "REQUEST_URI": "/" + app + query, "QUERY_STRING": strings.TrimPrefix(query, "?"),
			"SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
			"CONTENT_LENGTH": strconv.Itoa(len(body)),
		}
		if body != "" {
			params["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := c.Do(ctx, &fcgi.ClientRequest{Params: params, Body: strings.NewReader(body)})
		if err != nil {
			return 0, nil, err
		}
		b, err := r.ReadAll()
		return r.Status, b, err
	}
	for _, app := range []string{"guestbook.js", "guestbook.lua"} {
		t.Run(app, func(t *testing.T) {
			postAll(t, concurrentPosts, func(i int) error {
				form := url.Values{"name": {fmt.Sprint("n", i)}, "message": {fmt.Sprint("post ", i)}}.Encode()
				st, b, err := do(app, "POST", "", form)
				if err == nil && st != http.StatusSeeOther {
					err = fmt.Errorf("status %d: %s", st, testutil.Tail(string(b), 300))
				}
				if err != nil {
					return fmt.Errorf("post %d: %w", i, err)
				}
				return nil
			})
			st, b, err := do(app, "GET", "?format=json", "")
			if err != nil || st != 200 {
				t.Fatalf("GET: %d %v: %s", st, err, b)
			}
			checkGuestbook(t, b, concurrentPosts)
		})
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Errorf("process %d is gone: %v", pid, err)
		}
	}
	if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "level=ERROR") {
		t.Errorf("errors in the processes' log:\n%s", testutil.Tail(string(b), 2000))
	}
}

// TestKV_MigratesOldStore writes a data_dir with the previous embedded
// backend (bbolt's kv.db, through kv.OpenBolt: the old format, as the old
// binary wrote it) holding two guestbook entries, starts the binary on it,
// and finds them; the old file is kept as kv.db.migrated and the
// migration is in the log.
func TestKV_MigratesOldStore(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	old, err := kv.OpenBolt(filepath.Join(data, "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, app := range []string{"guestbook", "guestbook.lua"} {
		ns := old.Namespace(app, kv.Quota{})
		for id, name := range []string{"Ada", "Grace"} {
			e := fmt.Sprintf(`{"id":%d,"name":%q,"message":"old","time":"2026-01-01T00:00:00Z"}`, id+1, name)
			if err := ns.Set(ctx, fmt.Sprintf("entry:%012d", int64(1e12)-int64(id+1)), e, 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range []string{"seq", "count"} {
			if err := ns.Set(ctx, k, "2", 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	h := testutil.StartHost(t, testutil.HostOptions{HTTP: true,
		Config: fmt.Sprintf("only_apps = [\"guestbook\", \"guestbook.lua\"]\ndata_dir = %q\n", data)})
	for _, app := range []string{"guestbook", "guestbook.lua"} {
		r := testutil.Get(t, h.HTTP+"/"+app+"?format=json")
		var g struct {
			Total   int
			Entries []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(r.Body), &g); err != nil || g.Total != 2 || len(g.Entries) != 2 || g.Entries[0].Name != "Grace" {
			t.Fatalf("%s after the migration: %v %s", app, err, testutil.Tail(r.Body, 300))
		}
	}
	if _, err := os.Stat(filepath.Join(data, "kv.db.migrated")); err != nil {
		t.Errorf("old store not kept: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "the migration is logged", func() bool {
		return strings.Contains(h.Output(), "migrating the bbolt store to SQLite") && strings.Contains(h.Output(), "keys=8")
	})
}
