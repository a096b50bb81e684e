//go:build linux

package isolation

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fcgihost/fcgihost/config"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (CI runs as root)")
		}
		t.Skip("not root: user and group are not dropped; skipping")
	}
}

// account ids of a system user, or skip.
func sysUser(t *testing.T, name string) (uint32, uint32) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("no user %s on this system: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid)
}

func TestResolveIdentity(t *testing.T) {
	needRoot(t)
	duid, dgid := sysUser(t, "daemon")
	nuid, _ := sysUser(t, "nobody")
	ngid := uint32(nobodyID)
	if g, err := user.LookupGroup("nogroup"); err == nil {
		n, _ := strconv.Atoi(g.Gid)
		ngid = uint32(n)
	}
	daemonDir := openDir(t)
	os.Chown(daemonDir, int(duid), int(dgid))
	rootDir := openDir(t)
	strayDir := openDir(t)
	os.Chown(strayDir, 54321, 54322) // ids with no passwd entry
	for _, tc := range []struct {
		name, user, group, dir string
		uid, gid               uint32
		fallback               bool
		err                    error
	}{
		{name: "owner of the dir", dir: daemonDir, uid: duid, gid: dgid},
		{name: "owner without passwd entry", dir: strayDir, uid: 54321, gid: 54322},
		{name: "root-owned dir gives nobody", dir: rootDir, uid: nuid, gid: ngid, fallback: true},
		{name: "user by name", user: "daemon", dir: rootDir, uid: duid, gid: dgid},
		{name: "user by id", user: strconv.Itoa(int(duid)), dir: rootDir, uid: duid, gid: dgid},
		{name: "numeric user with no entry", user: "40000", dir: rootDir, uid: 40000, gid: 40000},
		{name: "user and group", user: "daemon", group: "nogroup", dir: rootDir, uid: duid, gid: ngid},
		{name: "user root refused", user: "root", dir: daemonDir, err: errRoot},
		{name: "uid 0 refused", user: "0", dir: daemonDir, err: errRoot},
		{name: "group root refused", user: "daemon", group: "root", dir: daemonDir, err: errRoot},
		{name: "unknown user", user: "no-such-user-x", dir: daemonDir, err: user.UnknownUserError("no-such-user-x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := resolveIdentity(tc.user, tc.group, tc.dir, 0)
			if tc.err != nil {
				if err == nil || !errors.Is(err, tc.err) && !strings.Contains(err.Error(), tc.err.Error()) {
					t.Fatalf("err %v; want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !id.drop || id.uid != tc.uid || id.gid != tc.gid || (id.fallback != "") != tc.fallback {
				t.Errorf("identity %+v; want uid %d gid %d drop, fallback %v", id, tc.uid, tc.gid, tc.fallback)
			}
		})
	}
}

func TestResolveIdentity_NotRoot(t *testing.T) {
	id, err := resolveIdentity("daemon", "daemon", t.TempDir(), 1000)
	if err != nil || id.drop {
		t.Errorf("as non-root: %+v, %v; want no drop", id, err)
	}
}

// TestChildIdentity: the child runs as the tenant's uid and gid, with no
// supplementary groups, as the kernel reports in /proc/PID/status.
func TestChildIdentity(t *testing.T) {
	needRoot(t)
	duid, dgid := sysUser(t, "daemon")
	nuid, _ := sysUser(t, "nobody")
	cfg := testConfig(t)
	os.Chown(cfg.Apps, int(duid), int(dgid))
	cfg.AppOverrides["named"] = config.App{User: "nobody", Group: "daemon"}
	e := newTestManager(t, cfg, nil)
	for _, tc := range []struct {
		app      string
		uid, gid uint32
	}{
		{"owned", duid, dgid}, // default: the owner of the app's directory
		{"named", nuid, dgid}, // user and group as configured
	} {
		b := e.backend(t, fileApp(t, cfg, tc.app))
		if r := get(t, b, "/id"); r.body.String() != fmt.Sprintf("%d %d %d %d", tc.uid, tc.gid, tc.uid, tc.gid) {
			t.Errorf("%s: child reports ids %q; want uid %d gid %d", tc.app, r.body.String(), tc.uid, tc.gid)
		}
		pid := b.Stats().PID
		b2, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"Uid":    fmt.Sprintf("%d\t%d\t%d\t%d", tc.uid, tc.uid, tc.uid, tc.uid),
			"Gid":    fmt.Sprintf("%d\t%d\t%d\t%d", tc.gid, tc.gid, tc.gid, tc.gid),
			"Groups": "",
		}
		for _, line := range strings.Split(string(b2), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if w, ok := want[k]; ok {
				if strings.TrimSpace(v) != w {
					t.Errorf("%s: /proc/%d/status %s: %q; want %q", tc.app, pid, k, strings.TrimSpace(v), w)
				}
				delete(want, k)
			}
		}
		if len(want) > 0 {
			t.Errorf("%s: /proc/%d/status lacks %v", tc.app, pid, want)
		}
	}
	// The child's data dir belongs to it.
	e.m.mu.Lock()
	dd := e.m.units["app\x00owned"].sup.spec.dataDir
	e.m.mu.Unlock()
	fi, err := os.Stat(dd)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != duid || st.Gid != dgid || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir %s: owner %d:%d mode %v; want %d:%d 0700", dd, st.Uid, st.Gid, fi.Mode().Perm(), duid, dgid)
	}
}
