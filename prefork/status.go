package prefork

// This file holds the status page of a master's workers: the master keeps
// a state file (its supervisor's snapshot) in its private run directory;
// each worker answers its own figures on a unix socket there; the worker
// that answers a status request adds up every live worker's figures and
// lists the workers (docs/processes.md, "Status page").

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/host"
)

// MasterState is what the master publishes for the status page.
type MasterState struct {
	PID       int          `json:"master_pid"`
	StartTime time.Time    `json:"start_time"`
	Pool      string       `json:"pool"`
	Processes int          `json:"processes"`
	Limit     string       `json:"memory_limit_by,omitempty"`
	MemLimit  int64        `json:"memory_limit"`
	Workers   []WorkerInfo `json:"workers"`
	Waiting   []SlotInfo   `json:"waiting,omitempty"`
}

// WorkerReport is one worker's line in the status page: the master's view
// plus the worker's own counters.
type WorkerReport struct {
	WorkerInfo
	Requests uint64 `json:"requests"`
	InFlight int64  `json:"in_flight"`
	RSSBytes int64  `json:"rss_bytes"`
	// Error says why the worker's figures are missing.
	Error string `json:"error,omitempty"`
}

// ProcessesReport is the "processes" part of the status page.
type ProcessesReport struct {
	MasterPID int            `json:"master_pid"`
	Pool      string         `json:"pool"`
	Processes int            `json:"processes"`
	Limit     string         `json:"memory_limit_by,omitempty"`
	MemLimit  int64          `json:"memory_limit"`
	Workers   []WorkerReport `json:"workers"`
	Waiting   []SlotInfo     `json:"waiting,omitempty"`
}

const stateFile = "master.json"

// writeState publishes the supervisor's snapshot (atomically).
func (m *Master) writeState() {
	if m.runDir == "" {
		return
	}
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	ws, ss := m.sup.Snapshot()
	st := MasterState{PID: os.Getpid(), StartTime: m.started.UTC().Truncate(time.Second), Pool: m.c.Name,
		Processes: m.c.Processes, MemLimit: m.c.MemoryLimit, Workers: ws, Waiting: ss}
	if m.c.Limits != nil {
		st.Limit = m.c.Limits.Kind()
	}
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	tmp := filepath.Join(m.runDir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return
	}
	os.Rename(tmp, filepath.Join(m.runDir, stateFile))
}

func sockPath(runDir string, pid int) string {
	return filepath.Join(runDir, "w-"+strconv.Itoa(pid)+".sock")
}

// ServeReports answers this worker's own status report on its socket in
// the master's run directory, for the worker that builds a status page.
// It returns a function that stops it.
func (w *Worker) ServeReports(report func() *host.StatusReport) (stop func()) {
	if w == nil || w.runDir == "" {
		return func() {}
	}
	path := sockPath(w.runDir, os.Getpid())
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return func() {}
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(report())
	})}
	go srv.Serve(l)
	return func() {
		srv.Close()
		os.Remove(path)
	}
}

// Aggregate completes local (this worker's report) into the whole
// master's: the sums of every live worker's figures, and the list of
// workers. It is the host's Aggregate hook.
func (w *Worker) Aggregate(local *host.StatusReport) {
	if w == nil || w.runDir == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(w.runDir, stateFile))
	if err != nil {
		return
	}
	var st MasterState
	if json.Unmarshal(b, &st) != nil {
		return
	}
	self := os.Getpid()
	pr := &ProcessesReport{MasterPID: st.PID, Pool: st.Pool, Processes: st.Processes, Limit: st.Limit, MemLimit: st.MemLimit, Waiting: st.Waiting}
	reps := make([]*host.StatusReport, len(st.Workers))
	errs := make([]string, len(st.Workers))
	var wg sync.WaitGroup
	for i, wi := range st.Workers {
		if wi.PID == self {
			reps[i] = local
			continue
		}
		if wi.State == WStarting || wi.State == WExited {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := fetchReport(sockPath(w.runDir, wi.PID))
			if err != nil {
				errs[i] = err.Error()
				return
			}
			reps[i] = r
		}()
	}
	wg.Wait()
	for i, wi := range st.Workers {
		wr := WorkerReport{WorkerInfo: wi, Error: errs[i], RSSBytes: RSS(wi.PID)}
		if r := reps[i]; r != nil {
			wr.Requests = r.Accepted
			if r.FastCGI != nil {
				wr.InFlight = r.FastCGI.ActiveRequests
			}
			if r != local {
				merge(local, r)
			}
		}
		pr.Workers = append(pr.Workers, wr)
	}
	local.PID = st.PID
	local.StartTime = st.StartTime
	local.UptimeS = int64(time.Since(st.StartTime).Seconds())
	local.Processes = pr
}

func fetchReport(path string) (*host.StatusReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://worker/report", nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, errors.New(resp.Status)
	}
	var r host.StatusReport
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// merge adds r's figures into dst: counters and pool sizes add up; an
// app's reload count, last reload and latency quantiles are the largest
// (a quantile of the union is not known from the parts: the largest is
// an upper bound).
func merge(dst, r *host.StatusReport) {
	dst.Accepted += r.Accepted
	dst.Panics += r.Panics
	if r.FastCGI != nil {
		if dst.FastCGI == nil {
			f := *r.FastCGI
			dst.FastCGI = &f
		} else {
			f := dst.FastCGI
			f.Connections += r.FastCGI.Connections
			f.Rejected += r.FastCGI.Rejected
			f.ActiveConns += r.FastCGI.ActiveConns
			f.ActiveRequests += r.FastCGI.ActiveRequests
			f.Requests += r.FastCGI.Requests
			f.Refused += r.FastCGI.Refused
		}
	}
	if len(r.Gateways) > 0 && dst.Gateways == nil {
		dst.Gateways = map[string]*host.GatewayReport{}
	}
	mergeByName(dst.Gateways, r.Gateways, func(d, g *host.GatewayReport) {
		d.Connections += g.Connections
		d.ActiveConns += g.ActiveConns
		d.Requests += g.Requests
		d.BadHeaders += g.BadHeaders
	})
	dst.Process.HeapBytes += r.Process.HeapBytes
	dst.Process.Goroutines += r.Process.Goroutines
	dst.Process.VMs += r.Process.VMs
	if dst.Apps == nil {
		dst.Apps = map[string]*host.AppReport{}
	}
	mergeByName(dst.Apps, r.Apps, func(d, a *host.AppReport) {
		d.Workers += a.Workers
		d.Busy += a.Busy
		d.Idle += a.Idle
		d.Queued += a.Queued
		d.MaxBusy += a.MaxBusy
		d.MaxQueued += a.MaxQueued
		d.QueueFull += a.QueueFull
		d.QueueTimeouts += a.QueueTimeouts
		d.InFlight += a.InFlight
		d.Requests += a.Requests
		if d.Status == nil {
			d.Status = map[string]uint64{}
		}
		for k, n := range a.Status {
			d.Status[k] += n
		}
		d.Errors += a.Errors
		d.Timeouts += a.Timeouts
		d.Aborted += a.Aborted
		d.Slow += a.Slow
		d.Recycled += a.Recycled
		d.Discarded += a.Discarded
		d.VMStarts += a.VMStarts
		d.Reloads = max(d.Reloads, a.Reloads)
		if a.LastReload != nil && (d.LastReload == nil || a.LastReload.After(*d.LastReload)) {
			d.LastReload = a.LastReload
		}
		if d.LastReloadError == nil {
			d.LastReloadError = a.LastReloadError
		}
		if d.LatencyMS == nil {
			d.LatencyMS = map[string]float64{}
		}
		for q, x := range a.LatencyMS {
			d.LatencyMS[q] = max(d.LatencyMS[q], x)
		}
		d.MemoryBytes = max(d.MemoryBytes, a.MemoryBytes)
		if d.Isolation == nil {
			d.Isolation = a.Isolation
		}
	})
}

// mergeByName adds each of src's entries into dst's entry of the same
// name with add, or copies it in when dst has none.
func mergeByName[T any](dst, src map[string]*T, add func(d, s *T)) {
	for name, v := range src {
		if d, ok := dst[name]; ok {
			add(d, v)
			continue
		}
		c := *v
		dst[name] = &c
	}
}
