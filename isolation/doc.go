// Package isolation owns process isolation (docs/reference.md §7, docs/isolation.md):
// an app configured with isolation = "process" is served by a child
// fcgihost process — the same binary, running `fcgihost serve` on a private
// unix socket with a generated config limited to that one app (or, for the
// scripts of a shared-hosting root, that one root) — and the serving
// process forwards each of the app's requests to it over FastCGI.
//
// A Manager makes one Supervisor per isolated unit (an app of the apps dir,
// or a root directory with all its scripts) and hands the registry a
// Backend for each app. A Supervisor owns its child processes:
//   - it starts a child with the kernel limits of the unit: where cgroup v2
//     is writable a cgroup per unit with memory.max = memory_limit and
//     pids.max, else setrlimit(RLIMIT_DATA) sized as the Go runtime's own
//     start-up mappings plus memory_limit (and a loose RLIMIT_AS), applied
//     by the child before any script is loaded; GOMEMLIMIT in both cases;
//   - as the unit's user and group when the host runs as root (default: the
//     owner of the app's directory; never root), in the app's directory,
//     with an environment cleared but for the config's env key, and in the
//     Linux namespaces the config names;
//   - it restarts a child that dies with exponential backoff, and after
//     CrashLoop failures in a row marks the unit failed (log and Stats)
//     while it keeps retrying at the longest backoff;
//   - it recycles a child after max_requests requests or when its resident
//     size passes max_rss: a new child is started and made current before
//     the old one, its requests in flight finished, is stopped, so no
//     request is dropped;
//   - on Close it lets requests in flight finish, sends SIGTERM and waits.
//
// workercg_linux.go lends the same kernel limits to a master's worker
// processes (docs/processes.md): CgroupLimiter makes a cgroup per worker
// under cgroup v2, else under cgroup v1's memory and pids controllers, and
// MemoryLimitEnv asks a process for the rlimits of limits_linux.go.
//
// The child watches its own files, so hot reload works as in-process; a
// SIGHUP of the host makes a new Manager and so new children.
package isolation
