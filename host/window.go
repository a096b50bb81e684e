package host

// This file holds the sliding-window figures of the status page: per app,
// the requests and a latency histogram of each of the last windowSlots
// slots of slotSeconds, so that the page can show the request rate and the
// p99 of the last minutes (the quantiles of AppMetrics cover the whole
// uptime).

import (
	"math"
	"sync/atomic"
	"time"
)

const (
	slotSeconds = 30
	windowSlots = 20 // 10 minutes
)

// window is lock-free: a slot is claimed for its period by swapping its
// epoch, then cleared; an observation racing with the clear may be lost,
// which a status figure can afford.
type window struct {
	slots [windowSlots]windowSlot
}

type windowSlot struct {
	epoch atomic.Int64 // the slot's period: unix seconds / slotSeconds
	count atomic.Uint64
	lat   latencyHist
}

// now is the window's clock (tests replace it).
var windowNow = func() time.Time { return time.Now() }

func (w *window) observe(d time.Duration) {
	e := windowNow().Unix() / slotSeconds
	s := &w.slots[e%windowSlots]
	if old := s.epoch.Load(); old != e && s.epoch.CompareAndSwap(old, e) {
		s.count.Store(0)
		for i := range s.lat.b {
			s.lat.b[i].Store(0)
		}
	}
	s.count.Add(1)
	s.lat.observe(d)
}

// WindowReport is the recent history of an app on the status page: one
// point per slot, oldest first, the last one the slot in progress.
type WindowReport struct {
	SlotSeconds int `json:"slot_s"`
	// Rate is requests per second in each slot (the slot in progress: so
	// far).
	Rate []float64 `json:"rate"`
	// P99MS is each slot's p99 latency in milliseconds, 0 with no request.
	P99MS []float64 `json:"p99_ms"`
	// LatencyMS are the quantiles over the whole window.
	LatencyMS map[string]float64 `json:"latency_ms"`
}

func (w *window) report() *WindowReport {
	now := windowNow()
	cur := now.Unix() / slotSeconds
	r := &WindowReport{SlotSeconds: slotSeconds, Rate: make([]float64, windowSlots), P99MS: make([]float64, windowSlots), LatencyMS: map[string]float64{}}
	var all latencyHist
	for i := 0; i < windowSlots; i++ {
		e := cur - windowSlots + 1 + int64(i)
		s := &w.slots[((e%windowSlots)+windowSlots)%windowSlots]
		if s.epoch.Load() != e {
			continue
		}
		n := s.count.Load()
		secs := float64(slotSeconds)
		if e == cur {
			secs = max(1, float64(now.Unix()-e*slotSeconds)+float64(now.Nanosecond())/1e9)
		}
		r.Rate[i] = math.Round(float64(n)/secs*100) / 100
		r.P99MS[i] = math.Round(s.lat.quantile(0.99)*1000) / 1000
		for j := range s.lat.b {
			all.b[j].Add(s.lat.b[j].Load())
		}
	}
	for _, lq := range latencyQuantiles {
		r.LatencyMS[lq.key] = math.Round(all.quantile(lq.q)*1000) / 1000
	}
	return r
}
