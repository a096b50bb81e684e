package e2e

// Secrets under isolation = "process" with Redis (issue 15): the config a
// tenant's child reads (a file the tenant's uid owns) holds a Redis user
// of that tenant's own, never the host's password, and that user cannot
// read another tenant's keys.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// startRedisPass starts a private redis-server requiring password pass and
// returns its address.
func startRedisPass(t *testing.T, pass string) string {
	t.Helper()
	bin := testutil.Need(t, "redis-server")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testutil.Start(t, dir, nil, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--requirepass", pass)
	c := redis.NewClient(&redis.Options{Addr: addr, Password: pass})
	defer c.Close()
	testutil.Eventually(t, 20*time.Second, "redis-server answers", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
	return addr
}

func TestKV_RedisSecretsUnderIsolation(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI runs as root)")
		}
		t.Skip("not root: children cannot change user; skipping")
	}
	const adminPass = "host-admin-pw-9f3a"
	addr := startRedisPass(t, adminPass)
	apps := openApps(t)
	www := filepath.Join(filepath.Dir(apps), "www")
	tenants := []struct {
		name string
		uid  int
	}{{"alice", 42001}, {"bob", 42002}}
	for _, tn := range tenants {
		root := filepath.Join(www, tn.name, "public_html")
		writeFile(t, filepath.Join(root, "note.lua"), `return function(req, res)
  kv.set("secret", "of `+tn.name+`")
  res:write(kv.get("secret"))
end
`)
		for _, d := range []string{filepath.Join(www, tn.name), root} {
			os.Chmod(d, 0o755)
			os.Chown(d, tn.uid, tn.uid)
		}
	}
	os.Chmod(www, 0o755)
	_, c := startHost(t, apps, fmt.Sprintf(`status_path = "/status"
kv = "redis://:%s@%s/0"
isolation = "process"
workers = 1
roots = [%q]
`, adminPass, addr, filepath.Join(www, "*", "public_html")))
	childURL := map[string]string{}
	for _, tn := range tenants {
		script := filepath.Join(www, tn.name, "public_html", "note.lua")
		p := params("/note.lua")
		p["SCRIPT_FILENAME"] = script
		p["DOCUMENT_ROOT"] = filepath.Dir(script)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, body, err := do(ctx, c, p)
		cancel()
		if err != nil || st != 200 || body != "of "+tn.name {
			t.Fatalf("%s: %d %q %v", tn.name, st, body, err)
		}
		s := isoStatus(t, c)[script]
		if s == nil || s.PID == 0 {
			t.Fatalf("%s: no child in the status page", tn.name)
		}
		// What the tenant can read: the child's config file, which it owns.
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.PID))
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		var cfgPath string
		for i, a := range args {
			if a == "--config" && i+1 < len(args) {
				cfgPath = args[i+1]
			}
		}
		cfg, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatalf("%s: child config %q: %v", tn.name, cfgPath, err)
		}
		if strings.Contains(string(cfg), adminPass) {
			t.Errorf("%s: the child's config holds the host's Redis password:\n%s", tn.name, cfg)
		}
		m := regexp.MustCompile(`(?m)^kv = "(rediss?://[^"]+)"`).FindStringSubmatch(string(cfg))
		if m == nil {
			t.Fatalf("%s: no kv URL in the child's config:\n%s", tn.name, cfg)
		}
		childURL[tn.name] = m[1]
	}
	// With alice's credentials (what she can read), her key and not bob's.
	key := func(tenant string) string {
		app := filepath.Join(www, tenant, "public_html", "note.lua")
		return "fcgihost:" + strconv.Itoa(len(app)) + ":" + app + ":k:secret"
	}
	opt, err := redis.ParseURL(childURL["alice"])
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	ctx := context.Background()
	if v, err := rc.Get(ctx, key("alice")).Result(); err != nil || v != "of alice" {
		t.Errorf("alice's own key with her credentials: %q %v", v, err)
	}
	for _, cmd := range [][]any{{"GET", key("bob")}, {"KEYS", "*"}, {"CONFIG", "GET", "requirepass"}, {"ACL", "LIST"}} {
		if v, err := rc.Do(ctx, cmd...).Result(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%v with alice's credentials: %v %v, want NOPERM", cmd, v, err)
		}
	}
}
