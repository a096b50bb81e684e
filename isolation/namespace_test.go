//go:build linux

package isolation

import (
	"os"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/config"
)

// TestNamespaces: a child given namespaces is in new ones (its
// /proc/self/ns links differ from the host's), and it still answers over
// its unix socket with no network of its own.
func TestNamespaces(t *testing.T) {
	needRoot(t)
	cfg := testConfig(t)
	cfg.AppOverrides["boxed"] = config.App{Namespaces: config.Namespaces}
	e := newTestManager(t, cfg, nil)
	b := e.backend(t, fileApp(t, cfg, "boxed"))
	r := get(t, b, "/ns")
	if r.status != 200 {
		t.Fatalf("status %d %q", r.status, r.body.String())
	}
	if len(e.log.lines("namespaces unavailable")) > 0 {
		t.Skip("this kernel does not let the host create namespaces; the child started without them")
	}
	for _, line := range strings.Split(strings.TrimSpace(r.body.String()), "\n") {
		name, child, _ := strings.Cut(line, "=")
		host, err := os.Readlink("/proc/self/ns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if child == "" || child == host {
			t.Errorf("namespace %s: child %q, host %q; want a new one", name, child, host)
		}
	}
}
