//go:build !linux

package isolation

// Process isolation needs Linux (rlimits applied by the child, cgroup v2,
// namespaces, PR_SET_PDEATHSIG); elsewhere a child cannot be started and
// an isolated app answers 503 with the reason in the log.

import (
	"errors"
	"os"
	"syscall"
)

var errNotLinux = errors.New("process isolation needs Linux")

const envMemory = "FCGIHOST_ISOLATION_MEMORY"

func sysProcAttr(identity, []string, *os.File) (*syscall.SysProcAttr, error) {
	return nil, errNotLinux
}

type cgroupParent struct{ dir string }

type unitCgroup struct{ dir string }

func setupCgroups() (*cgroupParent, error) { return nil, errNotLinux }

func (p *cgroupParent) unit(string, int64, int64) (*unitCgroup, error) { return nil, errNotLinux }
func (p *cgroupParent) remove()                                        {}
func (u *unitCgroup) open() (*os.File, error)                          { return nil, errNotLinux }
func (u *unitCgroup) oomKills() int64                                  { return 0 }
func (u *unitCgroup) memoryCurrent() int64                             { return 0 }
func (u *unitCgroup) remove()                                          {}

func rssOf(int) int64 { return 0 }

func writeFile(string, string) error { return errNotLinux }
