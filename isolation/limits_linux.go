package isolation

// This file holds the rlimits a child applies to itself, and the readers
// of /proc the supervisor samples.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// envMemory carries a child's memory budget in bytes when no cgroup bounds
// it. The child's init (this package is linked into every fcgihost) sets
// its rlimits from it before main runs, so before any script is loaded,
// and removes it from the environment.
const envMemory = "FCGIHOST_ISOLATION_MEMORY"

// asSlack is what RLIMIT_AS allows above the address space at start plus
// twice the budget: the Go runtime reserves address space far beyond what
// it uses (heap arenas, the page allocator's index), so RLIMIT_AS is only
// a backstop; RLIMIT_DATA is the limit.
const asSlack = 1 << 30

func init() {
	v, ok := os.LookupEnv(envMemory)
	if !ok {
		return
	}
	os.Unsetenv(envMemory)
	budget, err := strconv.ParseInt(v, 10, 64)
	if err != nil || budget <= 0 {
		fmt.Fprintf(os.Stderr, "fcgihost: bad %s=%q\n", envMemory, v)
		os.Exit(2)
	}
	if err := applyMemoryLimit(budget); err != nil {
		fmt.Fprintf(os.Stderr, "fcgihost: memory limit: %v\n", err)
		os.Exit(2)
	}
}

// applyMemoryLimit sets RLIMIT_DATA to the private writable memory this
// process has mapped now (the Go runtime's start-up mappings, ~40 MB of
// address space of which little is touched) plus budget, and RLIMIT_AS
// to the address space now plus twice the budget plus asSlack. Past
// RLIMIT_DATA the kernel refuses the runtime more memory and the process
// dies with "fatal error: runtime: out of memory".
func applyMemoryLimit(budget int64) error {
	st, err := readStatus("self")
	if err != nil {
		return err
	}
	data := st["VmData"] + budget
	if err := setrlimit(syscall.RLIMIT_DATA, data); err != nil {
		return fmt.Errorf("RLIMIT_DATA %d: %w", data, err)
	}
	as := st["VmSize"] + 2*budget + asSlack
	if err := setrlimit(syscall.RLIMIT_AS, as); err != nil {
		return fmt.Errorf("RLIMIT_AS %d: %w", as, err)
	}
	return nil
}

func setrlimit(res int, n int64) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(res, &cur); err != nil {
		return err
	}
	lim := uint64(n)
	if cur.Max != ^uint64(0) && cur.Max < lim {
		lim = cur.Max // never raise a hard limit
	}
	return syscall.Setrlimit(res, &syscall.Rlimit{Cur: lim, Max: lim})
}

// readStatus reads the Vm* sizes of /proc/PID/status in bytes, and Uid
// and Gid (real ids) as numbers.
func readStatus(pid string) (map[string]int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return nil, err
	}
	return parseStatus(b), nil
}

func parseStatus(b []byte) map[string]int64 {
	out := map[string]int64{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			n *= 1024
		}
		out[string(name)] = n
	}
	return out
}

// rssOf is the resident size of process pid in bytes (0 if unknown).
func rssOf(pid int) int64 {
	st, err := readStatus(strconv.Itoa(pid))
	if err != nil {
		return 0
	}
	return st["VmRSS"]
}
