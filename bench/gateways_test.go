//go:build bench

package bench

// TestGatewayFigures: hello JS and Lua over each gateway fcgihost speaks —
// FastCGI with kept connections, FastCGI with a connection per request,
// SCGI, uwsgi — straight at each socket (`fcgihost bench`) and through a
// private nginx (wrk → fastcgi_pass, scgi_pass, uwsgi_pass), in one run
// with the CGI baseline (fcgiwrap running the same hello as a CGI script,
// a process per request, straight and through nginx's fastcgi_pass).
// docs/benchmarks.md ("Gateways") has a run and what it shows.
//
//	BENCH_DURATION=3s BENCH_ROUNDS=1 go test -tags bench -run TestGatewayFigures -v ./bench/
//
// Knobs as TestFigures: BENCH_DURATION, BENCH_ROUNDS, BENCH_WORKERS,
// BENCH_CONNS, BENCH_NGINX_WORKERS; the table is appended to $BENCH_OUT.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// gwCase is one row: an app over one gateway under one driver.
type gwCase struct {
	driver  string // "nginx" or "direct"
	app     string // "js" or "lua"
	gateway string // "FastCGI keep-conn", "FastCGI", "SCGI", "uwsgi", "CGI"
	pgid    int    // the server's process group (its CPU time)
	run     func(ctx context.Context) (result, error)
	warm    []string // direct: the `fcgihost bench` arguments
	rounds  []result
}

// Gateway names in table order.
const (
	gwFCGIKeep = "FastCGI, kept connections"
	gwFCGI     = "FastCGI, a connection per request"
	gwSCGI     = "SCGI"
	gwUWSGI    = "uwsgi"
	gwCGI      = "CGI (fcgiwrap, a process per request)"
)

func TestGatewayFigures(t *testing.T) {
	s := loadSettings(t)
	runtime.GOMAXPROCS(2)
	testutil.Need(t, "wrk")
	bin := testutil.Binary(t)
	wrap := testutil.Need(t, "fcgiwrap")
	ngBin := testutil.Need(t, "nginx")
	startLoad := loadavg()

	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	apps, www := filepath.Join(dir, "apps"), filepath.Join(dir, "www")
	for _, d := range []string{apps, www} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	repo := testutil.RepoRoot()
	copyFile(t, filepath.Join(repo, "apps", "hello.js"), filepath.Join(apps, "hello.js"), 0o644)
	copyFile(t, filepath.Join(repo, "apps", "hello.lua"), filepath.Join(apps, "hello.lua"), 0o644)
	// The CGI baseline: the same hello as a CGI-style script, run as its
	// own process per request through the #! line.
	cgiJS := fmt.Sprintf("#!%s run\n// CGI-style hello: the whole file runs per request\nprint(\"Content-Type: text/plain\");\nprint(\"\");\nwrite(\"hello world\");\n", bin)
	cgiLua := fmt.Sprintf("#!%s run\n-- CGI-style hello: the whole file runs per request\nprint(\"Content-Type: text/plain\")\nprint(\"\")\nio.write(\"hello world\")\n", bin)
	testutil.WriteFile(t, filepath.Join(www, "hello-cgi.js"), cgiJS, 0o755)
	testutil.WriteFile(t, filepath.Join(www, "hello-cgi.lua"), cgiLua, 0o755)

	fcgiSock, scgiSock, uwsgiSock := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "scgi.sock"), filepath.Join(dir, "uwsgi.sock")
	p := testutil.Start(t, dir, append([]string{"FCGIHOST_CONFIG="}, goEnv...), bin, "serve", "--apps", apps,
		"--listen", "unix:"+fcgiSock, "--listen", "scgi:unix:"+scgiSock, "--listen", "uwsgi:unix:"+uwsgiSock,
		"--workers", strconv.Itoa(s.workers), "--watch=false")
	for _, sock := range []string{fcgiSock, scgiSock, uwsgiSock} {
		testutil.WaitDial(t, "unix:"+sock, 30*time.Second, p)
	}
	stopOnCleanup(t, p)
	hostPID := p.Cmd.Process.Pid

	wrapSock := filepath.Join(dir, "fcgiwrap.sock")
	p = testutil.Start(t, dir, nil, wrap, "-c", strconv.Itoa(s.workers), "-s", "unix:"+wrapSock)
	testutil.WaitDial(t, "unix:"+wrapSock, 30*time.Second, p)
	os.Chmod(wrapSock, 0o666)
	stopOnCleanup(t, p)
	wrapPID := p.Cmd.Process.Pid

	// nginx: one port per gateway, the configuration of docs/deploy
	// (fastcgi_params, scgi_params, uwsgi_params as Debian ships them).
	ngDir := t.TempDir()
	os.Chmod(ngDir, 0o755)
	ports := map[string]int{}
	var servers strings.Builder
	server := func(gw, body string) {
		port := testutil.FreePort(t)
		ports[gw] = port
		fmt.Fprintf(&servers, "  server {\n    listen 127.0.0.1:%d;\n    server_name localhost;\n    root %s;\n    location / {\n%s    }\n  }\n", port, www, body)
	}
	fmt.Fprintf(&servers, "  upstream fcgihost_keep { server unix:%s; keepalive %d; keepalive_timeout %s; }\n", fcgiSock, s.conns, nginxKeepaliveTimeout)
	server(gwFCGIKeep, "      include /etc/nginx/fastcgi_params;\n      fastcgi_keep_conn on;\n      fastcgi_pass fcgihost_keep;\n")
	server(gwFCGI, fmt.Sprintf("      include /etc/nginx/fastcgi_params;\n      fastcgi_pass unix:%s;\n", fcgiSock))
	server(gwSCGI, fmt.Sprintf("      include /etc/nginx/scgi_params;\n      scgi_pass unix:%s;\n", scgiSock))
	server(gwUWSGI, fmt.Sprintf("      include /etc/nginx/uwsgi_params;\n      uwsgi_pass unix:%s;\n", uwsgiSock))
	server(gwCGI, fmt.Sprintf("      include /etc/nginx/fastcgi_params;\n      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n      fastcgi_pass unix:%s;\n", wrapSock))
	portList := make([]int, 0, len(ports))
	for _, port := range ports {
		portList = append(portList, port)
	}
	runNginx(t, ngBin, ngDir, s.nginxWorkers, servers.String(), portList)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(ngDir, "error.log"))
			t.Logf("nginx error.log:\n%s", testutil.Tail(string(b), 4000))
		}
	})

	gateways := []string{gwFCGIKeep, gwFCGI, gwSCGI, gwUWSGI, gwCGI}
	var cases []*gwCase
	for _, app := range []string{"js", "lua"} {
		for _, gw := range gateways {
			path, pgid := "/hello."+app, hostPID
			if gw == gwCGI {
				path, pgid = "/hello-cgi."+app, wrapPID
			}
			url := fmt.Sprintf("http://127.0.0.1:%d%s", ports[gw], path)
			checkURL(t, url)
			cases = append(cases, &gwCase{driver: "nginx", app: app, gateway: gw, pgid: pgid,
				run: func(ctx context.Context) (result, error) { return wrkRun(ctx, url, s.conns, s.dur) }})
			// Straight at the socket: `fcgihost bench`, FastCGI or with
			// --connect scgi:/uwsgi:.
			// CGI gets as many connections as fcgiwrap has children: a
			// child serves one connection at a time, and a backlog of
			// requests cut off at the end of a row would still be run,
			// each a process, during the next one.
			conns := s.conns
			if gw == gwCGI {
				conns = s.workers
			}
			args := []string{"-c", strconv.Itoa(conns)}
			switch gw {
			case gwFCGIKeep:
				args = append(args, "--connect", "unix:"+fcgiSock, "--keep-conn=true")
			case gwFCGI:
				args = append(args, "--connect", "unix:"+fcgiSock, "--keep-conn=false")
			case gwSCGI:
				args = append(args, "--connect", "scgi:unix:"+scgiSock)
			case gwUWSGI:
				args = append(args, "--connect", "uwsgi:unix:"+uwsgiSock)
			case gwCGI:
				args = append(args, "--connect", "unix:"+wrapSock, "--keep-conn=false", "--root", www)
			}
			args = append(args, path)
			cases = append(cases, &gwCase{driver: "direct", app: app, gateway: gw, pgid: pgid, warm: args,
				run: func(ctx context.Context) (result, error) { return benchRun(ctx, bin, args, s.dur) }})
		}
	}
	ctx := t.Context()
	// Warm up: the VMs' first calls, the page cache for the CGI exec.
	for _, k := range cases {
		if k.driver == "direct" {
			if _, err := benchRun(ctx, bin, k.warm, time.Second); err != nil && k.gateway != gwCGI {
				t.Fatalf("warm-up %s %s: %v", k.app, k.gateway, err)
			}
		}
	}
	time.Sleep(3 * time.Second) // fcgiwrap runs what the warm-up left queued
	for r := range s.rounds {
		for i := range cases {
			k := cases[(i+r*len(cases)/max(s.rounds, 1))%len(cases)]
			cpu0, err := groupCPU(k.pgid)
			if err != nil {
				t.Fatal(err)
			}
			res, err := k.run(ctx)
			if err != nil {
				// On a loaded machine a CGI row can end with no answer:
				// counted as 0 requests/s, the table says so.
				t.Logf("round %d, %s %s %s: %v", r+1, k.driver, k.app, k.gateway, err)
				res = result{Errors: 1}
			}
			cpu1, err := groupCPU(k.pgid)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests > 0 {
				res.CPUPerReq = (cpu1 - cpu0) / time.Duration(res.Requests)
			}
			k.rounds = append(k.rounds, res)
			pause := 300 * time.Millisecond
			if k.gateway == gwFCGIKeep && k.driver == "nginx" {
				pause = nginxKeepaliveTimeout + 500*time.Millisecond
			}
			if k.gateway == gwCGI {
				// fcgiwrap still runs what nginx had queued when wrk
				// stopped: let it finish before the next row.
				pause = 3 * time.Second
			}
			time.Sleep(pause)
		}
		t.Logf("round %d of %d done (load average %s)", r+1, s.rounds, loadavg())
	}

	var md strings.Builder
	fmt.Fprintf(&md, "## Gateways, run of %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&md, "Machine: %s. Load average (1, 5, 15 min) at start: %s; at end: %s.\n", machine(), startLoad, loadavg())
	fmt.Fprintf(&md, "Settings: GOMAXPROCS=2 for every Go process; %d s per row, %d round(s), medians shown; %d fcgihost workers per app = %d fcgiwrap children; %d client connections (wrk %d thread; `fcgihost bench -c %d`, CGI straight at fcgiwrap's socket with as many as it has children); nginx %d worker. Client, nginx and servers share the machine's cores.\n\n",
		int(s.dur.Seconds()), s.rounds, s.workers, s.workers, s.conns, wrkThreads, s.conns, s.nginxWorkers)
	md.WriteString("| driver | app | gateway | req/s | p99 | × CGI | ÷ FastCGI, a connection per request | server CPU/req | errors |\n|---|---|---|---|---|---|---|---|---|\n")
	find := func(driver, app, gw string) *gwCase {
		for _, k := range cases {
			if k.driver == driver && k.app == app && k.gateway == gw {
				return k
			}
		}
		return nil
	}
	rps := func(k *gwCase) float64 { return median(k.rounds, func(r result) float64 { return r.RPS }, 0.0) }
	for _, driver := range []string{"nginx", "direct"} {
		for _, app := range []string{"js", "lua"} {
			cgi, plain := find(driver, app, gwCGI), find(driver, app, gwFCGI)
			for _, gw := range gateways {
				k := find(driver, app, gw)
				errs := 0
				for _, r := range k.rounds {
					errs += r.Errors
				}
				vsFCGI := ""
				if gw == gwSCGI || gw == gwUWSGI {
					vsFCGI = fmt.Sprintf("%.2f", rps(k)/rps(plain))
				}
				dname := "wrk → nginx"
				if driver == "direct" {
					dname = "`fcgihost bench` → socket"
				}
				cpu := fmtDur(median(k.rounds, func(r result) float64 { return float64(r.CPUPerReq) }, time.Duration(0)))
				if gw == gwCGI {
					// A CGI child that exits between the two samples is
					// not reliably added to fcgiwrap's group time (a run
					// came out negative): not measured.
					cpu = "n/a"
				}
				prec := 0
				if rps(k) < 100 {
					prec = 1
				}
				ratio := "n/a (CGI answered nothing)"
				if rps(cgi) > 0 {
					ratio = fmt.Sprintf("%.1f", rps(k)/rps(cgi))
				}
				fmt.Fprintf(&md, "| %s | %s | %s | %.*f | %s | %s | %s | %s | %d |\n", dname, app, gw, prec, rps(k),
					fmtDur(median(k.rounds, func(r result) float64 { return float64(r.P99) }, time.Duration(0))),
					ratio, vsFCGI, cpu, errs)
			}
		}
	}
	md.WriteString("\n")
	t.Log("\n" + md.String())
	if out := os.Getenv("BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(md.String())
			f.Close()
		}
		if err != nil {
			t.Errorf("write %s: %v", out, err)
		}
	}
}

// benchRun runs `fcgihost bench --json` with args for d.
func benchRun(ctx context.Context, bin string, args []string, d time.Duration) (result, error) {
	all := append([]string{"bench", "--json", "-d", d.String(), "--timeout", "60s"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Env = append(cmd.Environ(), goEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("fcgihost %s: %w\n%s%s", strings.Join(all, " "), err, out, stderr.String())
	}
	return parseFCGIBench(out)
}
