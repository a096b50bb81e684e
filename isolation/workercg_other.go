//go:build !linux

package isolation

import "os"

// CgroupLimiter needs Linux.
type CgroupLimiter struct{}

// CgroupUnit needs Linux.
type CgroupUnit struct{}

// NewCgroupLimiter fails: cgroups need Linux.
func NewCgroupLimiter(mem, pidsMax int64) (*CgroupLimiter, error) { return nil, errNotLinux }

func (l *CgroupLimiter) Kind() string                          { return "" }
func (l *CgroupLimiter) Unit(name string) (*CgroupUnit, error) { return nil, errNotLinux }
func (l *CgroupLimiter) Close()                                {}
func (u *CgroupUnit) CloneFD() (*os.File, error)               { return nil, nil }
func (u *CgroupUnit) Attach(pid int) error                     { return errNotLinux }
func (u *CgroupUnit) OOMKills() int64                          { return 0 }
func (u *CgroupUnit) FailCount() int64                         { return 0 }
func (u *CgroupUnit) MemoryCurrent() int64                     { return 0 }
func (u *CgroupUnit) Dir() string                              { return "" }
func (u *CgroupUnit) Remove()                                  {}

// MemoryLimitEnv is empty: rlimits are applied on Linux only.
func MemoryLimitEnv(budget int64) string { return "" }
