package host

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/registry"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/prometheus/common/expfmt"
)

// statusJSON fetches the status page as JSON through the host, as a
// front end would.
func (th *testHost) statusJSON(t *testing.T) *StatusReport {
	t.Helper()
	w := th.get(t, "/fcgihost-status")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("status page: %d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var rep StatusReport
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, w.Body)
	}
	return &rep
}

// TestStatus_CountersMove drives each kind of event through a host and
// checks that exactly the status figures it should move have moved.
func TestStatus_CountersMove(t *testing.T) {
	th := newTestHost(t, []string{"a", "r", "q"}, map[string]registry.Settings{
		"a": shortTimeout(2),
		"r": {Pool: pool.Options{Workers: 1, MaxRequests: 2}},
		"q": {Pool: pool.Options{Workers: 1, QueueTimeout: time.Millisecond}},
	})
	type delta = func(b, a *StatusReport) string // "" if the change is right
	moved := func(what string, before, after, want uint64) string {
		if after-before != want {
			return what + ": moved by " + itoa(int64(after-before)) + ", want " + itoa(int64(want))
		}
		return ""
	}
	tests := []struct {
		name  string
		do    func(t *testing.T)
		check delta
	}{
		{"2xx", func(t *testing.T) { th.get(t, "/a/") }, func(b, a *StatusReport) string {
			return moved("a 2xx", b.Apps["a"].Status["2xx"], a.Apps["a"].Status["2xx"], 1) +
				moved("a requests", b.Apps["a"].Requests, a.Apps["a"].Requests, 1) +
				moved("accepted", b.Accepted, a.Accepted, 2) // the request and the status read
		}},
		{"4xx", func(t *testing.T) { th.get(t, "/a/status/404") }, func(b, a *StatusReport) string {
			return moved("a 4xx", b.Apps["a"].Status["4xx"], a.Apps["a"].Status["4xx"], 1) +
				moved("a errors", b.Apps["a"].Errors, a.Apps["a"].Errors, 0)
		}},
		{"3xx", func(t *testing.T) { th.get(t, "/a/status/302") }, func(b, a *StatusReport) string {
			return moved("a 3xx", b.Apps["a"].Status["3xx"], a.Apps["a"].Status["3xx"], 1)
		}},
		{"script error", func(t *testing.T) {
			if w := th.get(t, "/a/throw"); w.Code != 500 {
				t.Fatalf("throw: %d", w.Code)
			}
		}, func(b, a *StatusReport) string {
			return moved("a 5xx", b.Apps["a"].Status["5xx"], a.Apps["a"].Status["5xx"], 1) +
				moved("a errors", b.Apps["a"].Errors, a.Apps["a"].Errors, 1) +
				moved("a timeouts", b.Apps["a"].Timeouts, a.Apps["a"].Timeouts, 0)
		}},
		{"timeout", func(t *testing.T) {
			if w := th.get(t, "/a/hang"); w.Code != 504 {
				t.Fatalf("hang: %d", w.Code)
			}
		}, func(b, a *StatusReport) string {
			return moved("a timeouts", b.Apps["a"].Timeouts, a.Apps["a"].Timeouts, 1) +
				moved("a 5xx", b.Apps["a"].Status["5xx"], a.Apps["a"].Status["5xx"], 1) +
				moved("a discarded VMs", b.Apps["a"].Discarded, a.Apps["a"].Discarded, 1)
		}},
		{"recycle", func(t *testing.T) { th.get(t, "/r/"); th.get(t, "/r/") }, func(b, a *StatusReport) string {
			return moved("r recycled", b.Apps["r"].Recycled, a.Apps["r"].Recycled, 1) +
				moved("a recycled", b.Apps["a"].Recycled, a.Apps["a"].Recycled, 0)
		}},
		{"queue full while busy", func(t *testing.T) {
			done := make(chan int)
			go func() { done <- th.get(t, "/q/block").Code }()
			<-th.gate.entered
			rep := th.statusJSON(t)
			if q := rep.Apps["q"]; q.Busy != 1 || q.Idle != 0 || q.InFlight != 1 {
				t.Errorf("while blocked: busy %d idle %d in_flight %d, want 1 0 1", q.Busy, q.Idle, q.InFlight)
			}
			if w := th.get(t, "/q/"); w.Code != 503 {
				t.Errorf("second request to a busy 1-worker app: %d, want 503", w.Code)
			}
			th.gate.open()
			if c := <-done; c != 200 {
				t.Errorf("blocked request: %d", c)
			}
		}, func(b, a *StatusReport) string {
			s := moved("q queue_full", b.Apps["q"].QueueFull, a.Apps["q"].QueueFull, 1) +
				moved("q 5xx", b.Apps["q"].Status["5xx"], a.Apps["q"].Status["5xx"], 1)
			if a.Apps["q"].MaxBusy != 1 || a.Apps["q"].MaxQueued < 1 || a.Apps["q"].Busy != 0 {
				s += "q max_busy/max_queued/busy wrong; "
			}
			return s
		}},
		{"aborted by the client", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			r := httptest.NewRequest("GET", "/q/block", nil).WithContext(ctx)
			r.RemoteAddr = "127.0.0.1:40000"
			done := make(chan struct{})
			go func() { th.ServeHTTP(httptest.NewRecorder(), r); close(done) }()
			<-th.gate.entered
			cancel()
			<-done
		}, func(b, a *StatusReport) string {
			return moved("q aborted", b.Apps["q"].Aborted, a.Apps["q"].Aborted, 1) +
				moved("q discarded", b.Apps["q"].Discarded, a.Apps["q"].Discarded, 1) +
				moved("q errors", b.Apps["q"].Errors, a.Apps["q"].Errors, 0)
		}},
		{"reload", func(t *testing.T) {
			writeApp(t, th.dir, "a", "v2")
			th.Registry.App("a").Reload()
		}, func(b, a *StatusReport) string {
			s := moved("a reloads", uint64(b.Apps["a"].Reloads), uint64(a.Apps["a"].Reloads), 1) +
				moved("a vm_starts", b.Apps["a"].VMStarts, a.Apps["a"].VMStarts, 2)
			if a.Apps["a"].Version == b.Apps["a"].Version || !a.Apps["a"].LastReload.After(*b.Apps["a"].LastReload) || a.Apps["a"].LastReloadError != nil {
				s += "version/last_reload did not change, or an error is shown; "
			}
			return s
		}},
		{"failed reload", func(t *testing.T) {
			writeApp(t, th.dir, "a", "SYNTAX")
			th.Registry.App("a").Reload()
		}, func(b, a *StatusReport) string {
			s := moved("a reloads", uint64(b.Apps["a"].Reloads), uint64(a.Apps["a"].Reloads), 0)
			if a.Apps["a"].Version != b.Apps["a"].Version {
				s += "version changed on a failed reload; "
			}
			if e := a.Apps["a"].LastReloadError; e == nil || !strings.Contains(*e, "SYNTAX") {
				s += "last_reload_error does not show the compile error; "
			}
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := th.statusJSON(t)
			tt.do(t)
			after := th.statusJSON(t)
			if msg := tt.check(before, after); msg != "" {
				t.Error(msg)
			}
		})
	}
	rep := th.statusJSON(t)
	a := rep.Apps["a"]
	if a.Engine != "fake" || a.Workers != 2 || a.Limits.Workers != 2 || a.Limits.Timeout != "50ms" || a.Limits.MemoryLimit != sandbox.DefaultMemoryLimit {
		t.Errorf("app a: engine %q workers %d limits %+v", a.Engine, a.Workers, a.Limits)
	}
	if a.LatencyMS["p50"] <= 0 || a.LatencyMS["p99"] < a.LatencyMS["p50"] {
		t.Errorf("latency %v: want 0 < p50 <= p99", a.LatencyMS)
	}
	if rep.Process.VMs != 4 || a.MemoryBytes <= 0 || a.MemoryBytes != rep.Process.HeapBytes/4 {
		t.Errorf("VMs %d, memory per VM %d of heap %d", rep.Process.VMs, a.MemoryBytes, rep.Process.HeapBytes)
	}
}

func writeApp(t *testing.T, dir, name, code string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".fk"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatus_Access: the page is answered to allowed addresses only, the
// ping path to anyone.
func TestStatus_Access(t *testing.T) {
	th := newTestHost(t, []string{"a"}, nil)
	th.StatusAllow = []string{"10.1.0.0/16"}
	tests := []struct {
		remote, path string
		want         int
	}{
		{"127.0.0.1:1", "/fcgihost-status", 403},
		{"10.1.2.3:1", "/fcgihost-status", 200},
		{"10.2.2.3:1", "/fcgihost-status?html", 403},
		{"192.0.2.9:1", "/ping", 200},
	}
	for _, tt := range tests {
		r := newReq(tt.path, tt.remote)
		w := serve(th, r)
		if w.Code != tt.want {
			t.Errorf("%s from %s: %d, want %d", tt.path, tt.remote, w.Code, tt.want)
		}
	}
}

// TestStatus_ListenQueue: with a FastCGI listener known, the JSON reports
// its queue; without one, null.
func TestStatus_ListenQueue(t *testing.T) {
	th := newTestHost(t, []string{"a"}, nil)
	if rep := th.statusJSON(t); rep.ListenQueue != nil || rep.FastCGI != nil {
		t.Fatalf("no listener: listen_queue %v fastcgi %v, want null", rep.ListenQueue, rep.FastCGI)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	th.Frontend.AddListener(l)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rep := th.statusJSON(t)
	if rep.ListenQueue == nil || *rep.ListenQueue != 1 || *rep.MaxListenQueue != 1 || *rep.ListenQueueLen <= 0 {
		t.Fatalf("one waiting connection: listen_queue %v max %v len %v", rep.ListenQueue, rep.MaxListenQueue, rep.ListenQueueLen)
	}
}

// TestStatus_Metrics parses the ?openmetrics output with Prometheus's own
// parser and checks that its figures are the JSON's.
func TestStatus_Metrics(t *testing.T) {
	th := newTestHost(t, []string{"a", `we"ird`}, nil)
	th.get(t, "/a/")
	th.get(t, "/a/status/404")
	th.get(t, "/a/throw")
	w := th.get(t, "/fcgihost-status?openmetrics")
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	body := w.Body.String()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	rep := th.statusJSON(t)
	value := func(fam string, labels map[string]string) (float64, bool) {
		f := fams[fam]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Summary != nil:
				return float64(m.Summary.GetSampleCount()), true
			}
		}
		return 0, false
	}
	a := rep.Apps["a"]
	checks := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{"fcgihost_app_requests_total", map[string]string{"app": "a"}, 3}, // the status reads are not app requests
		{"fcgihost_app_responses_total", map[string]string{"app": "a", "class": "2xx"}, 1},
		{"fcgihost_app_responses_total", map[string]string{"app": "a", "class": "4xx"}, 1},
		{"fcgihost_app_responses_total", map[string]string{"app": "a", "class": "5xx"}, 1},
		{"fcgihost_app_errors_total", map[string]string{"app": "a"}, float64(a.Errors)},
		{"fcgihost_app_workers", map[string]string{"app": `we"ird`}, 1},
		{"fcgihost_app_info", map[string]string{"app": "a", "engine": "fake", "version": a.Version}, 1},
		{"fcgihost_app_limit_timeout_seconds", map[string]string{"app": "a"}, 30},
		{"fcgihost_app_limit_memory_bytes", map[string]string{"app": "a"}, float64(sandbox.DefaultMemoryLimit)},
		{"fcgihost_app_latency_seconds", map[string]string{"app": "a"}, 3},
		{"fcgihost_start_time_seconds", nil, float64(rep.StartTime.Unix())},
	}
	for _, c := range checks {
		got, ok := value(c.fam, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	if a.Errors != 1 {
		t.Errorf("JSON errors = %d, want 1", a.Errors)
	}
}

// TestStatus_HTML: a row per app, a table per app, the refresh.
func TestStatus_HTML(t *testing.T) {
	th := newTestHost(t, []string{"a", "b<x>"}, nil)
	th.get(t, "/a/throw")
	tests := []struct {
		query, want string
	}{
		{"?html", `<meta http-equiv="refresh" content="5">`},
		{"?html&refresh=0", `no refresh`},
		{"?html&refresh=17", `content="17"`},
	}
	for _, tt := range tests {
		w := th.get(t, "/fcgihost-status"+tt.query)
		body := w.Body.String()
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: content type %q", tt.query, ct)
		}
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s: no %q in\n%s", tt.query, tt.want, body)
		}
		if n := strings.Count(body, `<tr class="app"`); n != 2 {
			t.Errorf("%s: %d app rows, want 2", tt.query, n)
		}
		if n := strings.Count(body, `<section class="app-detail"`); n != 2 {
			t.Errorf("%s: %d app tables, want 2", tt.query, n)
		}
		if strings.Contains(body, "b<x>") || !strings.Contains(body, `data-app="b&lt;x&gt;"`) {
			t.Errorf("%s: app name not escaped", tt.query)
		}
	}
}

// TestStatus_HTMLGateways: the summary has two rows per SCGI or uwsgi
// gateway with the same figures as the JSON, in protocol order; none
// without gateways.
func TestStatus_HTMLGateways(t *testing.T) {
	th := newTestHost(t, []string{"a"}, nil)
	if body := th.get(t, "/fcgihost-status?html").Body.String(); strings.Contains(body, `class="gateway"`) {
		t.Errorf("gateway rows without a gateway:\n%s", body)
	}
	th.Frontend.SetGateway("uwsgi", func() GatewayReport {
		return GatewayReport{Listeners: 2, Connections: 31, ActiveConns: 4, Requests: 29, BadHeaders: 0}
	})
	th.Frontend.SetGateway("scgi", func() GatewayReport {
		return GatewayReport{Listeners: 1, Connections: 17, ActiveConns: 0, Requests: 15, BadHeaders: 2}
	})
	body := th.get(t, "/fcgihost-status?html").Body.String()
	for _, want := range []string{
		`<tr class="gateway" data-gateway="scgi"><th class="l">SCGI connections (open / total / bad header)</th><td>0 / 17 / <span class="bad">2</span></td></tr>`,
		`<tr class="gateway" data-gateway="scgi"><th class="l">SCGI requests · listeners</th><td>15 · 1</td></tr>`,
		`<tr class="gateway" data-gateway="uwsgi"><th class="l">uwsgi connections (open / total / bad header)</th><td>4 / 31 / <span>0</span></td></tr>`,
		`<tr class="gateway" data-gateway="uwsgi"><th class="l">uwsgi requests · listeners</th><td>29 · 2</td></tr>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if strings.Index(body, `data-gateway="scgi"`) > strings.Index(body, `data-gateway="uwsgi"`) {
		t.Error("gateway rows not in protocol order")
	}
}
