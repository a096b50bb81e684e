//go:build linux

package isolation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestV1Dir finds this process's group in a cgroup v1 hierarchy from
// mountinfo and /proc/self/cgroup, as a container shows them (the memory
// controller mounted at its own directory, the process in a nested group).
func TestV1Dir(t *testing.T) {
	root := t.TempDir()
	mnt := filepath.Join(root, "memory")
	group := filepath.Join(mnt, "process_api", "abc")
	if err := os.MkdirAll(group, 0o755); err != nil {
		t.Fatal(err)
	}
	mountinfo := strings.Join([]string{
		"30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
		"34 30 0:31 / " + mnt + " rw,relatime - cgroup cgroup rw,memory",
		"38 30 0:35 / " + filepath.Join(root, "pids") + " rw,relatime - cgroup cgroup rw,pids",
		"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
	}, "\n")
	self := "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n0::/\n"
	got, err := v1Dir([]byte(mountinfo), []byte(self), "memory")
	if err != nil || got != group {
		t.Fatalf("memory: %q, %v; want %q", got, err, group)
	}
	if _, err := v1Dir([]byte(mountinfo), []byte(self), "blkio"); err == nil {
		t.Error("an unmounted controller was found")
	}
	// A mount that shows the group itself as its root (a container's
	// cgroup namespace): the mount point is the group.
	nsMount := "34 30 0:31 /process_api/abc " + mnt + " rw - cgroup cgroup rw,memory"
	if got, err := v1Dir([]byte(nsMount), []byte(self), "memory"); err != nil || got != mnt {
		t.Errorf("namespaced mount: %q, %v; want %q", got, err, mnt)
	}
}
