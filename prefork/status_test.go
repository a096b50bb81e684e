package prefork

import (
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/host"
)

// TestMerge: counters and pool sizes add up; reloads, the last reload and
// latency quantiles are the largest; an app only one worker has is kept.
func TestMerge(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	errMsg := "boom"
	a := &host.StatusReport{Accepted: 10, FastCGI: &host.FCGIReport{Requests: 10, ActiveRequests: 1}, Process: host.ProcessReport{VMs: 2, HeapBytes: 100},
		Apps: map[string]*host.AppReport{
			"x": {Workers: 2, Busy: 1, Requests: 9, Status: map[string]uint64{"2xx": 8, "5xx": 1}, Errors: 1, VMStarts: 2, Reloads: 1,
				LastReload: &t1, LatencyMS: map[string]float64{"p50": 1, "p99": 9}},
		}}
	b := &host.StatusReport{Accepted: 5, FastCGI: &host.FCGIReport{Requests: 5}, Process: host.ProcessReport{VMs: 3, HeapBytes: 50},
		Apps: map[string]*host.AppReport{
			"x": {Workers: 2, Idle: 2, Requests: 4, Status: map[string]uint64{"2xx": 4}, VMStarts: 2, Reloads: 1,
				LastReload: &t2, LastReloadError: &errMsg, LatencyMS: map[string]float64{"p50": 2, "p99": 3}},
			"y": {Workers: 1, Requests: 1},
		}}
	merge(a, b)
	x := a.Apps["x"]
	if a.Accepted != 15 || a.FastCGI.Requests != 15 || a.FastCGI.ActiveRequests != 1 || a.Process.VMs != 5 || a.Process.HeapBytes != 150 {
		t.Errorf("host figures: %+v %+v %+v", a, a.FastCGI, a.Process)
	}
	if x.Workers != 4 || x.Busy != 1 || x.Idle != 2 || x.Requests != 13 || x.Status["2xx"] != 12 || x.Status["5xx"] != 1 || x.Errors != 1 || x.VMStarts != 4 {
		t.Errorf("app x sums: %+v", x)
	}
	if x.Reloads != 1 || !x.LastReload.Equal(t2) || x.LastReloadError == nil || *x.LastReloadError != "boom" {
		t.Errorf("app x reloads: %d %v %v", x.Reloads, x.LastReload, x.LastReloadError)
	}
	if x.LatencyMS["p50"] != 2 || x.LatencyMS["p99"] != 9 {
		t.Errorf("app x latency: %v", x.LatencyMS)
	}
	if y := a.Apps["y"]; y == nil || y.Requests != 1 {
		t.Errorf("app y: %+v", y)
	}
	b.Apps["y"].Requests = 7
	if a.Apps["y"].Requests != 1 {
		t.Error("merge kept a pointer into the other report")
	}
}
