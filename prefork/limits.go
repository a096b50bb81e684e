package prefork

// This file adapts the isolation package's per-worker cgroups and rlimits
// to the Limiter of a Master.

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"

	"github.com/fcgihost/fcgihost/isolation"
)

// workerPidsMax is pids.max of a worker's cgroup: the Go runtime's threads
// and a process-isolated app's children, with room.
const workerPidsMax = 1024

// NewLimiter returns the Limiter of a per-worker memory limit: cgroup v2
// where a writable hierarchy with the memory controller exists, else
// cgroup v1's memory (and pids) controllers, else rlimits (RLIMIT_DATA
// sized as the Go runtime's start plus limit). FCGIHOST_WORKER_LIMIT=rlimit
// in the environment skips the cgroups (tests use it).
func NewLimiter(limit int64, log *slog.Logger) (Limiter, error) {
	if limit <= 0 {
		return nil, nil
	}
	if forced := getenv("FCGIHOST_WORKER_LIMIT"); forced != "rlimit" {
		cg, err := isolation.NewCgroupLimiter(limit, workerPidsMax)
		if err == nil {
			return &cgLimiter{cg: cg}, nil
		}
		log.Warn("no writable cgroup: each worker bounds its memory with rlimits", "err", err)
	}
	if isolation.MemoryLimitEnv(limit) == "" {
		return nil, fmt.Errorf("process_memory_limit needs Linux")
	}
	return &rlimitLimiter{limit: limit}, nil
}

type cgLimiter struct{ cg *isolation.CgroupLimiter }

func (l *cgLimiter) Kind() string { return l.cg.Kind() }

func (l *cgLimiter) New(name string) (Limit, error) {
	u, err := l.cg.Unit(name)
	if err != nil {
		return nil, err
	}
	return &cgLimit{u: u}, nil
}

// Close removes the parent groups.
func (l *cgLimiter) Close() { l.cg.Close() }

type cgLimit struct{ u *isolation.CgroupUnit }

func (c *cgLimit) Prepare(cmd *exec.Cmd) error {
	f, err := c.u.CloneFD()
	if err != nil {
		return err
	}
	if f != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(f.Fd())
	}
	return nil
}

func (c *cgLimit) Attach(pid int) error { return c.u.Attach(pid) }
func (c *cgLimit) OOMKills() int64      { return c.u.OOMKills() }
func (c *cgLimit) MemoryCurrent() int64 { return c.u.MemoryCurrent() }
func (c *cgLimit) Release()             { c.u.Remove() }
func (c *cgLimit) Describe() string     { return c.u.Dir() }
func (c *cgLimit) FailCount() int64     { return c.u.FailCount() }

type rlimitLimiter struct{ limit int64 }

func (l *rlimitLimiter) Kind() string { return "rlimit" }
func (l *rlimitLimiter) New(string) (Limit, error) {
	return &rlimitLimit{env: isolation.MemoryLimitEnv(l.limit)}, nil
}

type rlimitLimit struct{ env string }

func (r *rlimitLimit) Prepare(cmd *exec.Cmd) error {
	cmd.Env = append(cmd.Env, r.env)
	return nil
}
func (r *rlimitLimit) Attach(int) error     { return nil }
func (r *rlimitLimit) OOMKills() int64      { return 0 }
func (r *rlimitLimit) MemoryCurrent() int64 { return 0 }
func (r *rlimitLimit) Release()             {}

var getenv = os.Getenv
