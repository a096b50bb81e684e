package e2e

// This file checks the systemd units of docs/deploy: systemd-analyze
// verify accepts them, and the service's ExecStart, started the way socket
// activation starts it (systemd-socket-activate passes the socket as
// LISTEN_FDS), serves the apps on that socket and opens no listener of its
// own.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// unitValue returns the value of key in a rendered unit file.
func unitValue(t *testing.T, unit, key string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			return v
		}
	}
	t.Fatalf("unit has no %s= line:\n%s", key, unit)
	return ""
}

func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	bin := testutil.Binary(t)
	apps := frontApps(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "fcgihost.sock")
	vars := map[string]string{"FCGIHOST": bin, "APPS": apps, "SOCKET": sock}
	service := testutil.Render(t, "fcgihost.service", vars)
	socket := testutil.Render(t, "fcgihost.socket", vars)
	testutil.WriteFile(t, filepath.Join(dir, "fcgihost.service"), service, 0o644)
	testutil.WriteFile(t, filepath.Join(dir, "fcgihost.socket"), socket, 0o644)

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("systemd-analyze is not installed")
			}
			t.Skip("systemd-analyze is not installed; the units are not verified")
		}
		cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "fcgihost.socket"), filepath.Join(dir, "fcgihost.service"))
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("socket activation", func(t *testing.T) {
		activate := testutil.Need(t, "systemd-socket-activate")
		if got := unitValue(t, socket, "ListenStream"); got != sock {
			t.Fatalf("ListenStream=%s, want the socket %s", got, sock)
		}
		argv := strings.Fields(unitValue(t, service, "ExecStart"))
		p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, activate, append([]string{"-l", sock, "--"}, argv...)...)
		testutil.WaitDial(t, "unix:"+sock, 10*time.Second, p)
		h := &testutil.Host{Proc: p, FCGI: "unix:" + sock, Dir: dir}
		got := viaFastCGI(t, h, "env.lua", cgiReq{method: "GET", query: "x=1"})
		if got.status != 200 || !strings.Contains(got.body, `"engine":"lua"`) || !strings.Contains(got.body, `"x":"1"`) {
			t.Fatalf("through the activated socket: %s", got)
		}
		testutil.Eventually(t, 10*time.Second, "fcgihost reports its listeners", func() bool {
			return strings.Contains(p.Output(), "FastCGI on")
		})
		out := p.Output()
		if n := strings.Count(out, "FastCGI on"); n != 1 || strings.Contains(out, "HTTP on") {
			t.Errorf("want exactly the activated socket and no HTTP listener:\n%s", out)
		}
	})
}
