package prefork

import (
	"strings"
	"testing"
	"time"
)

func newTestTable(t testing.TB) (*table, *table) {
	t.Helper()
	f, err := newTableFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := mapTable(f, true)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapTable(f, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close(); m.close() })
	return w, m
}

// TestTable_SharedView: what a worker records, the master's own mapping
// reads: running requests, the count, and nothing once they end.
func TestTable_SharedView(t *testing.T) {
	w, m := newTestTable(t)
	a := w.begin(describe("GET", "/app/a", "/srv/app.js"))
	b := w.begin(describe("POST", "/app/b", ""))
	run := m.running()
	if len(run) != 2 {
		t.Fatalf("running %+v, want 2", run)
	}
	whats := run[0].What + "|" + run[1].What
	if !strings.Contains(whats, "GET /app/a (/srv/app.js)") || !strings.Contains(whats, "POST /app/b") {
		t.Errorf("running: %q", whats)
	}
	if d := time.Since(run[0].Started); d < 0 || d > time.Hour {
		t.Errorf("start time %s", run[0].Started)
	}
	w.end(a)
	if run := m.running(); len(run) != 1 || !strings.HasPrefix(run[0].What, "POST") {
		t.Errorf("after one end: %+v", run)
	}
	w.end(b)
	if run := m.running(); len(run) != 0 || m.requests() != 2 || m.inFlight() != 0 {
		t.Errorf("after both: running %+v requests %d in flight %d", run, m.requests(), m.inFlight())
	}
}

// TestTable_Full: past its entries a request is counted, not recorded,
// and a long line is cut to its entry.
func TestTable_Full(t *testing.T) {
	w, m := newTestTable(t)
	var ids []int
	for range tableEntries + 5 {
		ids = append(ids, w.begin(describe("GET", "/"+strings.Repeat("x", 1000), "")))
	}
	if n := len(m.running()); n != tableEntries {
		t.Errorf("%d recorded, want %d", n, tableEntries)
	}
	if got := len(m.running()[0].What); got > textMax {
		t.Errorf("a line of %d bytes, more than %d", got, textMax)
	}
	for _, i := range ids {
		w.end(i)
	}
	if m.inFlight() != 0 || m.requests() != uint64(tableEntries+5) || len(m.running()) != 0 {
		t.Errorf("after all ended: in flight %d requests %d", m.inFlight(), m.requests())
	}
}

// BenchmarkTable_BeginEnd is the per-request cost of the slot table.
func BenchmarkTable_BeginEnd(b *testing.B) {
	w, _ := newTestTable(b)
	b.ReportAllocs()
	for b.Loop() {
		w.end(w.begin(describe("GET", "/hello/world?x=1", "/var/www/hello.js")))
	}
}
