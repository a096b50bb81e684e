package isolation

// This file holds the cgroup v2 side: finding a writable cgroup v2
// hierarchy with the memory and pids controllers, making the parent of the
// tenants' cgroups, and one cgroup per unit with memory.max and pids.max.
// A child is started straight into its cgroup (clone3 CLONE_INTO_CGROUP),
// so it never runs unbounded.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cgroupParent is the cgroup under which each unit gets its own:
// <our cgroup>/fcgihost-<pid>.
type cgroupParent struct {
	dir string
}

// unitCgroup is one unit's cgroup.
type unitCgroup struct {
	dir string
}

// setupCgroups finds this process's cgroup v2 directory and makes the
// tenants' parent under it with the memory and pids controllers enabled.
// When this process's own cgroup holds processes (so, by the "no internal
// processes" rule, it cannot delegate controllers) the host moves itself
// into a leaf cgroup "fcgihost-<pid>-host" next to the tenants', as a
// systemd service with Delegate=yes is expected to. Any failure means no
// cgroups (rlimits then).
func setupCgroups() (*cgroupParent, error) {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	mnt := cgroup2Mount(mountinfo)
	if mnt == "" {
		return nil, errors.New("no cgroup2 file system mounted")
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	rel, ok := cgroup2Path(self)
	if !ok {
		return nil, errors.New("this process is in no cgroup v2")
	}
	own := filepath.Join(mnt, rel)
	ctrl, err := os.ReadFile(filepath.Join(own, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	if !hasControllers(string(ctrl), "memory", "pids") {
		return nil, fmt.Errorf("cgroup %s offers controllers %q, not memory and pids", own, strings.TrimSpace(string(ctrl)))
	}
	if err := syscall.Access(own, 2 /* W_OK */); err != nil {
		return nil, fmt.Errorf("cgroup %s is not writable: %w", own, err)
	}
	pid := os.Getpid()
	enable := filepath.Join(own, "cgroup.subtree_control")
	if err := writeFile(enable, "+memory +pids"); err != nil {
		if !errors.Is(err, syscall.EBUSY) {
			return nil, err
		}
		// Processes live in our cgroup: move this one to a leaf.
		leaf := filepath.Join(own, fmt.Sprintf("fcgihost-%d-host", pid))
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if err := writeFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			os.Remove(leaf)
			return nil, err
		}
		if err := writeFile(enable, "+memory +pids"); err != nil {
			return nil, fmt.Errorf("%w (other processes share cgroup %s)", err, own)
		}
	}
	dir := filepath.Join(own, fmt.Sprintf("fcgihost-%d", pid))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+memory +pids"); err != nil {
		os.Remove(dir)
		return nil, err
	}
	return &cgroupParent{dir: dir}, nil
}

// unit makes (or reuses) the cgroup of one unit with its limits.
func (p *cgroupParent) unit(name string, memMax, pidsMax int64) (*unitCgroup, error) {
	dir := filepath.Join(p.dir, safeName(name))
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(memMax, 10)); err != nil {
		return nil, err
	}
	// No swap: past memory.max the kernel kills, it does not page out.
	writeFile(filepath.Join(dir, "memory.swap.max"), "0")
	// The OOM killer takes the whole child, not one of its threads' victims.
	writeFile(filepath.Join(dir, "memory.oom.group"), "1")
	if err := writeFile(filepath.Join(dir, "pids.max"), strconv.FormatInt(pidsMax, 10)); err != nil {
		return nil, err
	}
	return &unitCgroup{dir: dir}, nil
}

// remove removes the tenants' parent (its unit cgroups must be empty).
func (p *cgroupParent) remove() {
	ents, _ := os.ReadDir(p.dir)
	for _, e := range ents {
		if e.IsDir() {
			os.Remove(filepath.Join(p.dir, e.Name()))
		}
	}
	os.Remove(p.dir)
}

// open returns a descriptor of the cgroup for CLONE_INTO_CGROUP.
func (u *unitCgroup) open() (*os.File, error) {
	return os.OpenFile(u.dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
}

// oomKills is the number of processes the kernel killed in the cgroup
// for passing memory.max.
func (u *unitCgroup) oomKills() int64 {
	b, err := os.ReadFile(filepath.Join(u.dir, "memory.events"))
	if err != nil {
		return 0
	}
	return parseFlatKeyed(b)["oom_kill"]
}

// memoryCurrent is the cgroup's memory use in bytes.
func (u *unitCgroup) memoryCurrent() int64 {
	b, err := os.ReadFile(filepath.Join(u.dir, "memory.current"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// remove removes the unit's cgroup (it must hold no process).
func (u *unitCgroup) remove() { os.Remove(u.dir) }

// cgroup2Mount returns the mount point of the cgroup2 file system from
// /proc/self/mountinfo, preferring /sys/fs/cgroup.
func cgroup2Mount(mountinfo []byte) string {
	found := ""
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 || qf[0] != "cgroup2" {
			continue
		}
		mp := unescapeMount(pf[4])
		if mp == "/sys/fs/cgroup" {
			return mp
		}
		if found == "" {
			found = mp
		}
	}
	return found
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroup2Path returns this process's cgroup v2 path from /proc/self/cgroup
// (the "0::/path" line).
func cgroup2Path(b []byte) (string, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, true
		}
	}
	return "", false
}

func hasControllers(list string, want ...string) bool {
	have := strings.Fields(list)
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// parseFlatKeyed parses a cgroup "key value" file.
func parseFlatKeyed(b []byte) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				out[f[0]] = n
			}
		}
	}
	return out
}

func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", s, path, err)
	}
	return nil
}
