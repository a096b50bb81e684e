package isolation

// This file holds how a child is forked on Linux: its own process group,
// killed if the host dies, its user and group with no supplementary
// groups, its namespaces, and its cgroup from the first instruction.

import (
	"fmt"
	"os"
	"syscall"
)

var namespaceFlags = map[string]uintptr{
	"mount": syscall.CLONE_NEWNS,
	"pid":   syscall.CLONE_NEWPID,
	"net":   syscall.CLONE_NEWNET,
	"ipc":   syscall.CLONE_NEWIPC,
	"uts":   syscall.CLONE_NEWUTS,
}

func sysProcAttr(id identity, ns []string, cg *os.File) (*syscall.SysProcAttr, error) {
	a := &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C at the host's terminal reaches
		// the host, which stops its children in order.
		Setpgid: true,
		// A host that dies (kill -9) takes its children with it.
		Pdeathsig: syscall.SIGKILL,
	}
	for _, n := range ns {
		f, ok := namespaceFlags[n]
		if !ok {
			return nil, fmt.Errorf("unknown namespace %q", n)
		}
		a.Cloneflags |= f
	}
	if id.drop {
		a.Credential = &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: []uint32{}}
	}
	if cg != nil {
		a.UseCgroupFD = true
		a.CgroupFD = int(cg.Fd())
	}
	return a, nil
}
