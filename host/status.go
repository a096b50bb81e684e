package host

import (
	"encoding/json"
	"net/http"
	"time"
)

// StatusReport is the JSON of the status page (SPEC.md §8).
type StatusReport struct {
	StartTime time.Time             `json:"start_time"`
	UptimeS   int64                 `json:"uptime_s"`
	Accepted  uint64                `json:"accepted"`
	Panics    uint64                `json:"panics"`
	Apps      map[string]*AppReport `json:"apps"`
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
	Requests        uint64             `json:"requests"`
	Status          map[string]uint64  `json:"status"`
	Errors          uint64             `json:"errors"`
	Timeouts        uint64             `json:"timeouts"`
	Aborted         uint64             `json:"aborted"`
	Recycled        uint64             `json:"recycled"`
	Discarded       uint64             `json:"discarded"`
	VMStarts        uint64             `json:"vm_starts"`
	Reloads         int                `json:"reloads"`
	LastReload      *time.Time         `json:"last_reload"`
	LastReloadError *string            `json:"last_reload_error"`
	LatencyMS       map[string]float64 `json:"latency_ms"`
	MemoryBytes     int64              `json:"memory_bytes"`
	Limits          LimitsReport       `json:"limits"`
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
}

// Report builds the status report now.
func (h *Host) Report() *StatusReport {
	rep := &StatusReport{
		StartTime: h.started.UTC().Truncate(time.Second),
		UptimeS:   int64(time.Since(h.started).Seconds()),
		Accepted:  h.Metrics.Accepted.Load(),
		Panics:    h.Metrics.Panics.Load(),
		Apps:      map[string]*AppReport{},
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
				MemoryLimit: lim.MemoryLimit, MaxBody: lim.MaxBody,
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
		if p := a.CurrentPool(); p != nil {
			ps := p.Stats()
			ar.Style = p.Bundle().Style().String()
			ar.Workers, ar.Busy, ar.Idle, ar.Queued = ps.Workers, ps.Busy, ps.Idle, ps.Queued
			ar.MaxBusy, ar.MaxQueued, ar.QueueFull = ps.MaxBusy, ps.MaxQueued, ps.QueueFull+ps.Timeouts
			ar.Recycled, ar.Discarded, ar.VMStarts = ps.Recycled, ps.Discarded, ps.VMStarts
		}
		m := h.Metrics.App(a.Name)
		ar.Requests = m.Requests.Load()
		for i := 1; i <= 5; i++ {
			ar.Status[string(rune('0'+i))+"xx"] = m.Status[i].Load()
		}
		ar.Errors = m.Errors.Load()
		ar.Timeouts = m.Timeouts.Load()
		ar.Aborted = m.Aborted.Load()
		ar.LatencyMS = map[string]float64{"p50": m.Quantile(0.5), "p99": m.Quantile(0.99)}
		rep.Apps[a.Name] = ar
	}
	return rep
}

// NewStatusHandler returns the status page handler of h (JSON).
func NewStatusHandler(h *Host) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(h.Report())
	})
}
