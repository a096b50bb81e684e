package main

// This file holds `fcgihost bench --compare FILE` (docs/teaching.md): the
// same script as CGI, a process per request, and through one pool of
// preloaded VMs over each gateway — FastCGI with and without kept
// connections, SCGI, uwsgi and HTTP — one row per transport, and with
// --svg OUT the comparison drawn as a chart.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/server"
)

// compareRow is one transport's figures.
type compareRow struct {
	Transport string      `json:"transport"`
	Requests  int         `json:"requests"`
	Errors    int         `json:"errors"`
	RPS       float64     `json:"requests_per_s"`
	P50ms     float64     `json:"p50_ms"`
	P99ms     float64     `json:"p99_ms"`
	CPUus     float64     `json:"cpu_per_request_us"` // user+system CPU of this process and its children, per request
	Ratio     float64     `json:"ratio_to_cgi"`
	Status    map[int]int `json:"status"`
	firstErr  error
}

// cpuTime is the user+system CPU time used so far by this process and its
// waited-for children.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

func measure(ctx context.Context, label string, l load, w func() (doFunc, func())) compareRow {
	c0 := cpuTime()
	r := runLoad(ctx, l, w)
	cpu := cpuTime() - c0
	row := compareRow{Transport: label, Requests: r.Requests, Errors: r.Errors, RPS: r.rps(),
		P50ms: float64(r.pct(0.5).Microseconds()) / 1000, P99ms: float64(r.pct(0.99).Microseconds()) / 1000, Status: r.Status, firstErr: r.FirstErr}
	if r.Requests > 0 {
		row.CPUus = float64(cpu.Microseconds()) / float64(r.Requests)
	}
	return row
}

// compare runs `bench --compare FILE [PATH]`.
func (m *Main) compare(ctx context.Context, bf *benchFlags, args []string) error {
	file, err := filepath.Abs(bf.compare)
	if err == nil {
		file, err = filepath.EvalSymlinks(file)
	}
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("compare: %w", err)}
	}
	if _, err := engineFor(file); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("compare: %w", err)}
	}
	if len(args) > 1 {
		return &exitError{code: 2, err: errors.New("compare: at most one PATH")}
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	target := "/" + name
	if len(args) == 1 {
		target = args[0]
	}
	params, body, err := bf.req.build(target, m.Stdin)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	interp := bf.interp
	if interp == "" {
		if interp, err = os.Executable(); err != nil {
			return fmt.Errorf("compare: find this program: %w", err)
		}
	}
	l := load{conns: bf.conns, n: bf.n, dur: bf.dur, timeout: bf.req.timeout}

	// CGI: a process per request, with the environment a web server sets.
	cgiParams := map[string]string{"SCRIPT_FILENAME": file, "DOCUMENT_ROOT": filepath.Dir(file)}
	for k, v := range params {
		cgiParams[k] = v
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range cgiParams {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	rows := []compareRow{measure(ctx, "CGI", l, cgiWorker(interp, []string{"run", file}, env, body))}

	p, err := startComparePool(file, bf)
	if err != nil {
		return err
	}
	defer p.close()
	rows = append(rows,
		measure(ctx, "FastCGI keep-conn", l, fcgiWorker("unix:"+p.fcgi, true, params, body)),
		measure(ctx, "FastCGI", l, fcgiWorker("unix:"+p.fcgi, false, params, body)),
		measure(ctx, "SCGI", l, gwWorker("scgi", "unix:"+p.scgi, params, body)),
		measure(ctx, "uwsgi", l, gwWorker("uwsgi", "unix:"+p.uwsgi, params, body)),
		measure(ctx, "HTTP", l, httpWorker(p.http+target, params, body)),
	)
	for i := range rows {
		rows[i].Ratio = ratio(rows[i].RPS, rows[0].RPS)
	}
	if bf.svg != "" {
		title := fmt.Sprintf("%s: CGI and the pool over each gateway (%d connections, %s)", filepath.Base(file), max(bf.conns, 1), loadDesc(l))
		if err := os.WriteFile(bf.svg, compareSVG(title, rows), 0o644); err != nil {
			return fmt.Errorf("compare: write chart: %w", err)
		}
	}
	if bf.jsonOut {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"file": file, "connections": max(bf.conns, 1), "rows": rows})
	}
	printCompare(m.Stdout, file, bf, l, rows)
	return nil
}

func printCompare(w io.Writer, file string, bf *benchFlags, l load, rows []compareRow) {
	fmt.Fprintf(w, "%s, %d connections, %s each\n\n", file, max(bf.conns, 1), loadDesc(l))
	fmt.Fprintf(w, "%-18s %9s %11s %10s %10s %12s %9s %7s  %s\n", "transport", "requests", "requests/s", "p50", "p99", "CPU/request", "vs CGI", "errors", "status")
	for _, r := range rows {
		fmt.Fprintf(w, "%-18s %9d %11.1f %10s %10s %12s %8.1fx %7d  %s\n", r.Transport, r.Requests, r.RPS,
			fmtDur(msDur(r.P50ms)), fmtDur(msDur(r.P99ms)), fmtDur(time.Duration(r.CPUus*1000)), r.Ratio, r.Errors, statusSummary(r.Status))
	}
	fmt.Fprintln(w, "\nCPU/request: user+system time of this process (client and pool) and its CGI children, per request")
	for _, r := range rows {
		if r.firstErr != nil {
			fmt.Fprintf(w, "%s: first error: %v\n", r.Transport, r.firstErr)
		}
	}
}

func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// comparePool is the pool of --compare with a listener per gateway.
type comparePool struct {
	tmp               string
	fcgi, scgi, uwsgi string // unix socket paths
	http              string // base URL
	close             func()
}

func startComparePool(file string, bf *benchFlags) (*comparePool, error) {
	tmp, err := os.MkdirTemp("", "fcgihost-compare-")
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Apps = filepath.Dir(file)
	cfg.OnlyApps = []string{strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))}
	cfg.Watch = false
	cfg.DataDir = filepath.Join(tmp, "data")
	cfg.Defaults.Workers = bf.workers
	if cfg.Defaults.Workers <= 0 {
		cfg.Defaults.Workers = max(bf.conns, 1)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg, server.Options{Logger: quiet})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("compare: start pool: %w", err)
	}
	p := &comparePool{tmp: tmp, fcgi: filepath.Join(tmp, "fcgi.sock"), scgi: filepath.Join(tmp, "scgi.sock"), uwsgi: filepath.Join(tmp, "uwsgi.sock")}
	var stops []func(context.Context)
	p.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range stops {
			s(ctx)
		}
		srv.Close(ctx)
		os.RemoveAll(tmp)
	}
	listen := func(network, addr string) (net.Listener, error) {
		l, err := net.Listen(network, addr)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("compare: listen: %w", err)
		}
		return l, nil
	}
	fl, err := listen("unix", p.fcgi)
	if err != nil {
		return nil, err
	}
	fsrv := srv.NewFCGIServer(cfg)
	go fsrv.Serve(fl)
	stops = append(stops, func(ctx context.Context) { fsrv.Shutdown(ctx) })
	for _, g := range []struct{ proto, path string }{{protoSCGI, p.scgi}, {protoUWSGI, p.uwsgi}} {
		gl, err := listen("unix", g.path)
		if err != nil {
			return nil, err
		}
		gs := newGateway(g.proto, srv, cfg, quiet, nil)
		go gs.Serve(gl)
		stops = append(stops, func(ctx context.Context) { gs.Shutdown(ctx) })
	}
	hl, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := host.NewDevHTTPServer(srv.Handler(), host.DevHTTPOptions{Logger: quiet})
	go hs.Serve(hl)
	stops = append(stops, func(ctx context.Context) { hs.Shutdown(ctx) })
	p.http = "http://" + hl.Addr().String()
	return p, nil
}

// gwWorker returns a worker sending params and body over SCGI or uwsgi: a
// connection per request, as those protocols have it.
func gwWorker(proto, addr string, params map[string]string, body []byte) func() (doFunc, func()) {
	req := encodeGwRequest(proto, params, body)
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", p
	}
	return func() (doFunc, func()) {
		do := func(ctx context.Context) (int, int64, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, address)
			if err != nil {
				return 0, 0, err
			}
			defer c.Close()
			if dl, ok := ctx.Deadline(); ok {
				c.SetDeadline(dl)
			}
			if _, err := c.Write(req); err != nil {
				return 0, 0, err
			}
			out, err := io.ReadAll(bufio.NewReader(c))
			if err != nil {
				return 0, 0, err
			}
			if proto == protoUWSGI {
				// "HTTP/1.1 200 OK" → a CGI status line for cgiStatus.
				rest, ok := bytes.CutPrefix(out, []byte("HTTP/1.1 "))
				if !ok {
					return 0, 0, fmt.Errorf("uwsgi: no status line")
				}
				out = append([]byte("Status: "), rest...)
			}
			return cgiStatus(out)
		}
		return do, func() {}
	}
}

// encodeGwRequest is the SCGI netstring or the uwsgi packet of a request.
func encodeGwRequest(proto string, params map[string]string, body []byte) []byte {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "CONTENT_LENGTH" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := []string{"CONTENT_LENGTH", strconv.Itoa(len(body))}
	for _, k := range keys {
		pairs = append(pairs, k, params[k])
	}
	var out []byte
	if proto == protoSCGI {
		pairs = append(pairs, "SCGI", "1")
		var h []byte
		for _, s := range pairs {
			h = append(append(h, s...), 0)
		}
		out = append([]byte(strconv.Itoa(len(h))+":"), h...)
		out = append(out, ',')
	} else {
		var v []byte
		for _, s := range pairs {
			v = binary.LittleEndian.AppendUint16(v, uint16(len(s)))
			v = append(v, s...)
		}
		out = []byte{0, 0, 0, 0}
		binary.LittleEndian.PutUint16(out[1:3], uint16(len(v)))
		out = append(out, v...)
	}
	return append(out, body...)
}

// httpWorker returns a worker sending the request to the development HTTP
// listener over a kept-alive connection.
func httpWorker(url string, params map[string]string, body []byte) func() (doFunc, func()) {
	method := params["REQUEST_METHOD"]
	if q := params["QUERY_STRING"]; q != "" {
		url += "?" + q
	}
	return func() (doFunc, func()) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		c := &http.Client{Transport: tr}
		do := func(ctx context.Context) (int, int64, error) {
			req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
			if err != nil {
				return 0, 0, err
			}
			if ct := params["CONTENT_TYPE"]; ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := c.Do(req)
			if err != nil {
				return 0, 0, err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, n, err
		}
		return do, tr.CloseIdleConnections
	}
}

// compareSVG draws rows as a self-contained SVG: requests/s as bars on
// the left, p50 and p99 latency on a log axis on the right.
func compareSVG(title string, rows []compareRow) []byte {
	const (
		width, rowH, top, labelW = 960, 34, 70, 150
		panelW                   = 340
		gap                      = 60
	)
	height := top + rowH*len(rows) + 50
	var b strings.Builder
	esc := func(s string) string {
		var e bytes.Buffer
		xmlEscape(&e, s)
		return e.String()
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", 10, esc(title))
	x1 := labelW
	x2 := labelW + panelW + gap
	fmt.Fprintf(&b, `<text x="%d" y="52" font-weight="bold">requests/s (higher is better)</text>`+"\n", x1)
	fmt.Fprintf(&b, `<text x="%d" y="52" font-weight="bold">latency, log scale: p50 ● p99 ▲ (lower is better)</text>`+"\n", x2)
	maxRPS := 0.0
	minLat, maxLat := math.Inf(1), 0.0
	for _, r := range rows {
		maxRPS = math.Max(maxRPS, r.RPS)
		for _, v := range []float64{r.P50ms, r.P99ms} {
			if v > 0 {
				minLat, maxLat = math.Min(minLat, v), math.Max(maxLat, v)
			}
		}
	}
	if maxRPS == 0 {
		maxRPS = 1
	}
	if maxLat == 0 {
		minLat, maxLat = 0.1, 1
	}
	lo, hi := math.Floor(math.Log10(minLat)), math.Ceil(math.Log10(maxLat))
	if hi <= lo {
		hi = lo + 1
	}
	lx := func(ms float64) float64 {
		if ms <= 0 {
			return float64(x2)
		}
		return float64(x2) + (math.Log10(ms)-lo)/(hi-lo)*panelW
	}
	bottom := top + rowH*len(rows)
	for e := lo; e <= hi; e++ {
		x := lx(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top-6, x, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x, bottom+18, esc(fmtDur(msDur(math.Pow(10, e)))))
	}
	for i, r := range rows {
		y := top + i*rowH
		fill := "#4878b0"
		if i == 0 {
			fill = "#c0504d"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-10, y+rowH/2+4, esc(r.Transport))
		w := r.RPS / maxRPS * (panelW - 140) // room for the label
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.1f requests/s</title></rect>`+"\n", x1, y+5, w, rowH-10, fill, esc(r.Transport), r.RPS)
		label := fmt.Sprintf("%.0f/s", r.RPS)
		if i > 0 && r.Ratio > 0 {
			label += fmt.Sprintf(" (%.0f× CGI)", r.Ratio)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#222">%s</text>`+"\n", float64(x1)+w+4, y+rowH/2+4, esc(label))
		if r.P50ms > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", lx(r.P50ms), y+rowH/2, lx(r.P99ms), y+rowH/2, fill)
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="5" fill="%s"><title>%s p50 %s</title></circle>`+"\n", lx(r.P50ms), y+rowH/2, fill, esc(r.Transport), esc(fmtDur(msDur(r.P50ms))))
			fmt.Fprintf(&b, `<path d="M %.1f %d l 5 9 h -10 z" fill="%s"><title>%s p99 %s</title></path>`+"\n", lx(r.P99ms), y+rowH/2-5, fill, esc(r.Transport), esc(fmtDur(msDur(r.P99ms))))
		}
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">CGI starts a process per request; the others reach one pool of preloaded VMs.</text>`+"\n", height-12)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func xmlEscape(w *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '&':
			w.WriteString("&amp;")
		case '"':
			w.WriteString("&quot;")
		default:
			w.WriteRune(r)
		}
	}
}
