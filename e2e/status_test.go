package e2e

// End-to-end tests of the status page, metrics, slow log and access log
// (docs/reference.md §6, issue 7) against the built binary, with FastCGI requests
// sent as a front end sends them and the HTML page rendered by headless
// Chromium.

import (
	"context"
	"encoding/json"
	"fmt"
	stdhtml "html"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/prometheus/common/expfmt"
)

const obsConfig = `
status_path = "/fcgihost-status"
ping_path = "/fcgihost-ping"
workers = 1
max_requests = 4
timeout = "3s"
slowlog = "50ms"
`

// obsHost is a running fcgihost serving a copy of testdata/status.
type obsHost struct {
	*testutil.Host
	apps   string
	access string
	c      *fcgi.Client
}

func startObs(t *testing.T, httpToo bool) *obsHost {
	t.Helper()
	return startObsArgs(t, httpToo)
}

// startObsArgs is startObs with extra serve flags.
func startObsArgs(t *testing.T, httpToo bool, args ...string) *obsHost {
	t.Helper()
	apps := t.TempDir()
	for _, f := range []string{"jsapp.js", "luaapp.lua"} {
		b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "status", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(apps, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	access := filepath.Join(t.TempDir(), "access.log")
	cfg := obsConfig + fmt.Sprintf("access_log = %q\ndata_dir = %q\n", access, t.TempDir())
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, HTTP: httpToo, Config: cfg, Args: args})
	c := &fcgi.Client{Addr: h.FCGI, KeepConn: true}
	t.Cleanup(func() { c.Close() })
	return &obsHost{Host: h, apps: apps, access: access, c: c}
}

// do sends GET target (path and query) with the params nginx would send.
func (o *obsHost) do(t *testing.T, target string) (int, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET",
		"REQUEST_URI": target, "SCRIPT_NAME": u.Path, "DOCUMENT_URI": u.Path, "QUERY_STRING": u.RawQuery,
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
		"HTTP_HOST": "localhost", "HTTP_USER_AGENT": "e2e-status", "HTTP_REFERER": "http://localhost/from",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := o.c.Do(ctx, &fcgi.ClientRequest{Params: p})
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: read: %v", target, err)
	}
	return resp.Status, string(b)
}

func (o *obsHost) report(t *testing.T) *host.StatusReport {
	t.Helper()
	code, body := o.do(t, "/fcgihost-status")
	var rep host.StatusReport
	if code != 200 {
		t.Fatalf("status page: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return &rep
}

// TestStatusPage_CountersMove drives requests, errors, timeouts, a recycle,
// a slow request and a reload through the running binary, for both
// engines, and checks that the right figures moved.
func TestStatusPage_CountersMove(t *testing.T) {
	t.Parallel()
	o := startObs(t, false)
	for _, app := range []string{"jsapp", "luaapp"} {
		t.Run(app, func(t *testing.T) {
			base := "/" + app
			get := func(path string, want int) func(t *testing.T) {
				return func(t *testing.T) {
					if code, body := o.do(t, base+path); code != want {
						t.Fatalf("%s: %d %q, want %d", path, code, body, want)
					}
				}
			}
			d := func(f func(*host.AppReport) uint64, want uint64) func(b, a *host.AppReport) string {
				return func(b, a *host.AppReport) string {
					if got := f(a) - f(b); got != want {
						return fmt.Sprintf("moved by %d, want %d", got, want)
					}
					return ""
				}
			}
			atLeast := func(f func(*host.AppReport) uint64, want uint64) func(b, a *host.AppReport) string {
				return func(b, a *host.AppReport) string {
					if got := f(a) - f(b); got < want {
						return fmt.Sprintf("moved by %d, want at least %d", got, want)
					}
					return ""
				}
			}
			steps := []struct {
				name  string
				do    func(t *testing.T)
				check func(b, a *host.AppReport) string
			}{
				{"2xx", get("/", 200), d(func(a *host.AppReport) uint64 { return a.Status["2xx"] }, 1)},
				{"requests", get("/", 200), d(func(a *host.AppReport) uint64 { return a.Requests }, 1)},
				{"4xx", get("/status/404", 404), d(func(a *host.AppReport) uint64 { return a.Status["4xx"] }, 1)},
				{"script error", get("/throw", 500), d(func(a *host.AppReport) uint64 { return a.Errors }, 1)},
				{"timeout", get("/loop", 504), both(d(func(a *host.AppReport) uint64 { return a.Timeouts }, 1),
					d(func(a *host.AppReport) uint64 { return a.Discarded }, 1), d(func(a *host.AppReport) uint64 { return a.Status["5xx"] }, 1))},
				{"recycle after max_requests", func(t *testing.T) {
					for i := 0; i < 4; i++ {
						get("/", 200)(t)
					}
				}, atLeast(func(a *host.AppReport) uint64 { return a.Recycled }, 1)},
				{"slow", get("/slow?ms=300", 200), d(func(a *host.AppReport) uint64 { return a.Slow }, 1)},
				{"reload", func(t *testing.T) {
					ext := map[string]string{"jsapp": ".js", "luaapp": ".lua"}[app]
					comment := map[string]string{".js": "\n// edited\n", ".lua": "\n-- edited\n"}[ext]
					f := filepath.Join(o.apps, app+ext)
					b, _ := os.ReadFile(f)
					before := o.report(t).Apps[app].Reloads
					if err := os.WriteFile(f, append(b, comment...), 0o644); err != nil {
						t.Fatal(err)
					}
					testutil.Eventually(t, 30*time.Second, "reload counted", func() bool { return o.report(t).Apps[app].Reloads > before })
				}, func(b, a *host.AppReport) string {
					if a.Reloads != b.Reloads+1 || a.Version == b.Version || a.LastReload == nil || !a.LastReload.After(*b.LastReload) {
						return fmt.Sprintf("reloads %d→%d version %s→%s", b.Reloads, a.Reloads, b.Version, a.Version)
					}
					return ""
				}},
			}
			for _, s := range steps {
				before := o.report(t).Apps[app]
				s.do(t)
				after := o.report(t).Apps[app]
				if msg := s.check(before, after); msg != "" {
					t.Errorf("%s: %s", s.name, msg)
				}
			}
			// The page, asked of any worker, adds up the VMs of every
			// worker: workers = 1 in each of the default processes = 2.
			var a *host.AppReport
			testutil.Eventually(t, 30*time.Second, "both workers in the figures", func() bool {
				a = o.report(t).Apps[app]
				return a.Workers == config.DefaultProcesses
			})
			if a.Limits.Workers != 1 || a.Limits.MaxRequests != 4 || a.Limits.Timeout != "3s" || a.Limits.Slowlog != "50ms" || a.MemoryBytes <= 0 {
				t.Errorf("figures and limits: %+v", a)
			}
		})
	}

	rep := o.report(t)
	if rep.FastCGI == nil || rep.FastCGI.Requests == 0 || rep.FastCGI.Connections == 0 || rep.ListenQueue == nil || rep.ListenQueueLen == nil || *rep.ListenQueueLen <= 0 {
		t.Errorf("FastCGI side: %+v, listen queue %v len %v", rep.FastCGI, rep.ListenQueue, rep.ListenQueueLen)
	}
	if rep.Accepted == 0 || rep.UptimeS < 0 || time.Since(rep.StartTime) > time.Hour {
		t.Errorf("accepted %d, start %s", rep.Accepted, rep.StartTime)
	}

	// The slow log: one line per slow request, with the URL, the app and
	// the script's stack at that moment.
	out := o.Output()
	for _, app := range []string{"jsapp", "luaapp"} {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "slow request") && strings.Contains(l, "app="+app) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, `uri="/`+app+`/slow?ms=300"`) {
			t.Errorf("%s: no slow log line with the URL:\n%s", app, testutil.Tail(out, 3000))
			continue
		}
		ext := map[string]string{"jsapp": ".js", "luaapp": ".lua"}[app]
		if !regexp.MustCompile(regexp.QuoteMeta(app+ext) + `:4\b`).MatchString(line) {
			t.Errorf("%s: slow log line does not name %s:4:\n%s", app, app+ext, line)
		}
	}

	// The access log: a combined line per request, with app and VM.
	b, err := os.ReadFile(o.access)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^127\.0\.0\.1 - - \[[^\]]+\] "GET /luaapp/status/404 HTTP/1\.1" 404 \d+ "http://localhost/from" "e2e-status" app=luaapp vm=\d+ duration_ms=[0-9.]+$`)
	if !re.Match(b) {
		t.Errorf("access log has no combined line for /luaapp/status/404:\n%s", testutil.Tail(string(b), 2000))
	}
}

// both joins the messages of checks.
func both(checks ...func(b, a *host.AppReport) string) func(b, a *host.AppReport) string {
	return func(b, a *host.AppReport) string {
		var msgs []string
		for i, c := range checks {
			if m := c(b, a); m != "" {
				msgs = append(msgs, fmt.Sprintf("check %d: %s", i+1, m))
			}
		}
		return strings.Join(msgs, "; ")
	}
}

// TestStatusPage_Metrics: ?openmetrics from the binary parses with
// Prometheus's parser and agrees with the JSON.
func TestStatusPage_Metrics(t *testing.T) {
	t.Parallel()
	o := startObs(t, false)
	for _, p := range []string{"/jsapp/", "/luaapp/", "/luaapp/throw"} {
		o.do(t, p)
	}
	code, body := o.do(t, "/fcgihost-status?openmetrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	var parser expfmt.TextParser
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	rep := o.report(t)
	for _, app := range []string{"jsapp", "luaapp"} {
		var got float64
		found := false
		for _, m := range fams["fcgihost_app_requests_total"].GetMetric() {
			if m.GetLabel()[0].GetValue() == app {
				got, found = m.GetCounter().GetValue(), true
			}
		}
		if !found || got != float64(rep.Apps[app].Requests) {
			t.Errorf("%s: metrics requests %v (found %v), JSON %d", app, got, found, rep.Apps[app].Requests)
		}
	}
	for _, name := range []string{"fcgihost_listen_queue", "fcgihost_fastcgi_connections_total", "fcgihost_app_latency_seconds", "fcgihost_app_limit_memory_bytes", "fcgihost_app_responses_total"} {
		if fams[name] == nil {
			t.Errorf("no family %s", name)
		}
	}
}

// TestStatusPage_HTMLInChromium renders ?html in headless Chromium and
// checks a row per app in the DOM, and that the SCGI and uwsgi gateways'
// rows are on screen with their figures; the screenshot is kept in the
// test's temp dir (copied to $FCGIHOST_STATUS_SCREENSHOT when set).
func TestStatusPage_HTMLInChromium(t *testing.T) {
	t.Parallel()
	chrome := testutil.Need(t, "chromium")
	scgiAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	uwsgiAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	o := startObsArgs(t, true, "--listen", "scgi:"+scgiAddr, "--listen", "uwsgi:"+uwsgiAddr)
	// Every listener is bound before the FastCGI one StartHost waits for
	// accepts: no dial to the gateways before the counted ones.
	o.do(t, "/jsapp/")
	o.do(t, "/luaapp/throw")
	gwClient{"scgi", scgiAddr}.do(t, "GET", "/jsapp/", "")
	gwClient{"scgi", scgiAddr}.do(t, "GET", "/luaapp/", "")
	gwClient{"uwsgi", uwsgiAddr}.do(t, "GET", "/luaapp/", "")
	// A lying netstring: one bad header on the SCGI row.
	if c, err := net.Dial("tcp", scgiAddr); err == nil {
		io.WriteString(c, "99:CONTENT_LENGTH\x000\x00,")
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.ReadAll(c)
		c.Close()
	}
	testutil.Eventually(t, 30*time.Second, "the bad header counted and every gateway connection closed", func() bool {
		g := o.report(t).Gateways
		return g["scgi"] != nil && g["uwsgi"] != nil && g["scgi"].BadHeaders == 1 && g["scgi"].ActiveConns == 0 && g["uwsgi"].ActiveConns == 0
	})
	page := o.HTTP + "/fcgihost-status?html"
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir(), "--window-size=1280,900"}
		cmd := exec.CommandContext(ctx, chrome, append(base, args...)...)
		cmd.Dir = t.TempDir()
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, testutil.Tail(errb.String(), 2000))
		}
		return out.String()
	}
	dom := run("--dump-dom", page)
	rows := regexp.MustCompile(`<tr class="app" data-app="([^"]+)"`).FindAllStringSubmatch(dom, -1)
	var names []string
	for _, r := range rows {
		names = append(names, r[1])
	}
	if strings.Join(names, ",") != "jsapp,luaapp" {
		t.Errorf("app rows in the DOM: %v, want jsapp,luaapp", names)
	}
	if n := strings.Count(dom, `class="app-detail"`); n != 2 {
		t.Errorf("%d per-app tables, want 2", n)
	}
	if !strings.Contains(dom, `http-equiv="refresh"`) {
		t.Error("the page does not refresh itself")
	}
	// The gateway rows as the reader sees them: a copy of the page with a
	// script that reports each row's text and whether it is on screen (the
	// page itself has no script, so the copy renders the same).
	const measure = `<script>addEventListener("load", () => {
  const rows = [...document.querySelectorAll("tr.gateway")].map((r) => {
    const b = r.getBoundingClientRect();
    const shown = b.width > 0 && b.height > 0 && b.left >= 0 && b.right <= innerWidth && getComputedStyle(r).visibility === "visible";
    return r.dataset.gateway + "|" + r.innerText.replace(/\s+/g, " ").trim() + "|" + shown;
  });
  document.body.setAttribute("data-gateways", JSON.stringify(rows));
});</script>`
	html := testutil.Get(t, o.HTTP+"/fcgihost-status?html&refresh=0").Body
	copyFile := filepath.Join(t.TempDir(), "status.html")
	testutil.WriteFile(t, copyFile, strings.Replace(html, "</body>", measure+"</body>", 1), 0o644)
	m := regexp.MustCompile(`data-gateways="([^"]*)"`).FindStringSubmatch(run("--dump-dom", "file://"+copyFile))
	if m == nil {
		t.Fatal("no gateway measure in the DOM")
	}
	var gw []string
	if err := json.Unmarshal([]byte(stdhtml.UnescapeString(m[1])), &gw); err != nil {
		t.Fatalf("gateway measure %q: %v", m[1], err)
	}
	want := []string{
		"scgi|SCGI connections (open / total / bad header) 0 / 3 / 1|true",
		"scgi|SCGI requests · listeners 2 · 1|true",
		"uwsgi|uwsgi connections (open / total / bad header) 0 / 1 / 0|true",
		"uwsgi|uwsgi requests · listeners 1 · 1|true",
	}
	if strings.Join(gw, "\n") != strings.Join(want, "\n") {
		t.Errorf("gateway rows on screen:\n%s\nwant:\n%s", strings.Join(gw, "\n"), strings.Join(want, "\n"))
	}
	shot := filepath.Join(t.TempDir(), "status.png")
	run("--screenshot="+shot, "--hide-scrollbars", page)
	st, err := os.Stat(shot)
	if err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
	if dst := os.Getenv("FCGIHOST_STATUS_SCREENSHOT"); dst != "" {
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Error(err)
		}
	}
}
