package host

// This file holds the status page's figures (StatusReport, built by
// Host.Report) and its handler, which renders them as JSON (default), a
// self-refreshing HTML page (?html, status_html.go) or the Prometheus text
// exposition format (?openmetrics, status_metrics.go). Every field is
// documented in docs/observability.md.

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/fcgihost/fcgihost/isolation"
)

// StatusReport is the JSON of the status page (docs/reference.md §6).
type StatusReport struct {
	StartTime time.Time `json:"start_time"`
	UptimeS   int64     `json:"uptime_s"`
	PID       int       `json:"pid"`
	// Accepted counts requests received by the host (every transport).
	Accepted uint64 `json:"accepted"`
	Panics   uint64 `json:"panics"`
	// ListenQueue is the FastCGI listeners' accept queue now,
	// MaxListenQueue the highest seen, ListenQueueLen the kernel backlog;
	// null when no listener could be measured.
	ListenQueue    *int        `json:"listen_queue"`
	MaxListenQueue *int        `json:"max_listen_queue"`
	ListenQueueLen *int        `json:"listen_queue_len"`
	FastCGI        *FCGIReport `json:"fastcgi"`
	// Gateways are the SCGI and uwsgi servers' counters, by protocol
	// ("scgi", "uwsgi"); absent when none listens.
	Gateways map[string]*GatewayReport `json:"gateways,omitempty"`
	Process  ProcessReport             `json:"process"`
	Apps     map[string]*AppReport     `json:"apps"`
	// Processes is the master's and each worker's part when a master runs
	// workers (docs/processes.md); the figures above are then the sums of
	// every worker's.
	Processes any `json:"processes,omitempty"`
}

// FCGIReport are the FastCGI server's connection counters.
type FCGIReport struct {
	Listeners      int    `json:"listeners"`
	Connections    uint64 `json:"connections"`
	Rejected       uint64 `json:"connections_rejected"`
	ActiveConns    int64  `json:"active_connections"`
	ActiveRequests int64  `json:"active_requests"`
	Requests       uint64 `json:"requests"`
	Refused        uint64 `json:"requests_refused"`
}

// GatewayReport are an SCGI or uwsgi server's counters.
type GatewayReport struct {
	Listeners   int    `json:"listeners"`
	Connections uint64 `json:"connections"`
	ActiveConns int64  `json:"active_connections"`
	Requests    uint64 `json:"requests"`
	BadHeaders  uint64 `json:"bad_headers"` // connections closed for a malformed or stalled header
}

// ProcessReport describes the fcgihost process.
type ProcessReport struct {
	HeapBytes  int64  `json:"heap_bytes"`
	Goroutines int    `json:"goroutines"`
	VMs        int    `json:"vms"`
	GoVersion  string `json:"go_version"`
}

// AppReport is one app's part of the status page.
type AppReport struct {
	Engine          string             `json:"engine"`
	Style           string             `json:"style,omitempty"`
	Entry           string             `json:"entry"`
	Version         string             `json:"version"`
	Workers         int                `json:"workers"`
	Busy            int                `json:"busy"`
	Idle            int                `json:"idle"`
	Queued          int                `json:"queued"`
	MaxBusy         int                `json:"max_busy"`
	MaxQueued       int                `json:"max_queued"`
	QueueFull       uint64             `json:"queue_full"`
	QueueTimeouts   uint64             `json:"queue_timeouts"`
	InFlight        int64              `json:"in_flight"`
	Requests        uint64             `json:"requests"`
	Status          map[string]uint64  `json:"status"`
	Errors          uint64             `json:"errors"`
	Timeouts        uint64             `json:"timeouts"`
	Aborted         uint64             `json:"aborted"`
	Slow            uint64             `json:"slow"`
	Recycled        uint64             `json:"recycled"`
	Discarded       uint64             `json:"discarded"`
	VMStarts        uint64             `json:"vm_starts"`
	Reloads         int                `json:"reloads"`
	LastReload      *time.Time         `json:"last_reload"`
	LastReloadError *string            `json:"last_reload_error"`
	LatencyMS       map[string]float64 `json:"latency_ms"`
	MemoryBytes     int64              `json:"memory_bytes"`
	Limits          LimitsReport       `json:"limits"`
	// Isolation is the child process of an app with isolation = "process"
	// (state, pid, rss_bytes, restarts, recycles, last_exit…).
	Isolation *isolation.Stats `json:"isolation,omitempty"`

	// Recent is the request rate and latency of the last minutes.
	Recent *WindowReport `json:"recent,omitempty"`
}

// LimitsReport are an app's configured limits, shown next to its figures.
type LimitsReport struct {
	Workers      int    `json:"workers"`
	MaxRequests  int    `json:"max_requests"`
	QueueSize    int    `json:"queue_size"`
	QueueTimeout string `json:"queue_timeout"`
	Timeout      string `json:"timeout"`
	MemoryLimit  int64  `json:"memory_limit"`
	MaxBody      int64  `json:"max_body"`
	MaxResponse  int64  `json:"max_response"`
	Slowlog      string `json:"slowlog"`
}

// latencyQuantiles are the quantiles reported, by JSON key.
var latencyQuantiles = []struct {
	key string
	q   float64
}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}}

// Report builds the status report now.
func (h *Host) Report() *StatusReport {
	if !h.inited.Load() {
		h.Start()
	}
	rep := &StatusReport{
		StartTime: h.started.UTC().Truncate(time.Second),
		UptimeS:   int64(time.Since(h.started).Seconds()),
		PID:       os.Getpid(),
		Accepted:  h.Metrics.Accepted.Load(),
		Panics:    h.Metrics.Panics.Load(),
		Apps:      map[string]*AppReport{},
		Process:   ProcessReport{HeapBytes: heapBytes(), Goroutines: runtime.NumGoroutine(), GoVersion: runtime.Version()},
	}
	if h.Frontend != nil {
		if q := h.Frontend.Queue(); q.Known {
			rep.ListenQueue, rep.MaxListenQueue, rep.ListenQueueLen = &q.Now, &q.Max, &q.Len
		}
		if st, ok := h.Frontend.Stats(); ok {
			rep.FastCGI = &FCGIReport{
				Listeners: h.Frontend.listenerCount(), Connections: st.Accepted, Rejected: st.Rejected,
				ActiveConns: st.ActiveConns, ActiveRequests: st.ActiveRequests, Requests: st.Requests, Refused: st.Refused,
			}
		}
	}
	if g := h.Frontend.gatewayReports(); len(g) > 0 {
		rep.Gateways = g
	}
	for _, a := range h.Registry.Apps() {
		set := a.Settings()
		lim := set.Limits.WithDefaults()
		ar := &AppReport{
			Engine: a.Engine.Name(),
			Entry:  a.Entry,
			Status: map[string]uint64{},
			Limits: LimitsReport{
				Workers: set.Pool.Workers, MaxRequests: set.Pool.MaxRequests, QueueSize: set.Pool.QueueSize,
				QueueTimeout: set.Pool.QueueTimeout.String(), Timeout: lim.Timeout.String(),
				MemoryLimit: lim.MemoryLimit, MaxBody: lim.MaxBody, MaxResponse: lim.MaxResponse,
				Slowlog: set.Slowlog.String(),
			},
		}
		st := a.Status()
		ar.Version = st.Version
		ar.Reloads = st.Reloads
		if !st.LastReload.IsZero() {
			t := st.LastReload.UTC()
			ar.LastReload = &t
		}
		if st.LastError != nil {
			e := st.LastError.Error()
			ar.LastReloadError = &e
		}
		if b, ok := a.CurrentBackend().(interface{ Stats() isolation.Stats }); ok {
			st := b.Stats()
			ar.Isolation = &st
		}
		if p := a.CurrentPool(); p != nil {
			ps := p.Stats()
			ar.Style = p.Bundle().Style().String()
			ar.Workers, ar.Busy, ar.Idle, ar.Queued = ps.Workers, ps.Busy, ps.Idle, ps.Queued
			ar.MaxBusy, ar.MaxQueued = ps.MaxBusy, ps.MaxQueued
			ar.QueueFull, ar.QueueTimeouts = ps.QueueFull+ps.Timeouts, ps.Timeouts
			ar.Recycled, ar.Discarded, ar.VMStarts = ps.Recycled, ps.Discarded, ps.VMStarts
			rep.Process.VMs += ps.Workers
		}
		m := h.Metrics.App(a.Name)
		ar.Requests = m.Requests.Load()
		ar.InFlight = m.InFlight.Load()
		for i := 1; i <= 5; i++ {
			ar.Status[string(rune('0'+i))+"xx"] = m.Status[i].Load()
		}
		ar.Errors = m.Errors.Load()
		ar.Timeouts = m.Timeouts.Load()
		ar.Aborted = m.Aborted.Load()
		ar.Slow = m.Slow.Load()
		ar.LatencyMS = map[string]float64{}
		for _, lq := range latencyQuantiles {
			ar.LatencyMS[lq.key] = math.Round(m.Quantile(lq.q)*1000) / 1000 // µs resolution
		}
		ar.Recent = m.Recent()
		rep.Apps[a.Name] = ar
	}
	// Memory per VM: the engines measure no per-VM heap, so each VM is
	// shown an equal share of the live Go heap (docs/observability.md).
	if rep.Process.VMs > 0 {
		share := rep.Process.HeapBytes / int64(rep.Process.VMs)
		for _, ar := range rep.Apps {
			if ar.Workers > 0 {
				ar.MemoryBytes = share
			}
		}
	}
	return rep
}

func (f *Frontend) listenerCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.listeners)
}

// heapBytes is the memory held by live and not yet swept heap objects.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// NewStatusHandler returns the status page handler of h: JSON by default,
// an HTML page with ?html (refreshing itself every 5s; ?html&refresh=N to
// change, 0 = never), and the Prometheus text format with ?openmetrics
// (or ?metrics).
func NewStatusHandler(h *Host) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Cache-Control", "no-store")
		rep := h.Report()
		if h.Aggregate != nil {
			h.Aggregate(rep)
		}
		switch {
		case q.Has("openmetrics") || q.Has("metrics"):
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			writeMetrics(w, rep)
		case q.Has("html"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			writeHTML(w, rep, refreshSeconds(q.Get("refresh")))
		default:
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		}
	})
}
