package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadString(t *testing.T, toml string) (*Config, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "fcgihost.toml")
	if err := os.WriteFile(f, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(f)
	if err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func TestPools_Parse(t *testing.T) {
	c, err := loadString(t, `
processes = 1
[pool.alice]
apps = ["shop"]
listen = "unix:alice.sock"
user = "alice"
memory_limit = "128MiB"
env = ["TZ=UTC"]

[pool.bob]
roots = ["/srv/bob/*"]
listen = ["127.0.0.1:9101"]
processes = 3
max_requests = 500
socket_mode = "0600"
socket_owner = "www-data"
socket_group = "33"
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PoolNames(); strings.Join(got, ",") != "alice,bob" {
		t.Fatalf("pools %v", got)
	}
	a, b := c.Pools["alice"], c.Pools["bob"]
	if a.Processes != DefaultPoolProcesses || a.User != "alice" || a.MemoryLimit != 128<<20 || len(a.Env) != 1 {
		t.Errorf("alice = %+v", a)
	}
	if !strings.HasPrefix(a.Listen[0], "unix:/") || !strings.HasSuffix(a.Listen[0], "/alice.sock") {
		t.Errorf("alice's relative socket not resolved against the config's dir: %q", a.Listen[0])
	}
	if b.Processes != 3 || b.MaxRequests != 500 || b.Roots[0] != "/srv/bob/*" || b.SocketMode != 0o600 || b.SocketOwner != "www-data" || b.SocketGroup != "33" || a.SocketMode != 0 {
		t.Errorf("bob = %+v", b)
	}
	pc, err := c.ForPool("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.OnlyApps) != 1 || pc.OnlyApps[0] != "shop" || len(pc.Roots) != 0 || pc.Processes != 2 || pc.ProcessMemoryLimit != 128<<20 || pc.Pools != nil {
		t.Errorf("alice's worker config: only_apps %v roots %v processes %d memory %d", pc.OnlyApps, pc.Roots, pc.Processes, pc.ProcessMemoryLimit)
	}
	if pc, _ := c.ForPool("bob"); pc.Apps != "" || len(pc.Roots) != 1 {
		t.Errorf("bob's worker config: apps %q roots %v", pc.Apps, pc.Roots)
	}
}

func TestPools_Errors(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[pool.a]\napps = [\"x\"]\n", `a pool needs its own listen address`},
		{"[pool.a]\nlisten = \"127.0.0.1:1\"\n", `pool "a" serves nothing`},
		{"[pool.a]\napps = [\"x\"]\nlisten = \"127.0.0.1:1\"\n[pool.b]\napps = [\"x\"]\nlisten = \"127.0.0.1:2\"\n", `app "x" is in pools "a" and "b"`},
		{"[pool.a]\napps = [\"x\"]\nlisten = \"127.0.0.1:1\"\nprocesses = 0\n", `must be at least 1`},
		{"[pool.a]\napps = [\"x\"]\nlisten = \"127.0.0.1:1\"\nworkers = 2\n", `unknown`},
		{"pool = 3\n", `must be a table`},
	} {
		_, err := loadString(t, tc.toml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.toml, err, tc.want)
		}
	}
}
