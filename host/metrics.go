package host

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics are the host's counters, read by the status page.
type Metrics struct {
	Accepted atomic.Uint64 // requests received
	Panics   atomic.Uint64 // Go panics recovered

	mu   sync.RWMutex
	apps map[string]*AppMetrics
}

// App returns (creating if needed) the counters of app name.
func (m *Metrics) App(name string) *AppMetrics {
	m.mu.RLock()
	a := m.apps[name]
	m.mu.RUnlock()
	if a != nil {
		return a
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.apps == nil {
		m.apps = map[string]*AppMetrics{}
	}
	if a = m.apps[name]; a == nil {
		a = &AppMetrics{}
		m.apps[name] = a
	}
	return a
}

// AppNames lists the apps with counters, sorted.
func (m *Metrics) AppNames() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.apps))
	for n := range m.apps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// AppMetrics are one app's request counters.
type AppMetrics struct {
	Requests  atomic.Uint64
	InFlight  atomic.Int64
	Errors    atomic.Uint64 // script errors and other 5xx causes
	Timeouts  atomic.Uint64
	Aborted   atomic.Uint64
	QueueFull atomic.Uint64
	Slow      atomic.Uint64    // requests that ran past the app's slowlog
	Status    [6]atomic.Uint64 // index status/100: 1xx..5xx; 0 = none sent

	lat latencyHist
	win window // the last minutes (window.go)
}

// Observe counts one finished request.
func (a *AppMetrics) Observe(status int, d time.Duration) {
	a.Requests.Add(1)
	c := status / 100
	if c < 0 || c > 5 {
		c = 0
	}
	a.Status[c].Add(1)
	a.lat.observe(d)
	a.win.observe(d)
}

// Recent returns the app's figures over the last minutes.
func (a *AppMetrics) Recent() *WindowReport { return a.win.report() }

// Quantile returns the q-quantile (0..1) of request latency in
// milliseconds, estimated from a log-scale histogram (±9%).
func (a *AppMetrics) Quantile(q float64) float64 { return a.lat.quantile(q) }

// latencyHist is a lock-free histogram with buckets growing by 2^(1/4)
// from 1µs.
type latencyHist struct {
	b [128]atomic.Uint64
}

const histBase = 1.189207115002721 // 2^(1/4)

func (h *latencyHist) observe(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = int(math.Log(us)/math.Log(histBase)) + 1
	}
	if i >= len(h.b) {
		i = len(h.b) - 1
	}
	h.b[i].Add(1)
}

func (h *latencyHist) quantile(q float64) float64 {
	var counts [128]uint64
	var total uint64
	for i := range h.b {
		counts[i] = h.b[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			// upper bound of bucket i, in ms
			return math.Pow(histBase, float64(i)) / 1000
		}
	}
	return 0
}
