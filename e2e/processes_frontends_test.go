package e2e

// The process model under front ends that start fcgihost themselves with
// the listening socket on fd 0 — Apache mod_fcgid (FcgidWrapper) and
// lighttpd (bin-path), each with its docs/deploy recipe verbatim: the
// process they start is a master whose workers serve JS and Lua, and a
// worker killed with SIGKILL under load costs at most the requests in
// flight on it, while the master the front end knows keeps its pid.

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// fcgihostTree maps each fcgihost master whose environment names conf
// (FCGIHOST_CONFIG, as both recipes set it) to its live workers.
func fcgihostTree(t *testing.T, conf string) map[int][]int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("FCGIHOST_CONFIG=" + conf + "\x00")
	masters := map[int][]int{}
	workers := map[int]int{} // worker → its parent
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if f[0] == "Z" || f[0] == "X" {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmd), "\x00")
		if len(args) > 1 && args[1] == "__worker" {
			ppid, _ := strconv.Atoi(f[1])
			workers[pid] = ppid
			continue
		}
		if _, ok := masters[pid]; !ok {
			masters[pid] = nil
		}
	}
	for w, m := range workers {
		if _, ok := masters[m]; ok {
			masters[m] = append(masters[m], w)
		}
	}
	for m, ws := range masters {
		if len(ws) == 0 {
			delete(masters, m) // an authorizer ("fcgihost FILE") or a master not started yet
		}
	}
	return masters
}

// killWorkerUnderFrontEnd is the test of both front ends: JS and Lua
// answer through the workers; under load one worker is killed with
// SIGKILL; a new one takes its place under the same master, the front end
// sees at most the requests in flight fail, and nothing else.
func killWorkerUnderFrontEnd(t *testing.T, fe *testutil.FrontEnd) {
	conf := filepath.Join(fe.Dir, "fcgihost.toml")
	for _, eng := range []string{"js", "lua"} {
		e := envOf(t, testutil.Get(t, fe.URL+"/env."+eng+"/hello?x=1"))
		if e.Engine != eng || e.Path != "/hello" {
			t.Fatalf("env.%s answered engine %q path %q", eng, e.Engine, e.Path)
		}
	}
	var master int
	var workers []int
	testutil.Eventually(t, 60*time.Second, "a master with two workers", func() bool {
		for m, ws := range fcgihostTree(t, conf) {
			if len(ws) == 2 {
				master, workers = m, ws
				return true
			}
		}
		return false
	})
	const clients = 2 // one per language
	stop := make(chan struct{})
	jsLoad, waitJS := runLoad(t, fe.URL+"/env.js/load", 1, stop)
	luaLoad, waitLua := runLoad(t, fe.URL+"/env.lua/load", 1, stop)
	served := func() int64 { return jsLoad.ok.Load() + luaLoad.ok.Load() }
	testutil.Eventually(t, 30*time.Second, "load running", func() bool { return jsLoad.ok.Load() > 10 && luaLoad.ok.Load() > 10 })
	victim := workers[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, "the worker replaced under the same master", func() bool {
		ws := fcgihostTree(t, conf)[master]
		return len(ws) == 2 && !contains(ws, victim)
	})
	before := served()
	testutil.Eventually(t, 30*time.Second, "load served after the kill", func() bool { return served() > before+20 })
	close(stop)
	waitJS()
	waitLua()
	if syscall.Kill(master, 0) != nil {
		t.Fatalf("the master %d the front end started died", master)
	}
	if _, ok := fcgihostTree(t, conf)[master]; !ok {
		t.Errorf("master %d no longer has its workers", master)
	}
	for name, r := range map[string]*loadResult{"js": jsLoad, "lua": luaLoad} {
		t.Logf("%s load: %d ok, %d failed %v, %d transport errors", name, r.ok.Load(), r.bad.Load(), r.statuses, r.transport.Load())
		if r.transport.Load() != 0 {
			t.Errorf("%s: %d requests failed at the transport", name, r.transport.Load())
		}
		for st := range r.statuses {
			if st != 200 && st < 500 {
				t.Errorf("%s: answers with status %d", name, st)
			}
		}
	}
	if bad := jsLoad.bad.Load() + luaLoad.bad.Load(); bad > clients {
		t.Errorf("%d requests failed; at most the %d in flight on the killed worker may", bad, clients)
	}
	for _, eng := range []string{"js", "lua"} {
		if e := envOf(t, testutil.Get(t, fe.URL+"/env."+eng+"/after")); e.Engine != eng {
			t.Errorf("after the kill env.%s answered engine %q", eng, e.Engine)
		}
	}
	t.Logf("master %d: workers %v, %d killed", master, workers, victim)
}

func TestProcesses_ApacheFcgidWorkers(t *testing.T) {
	t.Parallel()
	fe, _ := startFcgidWith(t, "js", "processes = 2\nworkers = 1\n")
	killWorkerUnderFrontEnd(t, fe)
	if el := fe.ErrorLog(); !strings.Contains(el, "worker died; replacing it") {
		t.Errorf("the master's log (mod_fcgid relays fcgihost's stderr) lacks the death:\n%s", testutil.Tail(el, 3000))
	}
}

func TestProcesses_LighttpdSpawnWorkers(t *testing.T) {
	t.Parallel()
	fe, _ := startLighttpdSpawnWith(t, "lua", "processes = 2\nworkers = 1\n")
	killWorkerUnderFrontEnd(t, fe)
}
