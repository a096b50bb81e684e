package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// bench --compare runs a script over every transport: each row answered
// every request, and the chart is well-formed SVG naming each transport.
func TestBenchCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per CGI request")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "hi.lua")
	if err := os.WriteFile(script, []byte("return function(req, res) res:write('hi ' .. (req.query.n or '')) end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	svg := filepath.Join(dir, "c.svg")
	interp := testutil.Binary(t)
	out, err := runMain(t, "bench", "--compare", script, "--cgi-interpreter", interp, "-n", "12", "-c", "2", "--json", "--svg", svg, "/hi?n=1")
	if err != nil {
		t.Fatalf("bench --compare: %v", err)
	}
	var got struct {
		Rows []compareRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	want := []string{"CGI", "FastCGI keep-conn", "FastCGI", "SCGI", "uwsgi", "HTTP"}
	if len(got.Rows) != len(want) {
		t.Fatalf("rows %+v, want %v", got.Rows, want)
	}
	for i, r := range got.Rows {
		if r.Transport != want[i] || r.Requests != 12 || r.Errors != 0 || r.Status[200] != 12 || r.RPS <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	if got.Rows[0].Ratio != 1 {
		t.Errorf("CGI's ratio to itself is %v", got.Rows[0].Ratio)
	}

	// The chart: parse it, and find a label and a bar per transport.
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		XMLName xml.Name
		Attrs   []xml.Attr `xml:",any,attr"`
		Text    string     `xml:",chardata"`
		Nodes   []node     `xml:",any"`
	}
	var root node
	if err := xml.Unmarshal(b, &root); err != nil {
		t.Fatalf("the SVG does not parse: %v", err)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v", root.XMLName)
	}
	texts := map[string]bool{}
	bars, dots := 0, 0
	for _, n := range root.Nodes {
		switch n.XMLName.Local {
		case "text":
			texts[strings.TrimSpace(n.Text)] = true
		case "rect":
			if len(n.Nodes) > 0 {
				bars++
			}
		case "circle":
			dots++
		}
	}
	for _, w := range want {
		if !texts[w] {
			t.Errorf("no label %q in the chart", w)
		}
	}
	if bars != len(want) || dots != len(want) {
		t.Errorf("%d bars and %d p50 marks, want %d each", bars, dots, len(want))
	}
	if !texts["1ms"] && !texts["10ms"] && !texts["100ms"] {
		t.Errorf("no latency axis labels: %v", texts)
	}

	// The table.
	out, err = runMain(t, "bench", "--compare", script, "--cgi-interpreter", interp, "-n", "4", "-c", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range append(want, "requests/s", "p50", "p99", "CPU/request", "vs CGI", "4×200") {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
}
