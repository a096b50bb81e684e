package host

// This file draws the status page's small charts: inline SVG, rendered on
// the server from the sliding-window figures (window.go), no script and no
// external asset.

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
)

// sparkline draws vals (oldest first) as a line over a filled area, w×h
// pixels, scaled to the largest value; label names the series for screen
// readers and the tooltip, unit follows each value there.
func sparkline(vals []float64, w, h int, label, unit string) template.HTML {
	peak := 0.0
	for _, v := range vals {
		peak = max(peak, v)
	}
	var pts strings.Builder
	n := len(vals)
	for i, v := range vals {
		x := 0.0
		if n > 1 {
			x = float64(i) * float64(w-2) / float64(n-1)
		}
		y := float64(h - 1)
		if peak > 0 {
			y = float64(h-1) - v/peak*float64(h-3)
		}
		fmt.Fprintf(&pts, "%.1f,%.1f ", x+1, y)
	}
	last := 0.0
	if n > 0 {
		last = vals[n-1]
	}
	title := fmt.Sprintf("%s: now %s%s, peak %s%s over the last %d minutes", label, num(last), unit, num(peak), unit, n*slotSeconds/60)
	line := strings.TrimSpace(pts.String())
	area := fmt.Sprintf("1,%d %s %d,%d", h-1, line, w-1, h-1)
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`+
		`<polygon points="%s" fill="#cfe3f7"/><polyline points="%s" fill="none" stroke="#2a6db0" stroke-width="1.5"/></svg>`,
		w, h, w, h, template.HTMLEscapeString(title), template.HTMLEscapeString(title), area, line))
}

// num formats a figure with at most three significant decimals.
func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
