package isolation

// This file holds the kernel memory limits of a master's worker processes
// (docs/processes.md): a cgroup per worker under cgroup v2 where a
// writable hierarchy offers the memory and pids controllers (the code of
// cgroup_linux.go), else under cgroup v1's memory controller (and its
// pids controller where mounted), else the rlimits of limits_linux.go.
// A v2 worker is started straight into its cgroup; a v1 worker is moved
// into it by the master before it may load anything (it waits on a pipe).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CgroupLimiter makes one cgroup per worker with a memory limit.
type CgroupLimiter struct {
	kind    string // "cgroup v2" or "cgroup v1"
	mem     int64
	pidsMax int64
	v2      *cgroupParent
	v1mem   string // v1: the parent directory in the memory hierarchy
	v1pids  string // v1: the parent directory in the pids hierarchy ("" if none)
}

// CgroupUnit is one worker's cgroup.
type CgroupUnit struct {
	l     *CgroupLimiter
	v2    *unitCgroup
	mem   string // v1 memory directory
	pids  string // v1 pids directory ("" if none)
	cfile *os.File
}

// NewCgroupLimiter finds a writable cgroup hierarchy for per-worker limits
// of mem bytes and pidsMax tasks: v2 first, then v1. The error says why
// neither is usable (the caller then uses rlimits).
func NewCgroupLimiter(mem, pidsMax int64) (*CgroupLimiter, error) {
	p, err2 := setupCgroups()
	if err2 == nil {
		return &CgroupLimiter{kind: "cgroup v2", mem: mem, pidsMax: pidsMax, v2: p}, nil
	}
	l, err1 := setupCgroupsV1(mem, pidsMax)
	if err1 == nil {
		return l, nil
	}
	return nil, fmt.Errorf("cgroup v2: %v; cgroup v1: %v", err2, err1)
}

// setupCgroupsV1 makes <memory mount>/<our cgroup>/fcgihost-<pid> (and the
// same under the pids hierarchy when it is mounted and writable).
func setupCgroupsV1(mem, pidsMax int64) (*CgroupLimiter, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	memDir, err := v1Dir(mountinfo, self, "memory")
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("fcgihost-%d", os.Getpid())
	l := &CgroupLimiter{kind: "cgroup v1", mem: mem, pidsMax: pidsMax, v1mem: filepath.Join(memDir, name)}
	if err := os.Mkdir(l.v1mem, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("memory controller: %w", err)
	}
	// Children inherit the hierarchy's accounting.
	writeFile(filepath.Join(l.v1mem, "memory.use_hierarchy"), "1")
	if pidsDir, err := v1Dir(mountinfo, self, "pids"); err == nil {
		d := filepath.Join(pidsDir, name)
		if err := os.Mkdir(d, 0o755); err == nil || errors.Is(err, os.ErrExist) {
			l.v1pids = d
		}
	}
	return l, nil
}

// v1Dir is this process's directory in the cgroup v1 hierarchy of
// controller, which must be mounted and writable.
func v1Dir(mountinfo, self []byte, controller string) (string, error) {
	mnt, root := "", ""
	for _, line := range strings.Split(string(mountinfo), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || qf[0] != "cgroup" {
			continue
		}
		for _, o := range strings.Split(qf[2], ",") {
			if o == controller {
				mnt, root = unescapeMount(pf[4]), pf[3]
			}
		}
	}
	if mnt == "" {
		return "", fmt.Errorf("no cgroup v1 %s hierarchy mounted", controller)
	}
	rel := ""
	found := false
	for _, line := range strings.Split(string(self), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				rel, found = f[2], true
			}
		}
	}
	if !found {
		return "", fmt.Errorf("this process is in no cgroup v1 %s group", controller)
	}
	// The mount may show a subtree (a container's view): its root is the
	// mount's root field.
	if root != "/" && strings.HasPrefix(rel, root) {
		rel = strings.TrimPrefix(rel, root)
	}
	dir := filepath.Join(mnt, rel)
	if _, err := os.Stat(dir); err != nil {
		// The container shows its own group as the mount's root.
		dir = mnt
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return "", fmt.Errorf("cgroup %s is not writable: %w", dir, err)
	}
	return dir, nil
}

// Kind says which hierarchy bounds the workers.
func (l *CgroupLimiter) Kind() string { return l.kind }

// Unit makes the cgroup of one worker.
func (l *CgroupLimiter) Unit(name string) (*CgroupUnit, error) {
	u := &CgroupUnit{l: l}
	if l.v2 != nil {
		c, err := l.v2.unit(name, l.mem, l.pidsMax)
		if err != nil {
			return nil, err
		}
		u.v2 = c
		return u, nil
	}
	u.mem = filepath.Join(l.v1mem, safeName(name))
	if err := os.Mkdir(u.mem, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	if err := writeFile(filepath.Join(u.mem, "memory.limit_in_bytes"), strconv.FormatInt(l.mem, 10)); err != nil {
		os.Remove(u.mem)
		return nil, err
	}
	// No swap past the limit where the kernel accounts it.
	writeFile(filepath.Join(u.mem, "memory.memsw.limit_in_bytes"), strconv.FormatInt(l.mem, 10))
	writeFile(filepath.Join(u.mem, "memory.swappiness"), "0")
	if l.v1pids != "" {
		d := filepath.Join(l.v1pids, safeName(name))
		if err := os.Mkdir(d, 0o755); err == nil || errors.Is(err, os.ErrExist) {
			if writeFile(filepath.Join(d, "pids.max"), strconv.FormatInt(l.pidsMax, 10)) == nil {
				u.pids = d
			} else {
				os.Remove(d)
			}
		}
	}
	return u, nil
}

// CloneFD is the descriptor to start a v2 worker in its cgroup
// (SysProcAttr.CgroupFD); nil under v1. The unit closes it on Attach or
// Remove.
func (u *CgroupUnit) CloneFD() (*os.File, error) {
	if u.v2 == nil {
		return nil, nil
	}
	f, err := u.v2.open()
	if err != nil {
		return nil, err
	}
	u.cfile = f
	return f, nil
}

// Attach moves process pid into the unit (v1; v2 started it there).
func (u *CgroupUnit) Attach(pid int) error {
	if u.cfile != nil {
		u.cfile.Close()
		u.cfile = nil
	}
	if u.v2 != nil {
		return nil
	}
	if err := writeFile(filepath.Join(u.mem, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return err
	}
	if u.pids != "" {
		if err := writeFile(filepath.Join(u.pids, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// OOMKills is the number of processes the kernel killed in the unit for
// passing its memory limit.
func (u *CgroupUnit) OOMKills() int64 {
	if u.v2 != nil {
		return u.v2.oomKills()
	}
	b, err := os.ReadFile(filepath.Join(u.mem, "memory.oom_control"))
	if err != nil {
		return 0
	}
	return parseFlatKeyed(b)["oom_kill"]
}

// FailCount is v1's memory.failcnt: how many times the limit was hit (0
// under v2).
func (u *CgroupUnit) FailCount() int64 {
	if u.v2 != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(u.mem, "memory.failcnt"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// MemoryCurrent is the unit's memory use in bytes.
func (u *CgroupUnit) MemoryCurrent() int64 {
	if u.v2 != nil {
		return u.v2.memoryCurrent()
	}
	b, err := os.ReadFile(filepath.Join(u.mem, "memory.usage_in_bytes"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// Dir is the unit's directory (the memory hierarchy's under v1).
func (u *CgroupUnit) Dir() string {
	if u.v2 != nil {
		return u.v2.dir
	}
	return u.mem
}

// Remove removes the unit; its process must have exited (a reaped
// process may take a moment to leave a v1 group).
func (u *CgroupUnit) Remove() {
	if u.cfile != nil {
		u.cfile.Close()
		u.cfile = nil
	}
	if u.v2 != nil {
		u.v2.remove()
		return
	}
	for _, d := range []string{u.mem, u.pids} {
		if d == "" {
			continue
		}
		for i := 0; i < 50; i++ {
			if err := os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) || !errors.Is(err, syscall.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Close removes the workers' parent groups (their units must be gone).
func (l *CgroupLimiter) Close() {
	if l.v2 != nil {
		l.v2.remove()
		return
	}
	os.Remove(l.v1mem)
	if l.v1pids != "" {
		os.Remove(l.v1pids)
	}
}

// MemoryLimitEnv is the environment entry that makes an fcgihost process
// bound its own memory to budget bytes with rlimits before it loads
// anything (limits_linux.go), for when no cgroup is writable.
func MemoryLimitEnv(budget int64) string {
	return envMemory + "=" + strconv.FormatInt(budget, 10)
}
