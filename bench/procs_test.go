//go:build bench

package bench

// This file is the "procs" part of TestFigures: the process model of
// docs/processes.md against one process, at the same total VM count, for
// hello JS and Lua driven by `fcgihost bench` straight at each socket —
// one process (processes = 0); a master with two workers of half the VMs
// each; a [pool.NAME] reached by its own socket (two workers); and
// isolation = "process" behind the shared socket of one process (the
// extra FastCGI hop to the child).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// procSetup is one way of running fcgihost for the procs part.
type procSetup struct {
	key, desc string
	config    string // fcgihost.toml; {{SOCK}} is the socket to serve
}

func procSetups(vms int) []procSetup {
	half := max(vms/2, 1)
	return []procSetup{
		{"one", fmt.Sprintf("one process (`processes = 0`, `workers = %d`)", vms),
			fmt.Sprintf("processes = 0\nworkers = %d\nlisten = [\"unix:{{SOCK}}\"]\n", vms)},
		{"master", fmt.Sprintf("master + 2 workers (`processes = 2`, `workers = %d`)", half),
			fmt.Sprintf("processes = 2\nworkers = %d\nlisten = [\"unix:{{SOCK}}\"]\n", half)},
		{"pool", fmt.Sprintf("`[pool.p]` by its own socket (2 workers, `workers = %d`)", half),
			fmt.Sprintf("processes = 0\nworkers = %d\n[pool.p]\napps = [\"hello\", \"hello.lua\"]\nlisten = [\"unix:{{SOCK}}\"]\nprocesses = 2\n", half)},
		{"isolated", fmt.Sprintf("`isolation = \"process\"` through the shared socket of one process (`workers = %d`)", vms),
			fmt.Sprintf("processes = 0\nworkers = %d\nisolation = \"process\"\nlisten = [\"unix:{{SOCK}}\"]\n", vms)},
	}
}

// procCase is one setup serving one engine's hello.
type procCase struct {
	setup  procSetup
	b      *backend
	rounds []result
	ratios []float64 // req/s ÷ the "one" case of the same engine and round
}

// measureProcs starts every setup, checks each answers, and runs every
// case once per round, rotating the order.
func measureProcs(t *testing.T, s settings) []*procCase {
	t.Helper()
	bin := testutil.Binary(t)
	os.Chmod(filepath.Dir(bin), 0o755) // isolated children may run as another user
	repo := testutil.RepoRoot()
	var cases []*procCase
	for _, ps := range procSetups(s.workers) {
		dir, err := os.MkdirTemp("", "procs-"+ps.key+"-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		apps := filepath.Join(dir, "apps")
		if err := os.MkdirAll(apps, 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(repo, "apps", "hello.js"), filepath.Join(apps, "hello.js"), 0o644)
		copyFile(t, filepath.Join(repo, "apps", "hello.lua"), filepath.Join(apps, "hello.lua"), 0o644)
		sock := filepath.Join(dir, "s.sock")
		conf := filepath.Join(dir, "fcgihost.toml")
		// The shared keys first: after a [pool.…] table they would be the
		// pool's.
		body := "watch = false\ndata_dir = \"" + filepath.Join(dir, "data") + "\"\n" + strings.ReplaceAll(ps.config, "{{SOCK}}", sock)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		p := testutil.Start(t, dir, goEnv, bin, "serve", "--apps", apps, "--config", conf)
		testutil.WaitDial(t, "unix:"+sock, 60*time.Second, p)
		stopOnCleanup(t, p)
		for _, eng := range []struct{ name, path string }{{"js", "/hello"}, {"lua", "/hello.lua"}} {
			b := &backend{name: ps.key + "-" + eng.name, desc: ps.desc, sock: sock, path: eng.path, manyConns: true, pgid: p.Cmd.Process.Pid}
			// Every worker (and child) up: a few answers in a row.
			testutil.Eventually(t, 60*time.Second, b.name+" answering", func() bool {
				r, err := fcgiBench(t.Context(), bin, b, 2, true, time.Second)
				return err == nil && r.Errors == 0 && r.Requests > 10
			})
			cases = append(cases, &procCase{setup: ps, b: b})
		}
	}
	ctx := t.Context()
	for r := range s.rounds {
		for i := range cases {
			k := cases[(i+r*len(cases)/max(s.rounds, 1))%len(cases)]
			cpu0, err := groupCPU(k.b.pgid)
			if err != nil {
				t.Fatal(err)
			}
			res, err := fcgiBench(ctx, bin, k.b, s.conns, true, s.dur)
			if err != nil {
				t.Fatalf("round %d, %s: %v", r+1, k.b.name, err)
			}
			cpu1, _ := groupCPU(k.b.pgid)
			if res.Requests > 0 {
				res.CPUPerReq = (cpu1 - cpu0) / time.Duration(res.Requests)
			}
			k.rounds = append(k.rounds, res)
			time.Sleep(300 * time.Millisecond)
		}
		t.Logf("procs round %d of %d done (load average %s)", r+1, s.rounds, loadavg())
	}
	base := map[string]*procCase{}
	for _, k := range cases {
		if k.setup.key == "one" {
			base[strings.TrimPrefix(k.b.name, "one-")] = k
		}
	}
	for _, k := range cases {
		one := base[k.b.name[strings.LastIndexByte(k.b.name, '-')+1:]]
		for r := range k.rounds {
			k.ratios = append(k.ratios, k.rounds[r].RPS/one.rounds[r].RPS)
		}
	}
	return cases
}

func writeProcs(md *strings.Builder, cases []*procCase, s settings) {
	fmt.Fprintf(md, "### Process model (docs/processes.md)\n\nHello world, `fcgihost bench -c %d` (keep-conn) straight at the socket, %d VMs per app in all; requests/s (median of the rounds), its ratio to one process in the same round (median of the per-round ratios), p50 and p99 latency, server CPU per request (every process of the host).\n\n", s.conns, s.workers)
	md.WriteString("| setup | engine | req/s | ×one process | p50 | p99 | server CPU/req | errors | req/s of each round |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range cases {
		var each []string
		errs := 0
		for _, r := range k.rounds {
			each = append(each, fmt.Sprintf("%.0f", r.RPS))
			errs += r.Errors
		}
		kk := &kase{rounds: k.rounds, ratios: k.ratios}
		eng := k.b.name[strings.LastIndexByte(k.b.name, '-')+1:]
		fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", k.setup.desc, eng, fmtRPS(kk), fmtRatio(kk),
			fmtDur(median(k.rounds, func(r result) float64 { return float64(r.P50) }, time.Duration(0))), fmtP(kk), fmtCPU(kk), errs, strings.Join(each, ", "))
	}
	md.WriteString("\n")
}
