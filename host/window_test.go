package host

import (
	"testing"
	"time"
)

// The window keeps each slot's requests and latency, reports them oldest
// first, forgets a slot once its period has come round again, and rates
// the slot in progress by the time it has run.
func TestWindow(t *testing.T) {
	t0 := time.Unix(1_000_000_010, 0) // 20 s into a slot (999 999 990 is a multiple of 30)
	now := t0
	windowNow = func() time.Time { return now }
	defer func() { windowNow = time.Now }()
	var w window
	for i := 0; i < 60; i++ {
		w.observe(2 * time.Millisecond)
	}
	now = now.Add(slotSeconds * time.Second) // the next slot, same offset
	for i := 0; i < 10; i++ {
		w.observe(100 * time.Millisecond)
	}
	r := w.report()
	n := len(r.Rate)
	if r.Rate[n-2] != 2 || r.Rate[n-1] != 0.5 {
		t.Errorf("rates %v: want 60/30 s = 2 then 10/20 s = 0.5 at the end", r.Rate)
	}
	if p := r.P99MS[n-2]; p < 1.8 || p > 2.4 {
		t.Errorf("p99 of the 2 ms slot = %v", p)
	}
	if p := r.P99MS[n-1]; p < 90 || p > 120 {
		t.Errorf("p99 of the 100 ms slot = %v", p)
	}
	if p := r.LatencyMS["p50"]; p < 1.8 || p > 2.4 {
		t.Errorf("window p50 = %v, want about 2 ms (60 of 70 requests)", p)
	}
	now = now.Add(windowSlots * slotSeconds * time.Second) // the window has moved past both
	r = w.report()
	for i, v := range r.Rate {
		if v != 0 || r.P99MS[i] != 0 {
			t.Fatalf("after the window passed: rate %v p99 %v", r.Rate, r.P99MS)
		}
	}
	w.observe(time.Millisecond) // reuses the first slot's place: the old counts are gone
	if r := w.report(); r.Rate[len(r.Rate)-1] != 0.05 {
		t.Errorf("reused slot: rate %v, want 1/20 s", r.Rate[len(r.Rate)-1])
	}
}
