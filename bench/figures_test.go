//go:build bench

package bench

// TestFigures is the whole benchmark run: every backend, both drivers, in
// interleaved rounds, then the per-VM costs and the start-up time, printed
// as markdown (and written to $BENCH_OUT when set).
//
// Knobs (environment): BENCH_DURATION (per run, default 5s), BENCH_ROUNDS
// (default 3), BENCH_WORKERS (fcgihost workers = php-fpm children =
// fcgiwrap children, default 4), BENCH_CONNS (default 64),
// BENCH_NGINX_WORKERS (default 1), BENCH_PARTS (comma list of load, vm,
// startup, procs; default all), BENCH_OUT (markdown file).

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// settings are the knobs of one run.
type settings struct {
	dur          time.Duration
	rounds       int
	workers      int
	conns        int
	nginxWorkers int
	parts        map[string]bool
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{dur: 5 * time.Second, rounds: 3, workers: 4, conns: 64, nginxWorkers: 1,
		parts: map[string]bool{"load": true, "vm": true, "startup": true, "procs": true}}
	if v := os.Getenv("BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			t.Fatalf("BENCH_DURATION=%q: want a duration of at least 1s", v)
		}
		s.dur = d
	}
	for _, k := range []struct {
		env string
		p   *int
	}{{"BENCH_ROUNDS", &s.rounds}, {"BENCH_WORKERS", &s.workers}, {"BENCH_CONNS", &s.conns}, {"BENCH_NGINX_WORKERS", &s.nginxWorkers}} {
		if v := os.Getenv(k.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive integer", k.env, v)
			}
			*k.p = n
		}
	}
	if v := os.Getenv("BENCH_PARTS"); v != "" {
		s.parts = map[string]bool{}
		for _, p := range strings.Split(v, ",") {
			s.parts[strings.TrimSpace(p)] = true
		}
	}
	return s
}

// group is one way of driving load; its cases are measured against the
// plain Go handler ("go") of the same group.
type group struct {
	key, desc string
	cases     []*kase
}

// kase is one backend under one driver.
type kase struct {
	g      *group
	b      *backend
	run    func(ctx context.Context) (result, error)
	rounds []result
	ratios []float64 // req/s ÷ the C reference's (case "c") req/s of the same round
}

func TestFigures(t *testing.T) {
	s := loadSettings(t)
	runtime.GOMAXPROCS(2)
	var md strings.Builder
	fmt.Fprintf(&md, "## Run of %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&md, "Machine: %s. Load average at start: %s.\n", machine(), loadavg())
	fmt.Fprintf(&md, "Settings: GOMAXPROCS=2 for every Go process; %d s per run, %d interleaved rounds, medians shown; %d workers (fcgihost VMs per app = php-fpm children = fcgiwrap children); %d client connections; nginx %d worker; wrk %d thread. Client, nginx and server share the same 2 cores.\n\n",
		int(s.dur.Seconds()), s.rounds, s.workers, s.conns, s.nginxWorkers, wrkThreads)

	if s.parts["vm"] {
		costs := measureVMs(t)
		measureRSS(t, costs)
		md.WriteString("### One VM (apps/hello.*, compile excluded)\n\n")
		md.WriteString("| engine | NewVM (instantiate + top-level code) | allocs/NewVM | idle heap per VM | RSS per extra idle VM (real binary, 100 VMs) | compile, for scale |\n|---|---|---|---|---|---|\n")
		for _, c := range costs {
			fmt.Fprintf(&md, "| %s | %s | %d | %.0f KiB | %.0f KiB | %s |\n", c.engine, fmtDur(c.newVM), c.allocsVM, c.heapPerVM/1024, c.rssPerVM/1024, fmtDur(c.compileDur))
		}
		md.WriteString("\n")
	}
	if s.parts["startup"] {
		st := measureStartup(t, 7)
		fmt.Fprintf(&md, "### Start-up\n\n`fcgihost serve` with %d apps × %d workers (hello.js, hello.lua, contacts.js, signup.lua; %d VMs preloaded, file watching on), exec → FastCGI socket accepting: median %s, best %s of %d starts.\n\n",
			st.apps, st.workers, st.apps*st.workers, fmtDur(st.median), fmtDur(st.min), st.runs)
	}
	if s.parts["load"] {
		groups := measureLoad(t, s)
		writeLoad(&md, groups, s)
	}
	if s.parts["procs"] {
		writeProcs(&md, measureProcs(t, s), s)
	}
	fmt.Fprintf(&md, "Load average at end: %s.\n", loadavg())
	t.Log("\n" + md.String())
	if out := os.Getenv("BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(md.String()), 0o644); err != nil {
			t.Errorf("write %s: %v", out, err)
		}
	}
}

// measureLoad starts the backends and nginx, checks each answers hello
// world, and runs every case once per round, rotating the order each
// round so that no case always runs first or after the same neighbour.
func measureLoad(t *testing.T, s settings) []*group {
	t.Helper()
	testutil.Need(t, "wrk")
	bin := testutil.Binary(t)
	backends := startBackends(t, s.workers, s.conns)
	ng := startNginx(t, backends, s.conns, s.nginxWorkers)
	for _, b := range backends {
		b.check(t)
		checkURL(t, ng.urls[b.name+"/keep"])
		checkURL(t, ng.urls[b.name+"/nokeep"])
	}
	direct := func(b *backend, conns int, keep bool) func(context.Context) (result, error) {
		return func(ctx context.Context) (result, error) { return fcgiBench(ctx, bin, b, conns, keep, s.dur) }
	}
	viaNginx := func(b *backend, mode string) func(context.Context) (result, error) {
		return func(ctx context.Context) (result, error) {
			return wrkRun(ctx, ng.urls[b.name+"/"+mode], s.conns, s.dur)
		}
	}
	groups := []*group{
		{key: "direct-keep", desc: fmt.Sprintf("`fcgihost bench -c %d` (keep-conn) straight at the socket", s.conns)},
		{key: "direct-keep-w", desc: fmt.Sprintf("`fcgihost bench -c %d` (keep-conn; connections = workers)", s.workers)},
		{key: "direct-nokeep", desc: fmt.Sprintf("`fcgihost bench -c %d --keep-conn=false` (a connection per request)", s.conns)},
		{key: "nginx-keep", desc: fmt.Sprintf("`wrk -c %d` → nginx, `fastcgi_keep_conn on`, upstream `keepalive %d`", s.conns, s.conns)},
		{key: "nginx-nokeep", desc: fmt.Sprintf("`wrk -c %d` → nginx, `fastcgi_keep_conn off`", s.conns)},
	}
	for _, b := range backends {
		if b.manyConns {
			groups[0].cases = append(groups[0].cases, &kase{b: b, run: direct(b, s.conns, true)})
		}
		groups[1].cases = append(groups[1].cases, &kase{b: b, run: direct(b, s.workers, true)})
		groups[3].cases = append(groups[3].cases, &kase{b: b, run: viaNginx(b, "keep")})
		groups[2].cases = append(groups[2].cases, &kase{b: b, run: direct(b, s.conns, false)})
		groups[4].cases = append(groups[4].cases, &kase{b: b, run: viaNginx(b, "nokeep")})
	}

	ctx := t.Context()
	// Warm up: one short run per backend (php-fpm's children, the VMs'
	// first calls, the page cache for fcgiwrap's exec).
	for _, b := range backends {
		if _, err := fcgiBench(ctx, bin, b, s.workers, true, time.Second); err != nil {
			t.Fatalf("warm-up %s: %v", b.name, err)
		}
	}
	var all []*kase
	for _, g := range groups {
		for _, k := range g.cases {
			k.g = g
		}
		all = append(all, g.cases...)
	}
	for r := range s.rounds {
		for i := range all {
			k := all[(i+r*len(all)/max(s.rounds, 1))%len(all)]
			cpu0, err := groupCPU(k.b.pgid)
			if err != nil {
				t.Fatal(err)
			}
			res, err := k.run(ctx)
			if err != nil {
				t.Fatalf("round %d, %s %s: %v", r+1, k.g.key, k.b.name, err)
			}
			cpu1, err := groupCPU(k.b.pgid)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests > 0 {
				res.CPUPerReq = (cpu1 - cpu0) / time.Duration(res.Requests)
			}
			k.rounds = append(k.rounds, res)
			pause := 300 * time.Millisecond
			if k.g.key == "nginx-keep" {
				pause = nginxKeepaliveTimeout + 500*time.Millisecond
			}
			time.Sleep(pause)
		}
		t.Logf("round %d of %d done (load average %s)", r+1, s.rounds, loadavg())
	}
	for _, g := range groups {
		var ref *kase
		for _, k := range g.cases {
			if k.b.name == "c" {
				ref = k
			}
		}
		for _, k := range g.cases {
			for r := range k.rounds {
				k.ratios = append(k.ratios, k.rounds[r].RPS/ref.rounds[r].RPS)
			}
		}
	}
	return groups
}

// writeLoad writes the README table and the full table.
func writeLoad(md *strings.Builder, groups []*group, s settings) {
	byKey := map[string]*group{}
	for _, g := range groups {
		byKey[g.key] = g
	}
	find := func(gk, name string) *kase {
		for _, k := range byKey[gk].cases {
			if k.b.name == name {
				return k
			}
		}
		return nil
	}
	md.WriteString("### Summary\n\nHello world; requests/s (median of the rounds), its ratio to the C libfcgi responder measured in the same round (median of the per-round ratios), p99 latency; server CPU is the backend's CPU time per request (all its processes) under `fcgihost bench -c " + strconv.Itoa(s.workers) + "`.\n\n")
	fmt.Fprintf(md, "| backend | `fcgihost bench -c %d`, keep-conn | `fcgihost bench -c %d`, keep-conn | wrk -c %d → nginx, keep-conn | server CPU/req |\n|---|---|---|---|---|\n", s.conns, s.workers, s.conns)
	cell := func(k *kase) string {
		if k == nil {
			return "n/a ¹"
		}
		return fmt.Sprintf("%s (%s×), p99 %s", fmtRPS(k), fmtRatio(k), fmtP(k))
	}
	for _, name := range []string{"c", "go", "js", "lua", "php", "cgi"} {
		w := find("direct-keep-w", name)
		fmt.Fprintf(md, "| %s | %s | %s | %s | %s |\n", w.b.desc, cell(find("direct-keep", name)), cell(w), cell(find("nginx-keep", name)), fmtCPU(w))
	}
	fmt.Fprintf(md, "\n¹ not measurable: a php-fpm or fcgiwrap child serves one connection until the client closes it, so %d clients that keep their connections on %d children leave %d waiting (nginx spreads its requests over whichever upstream connections are served, so it gets answers, with a long tail).\n\n", s.conns, s.workers, s.conns-s.workers)

	md.WriteString("### Every run\n\n| driver | backend | req/s (median) | ×C (median) | p50 | p99 | server CPU/req | errors | req/s of each round |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range groups {
		for _, k := range g.cases {
			var each []string
			errs := 0
			for _, r := range k.rounds {
				each = append(each, fmt.Sprintf("%.0f", r.RPS))
				errs += r.Errors
			}
			fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", g.desc, k.b.name, fmtRPS(k), fmtRatio(k), fmtDur(median(k.rounds, func(r result) float64 { return float64(r.P50) }, time.Duration(0))), fmtP(k), fmtCPU(k), errs, strings.Join(each, ", "))
		}
	}
	md.WriteString("\n")
}

func descOf(k *kase) string { return k.b.desc }

func fmtRPS(k *kase) string {
	return fmt.Sprintf("%.0f", median(k.rounds, func(r result) float64 { return r.RPS }, 0.0))
}

func fmtRatio(k *kase) string {
	v := slices.Clone(k.ratios)
	slices.Sort(v)
	return fmt.Sprintf("%.2f", v[len(v)/2])
}

func fmtCPU(k *kase) string {
	return fmtDur(median(k.rounds, func(r result) float64 { return float64(r.CPUPerReq) }, time.Duration(0)))
}

func fmtP(k *kase) string {
	return fmtDur(median(k.rounds, func(r result) float64 { return float64(r.P99) }, time.Duration(0)))
}

// median is the median of f over rs, converted to T.
func median[T float64 | time.Duration](rs []result, f func(result) float64, _ T) T {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return T(v[len(v)/2])
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(100 * time.Nanosecond).String()
	}
	return d.String()
}

// machine describes this machine in one line.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d × %s%s, %s/%s, %s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
