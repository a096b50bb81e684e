package main

// This file holds `fcgihost bench`, a FastCGI load generator, and its
// teaching mode `bench --compare-cgi FILE`, which serves one CGI-style
// script both as CGI (a process per request, as Apache mod_cgi runs it) and
// through a pool of preloaded VMs, and prints both rows and their ratio.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/server"
)

// statusText is the reason phrase of code (request -i uses it too).
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "status"
}

// benchResult is what one bench run measured.
type benchResult struct {
	Label     string          `json:"label,omitempty"`
	Requests  int             `json:"requests"` // answered (any status)
	Errors    int             `json:"errors"`   // no answer (transport, protocol, timeout)
	Bytes     int64           `json:"bytes"`    // response body bytes
	Elapsed   time.Duration   `json:"elapsed_ns"`
	Status    map[int]int     `json:"status"`
	ErrKinds  map[string]int  `json:"error_kinds,omitempty"`
	Latencies []time.Duration `json:"-"`
	FirstErr  error           `json:"-"`
}

func (r *benchResult) rps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// pct is the q-quantile of the answered requests' latency (nearest rank).
func (r *benchResult) pct(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.999999) - 1
	i = max(0, min(i, len(r.Latencies)-1))
	return r.Latencies[i]
}

// MarshalJSON adds the derived figures.
func (r *benchResult) MarshalJSON() ([]byte, error) {
	type plain benchResult
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	status := map[string]int{}
	for c, n := range r.Status {
		status[strconv.Itoa(c)] = n
	}
	return json.Marshal(struct {
		*plain
		Status     map[string]int     `json:"status"`
		RPS        float64            `json:"requests_per_s"`
		LatencyMS  map[string]float64 `json:"latency_ms"`
		FirstError string             `json:"first_error,omitempty"`
	}{
		plain:     (*plain)(r),
		Status:    status,
		RPS:       r.rps(),
		LatencyMS: map[string]float64{"p50": ms(r.pct(0.5)), "p90": ms(r.pct(0.9)), "p99": ms(r.pct(0.99)), "max": ms(r.pct(1))},
		FirstError: func() string {
			if r.FirstErr != nil {
				return r.FirstErr.Error()
			}
			return ""
		}(),
	})
}

// load says how hard and how long to push.
type load struct {
	conns   int
	n       int           // total requests; 0: run for dur
	dur     time.Duration // used when n is 0
	timeout time.Duration // per request; 0: none
}

// doFunc sends one request and returns the status and body size.
type doFunc func(ctx context.Context) (status int, n int64, err error)

// runLoad runs l.conns workers, each with its own doFunc from newWorker,
// until l.n requests were sent or l.dur has passed.
func runLoad(ctx context.Context, l load, newWorker func() (doFunc, func())) *benchResult {
	conns := max(l.conns, 1)
	var deadline time.Time
	if l.n <= 0 {
		deadline = time.Now().Add(l.dur)
	}
	var (
		mu     sync.Mutex
		res    = &benchResult{Status: map[int]int{}, ErrKinds: map[string]int{}}
		issued int
		wg     sync.WaitGroup
	)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		if l.n > 0 {
			if issued >= l.n {
				return false
			}
			issued++
			return true
		}
		return time.Now().Before(deadline)
	}
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do, closeFn := newWorker()
			defer closeFn()
			mine := &benchResult{Status: map[int]int{}, ErrKinds: map[string]int{}}
			for next() {
				rctx, cancel := ctx, context.CancelFunc(func() {})
				if l.timeout > 0 {
					rctx, cancel = context.WithTimeout(ctx, l.timeout)
				}
				t0 := time.Now()
				status, n, err := do(rctx)
				d := time.Since(t0)
				cancel()
				if err != nil {
					mine.Errors++
					mine.ErrKinds[errorKind(err)]++
					if mine.FirstErr == nil {
						mine.FirstErr = err
					}
					continue
				}
				mine.Latencies = append(mine.Latencies, d)
				mine.Requests++
				mine.Bytes += n
				mine.Status[status]++
			}
			mu.Lock()
			defer mu.Unlock()
			res.Latencies = append(res.Latencies, mine.Latencies...)
			res.Requests += mine.Requests
			res.Errors += mine.Errors
			res.Bytes += mine.Bytes
			if res.FirstErr == nil {
				res.FirstErr = mine.FirstErr
			}
			for k, v := range mine.Status {
				res.Status[k] += v
			}
			for k, v := range mine.ErrKinds {
				res.ErrKinds[k] += v
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	return res
}

// errorKind groups errors for the summary: the innermost message, with
// addresses and numbers left in (they are few and telling).
func errorKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// fcgiWorker returns a worker sending params and body over one FastCGI
// client (one connection, reused with keep-conn; a new one per request
// without).
func fcgiWorker(addr string, keep bool, params map[string]string, body []byte) func() (doFunc, func()) {
	return func() (doFunc, func()) {
		c := &fcgi.Client{Addr: addr, KeepConn: keep, MaxIdle: 1}
		do := func(ctx context.Context) (int, int64, error) {
			resp, err := c.Do(ctx, &fcgi.ClientRequest{Role: fcgi.RoleResponder, Params: params, Body: bytes.NewReader(body)})
			if err != nil {
				return 0, 0, err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return 0, 0, err
			}
			return resp.Status, n, nil
		}
		return do, func() { c.Close() }
	}
}

// cgiWorker returns a worker that runs interp with args once per request,
// with env as its CGI environment and body on stdin, the way mod_cgi runs
// a script, and reads the status from the CGI head it prints.
func cgiWorker(interp string, args, env []string, body []byte) func() (doFunc, func()) {
	return func() (doFunc, func()) {
		do := func(ctx context.Context) (int, int64, error) {
			cmd := exec.CommandContext(ctx, interp, args...)
			cmd.Env = env
			cmd.Stdin = bytes.NewReader(body)
			var out bytes.Buffer
			cmd.Stdout = &out
			cmd.Stderr = io.Discard
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || out.Len() == 0 {
					return 0, 0, fmt.Errorf("cgi: %w", err)
				}
			}
			return cgiStatus(out.Bytes())
		}
		return do, func() {}
	}
}

// cgiStatus reads the status of a CGI response (Status header; else 302
// with Location; else 200) and the size of its body.
func cgiStatus(out []byte) (int, int64, error) {
	r := bufio.NewReader(bytes.NewReader(out))
	status, location := 0, false
	var headLen int64
	for {
		line, err := r.ReadString('\n')
		headLen += int64(len(line))
		if err != nil {
			return 0, 0, errors.New("cgi: response has no blank line after its header")
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, 0, fmt.Errorf("cgi: bad header line %q", line)
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "status":
			f := strings.Fields(value)
			if len(f) > 0 {
				status, _ = strconv.Atoi(f[0])
			}
		case "location":
			location = true
		}
	}
	switch {
	case status >= 100 && status <= 999:
	case location:
		status = 302
	default:
		status = 200
	}
	return status, int64(len(out)) - headLen, nil
}

// benchFlags are bench's flags. -d is the duration here (docs/reference.md §1); the
// body is --body.
type benchFlags struct {
	req     requestFlags
	conns   int
	n       int
	dur     time.Duration
	keep    bool
	jsonOut bool
	cgi     string
	interp  string
	workers int
	compare string
	svg     string
}

func (b *benchFlags) bind(fs *flag.FlagSet) {
	f := &b.req
	fs.StringVar(&f.connect, "connect", "127.0.0.1:9000", "FastCGI server `ADDR` (host:port, [::1]:port or unix:/path); bench also takes scgi:ADDR and uwsgi:ADDR")
	fs.StringVar(&f.method, "X", "", "request `METHOD` (default GET, or POST with --body)")
	fs.StringVar(&f.data, "body", "", "request body `DATA`, or @FILE to read it from FILE (@- = stdin)")
	fs.Var(&f.headers, "H", "request header `'Name: value'` (repeatable)")
	fs.Var(&f.params, "param", "extra FastCGI param `NAME=VALUE` (repeatable; wins over the computed ones)")
	fs.StringVar(&f.root, "root", "", "document root `DIR`: sets DOCUMENT_ROOT and SCRIPT_FILENAME=DIR+path as nginx's fastcgi.conf does")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request timeout (0: none); a request past it counts as an error")
	fs.IntVar(&b.conns, "c", 16, "concurrent `connections` (workers)")
	fs.IntVar(&b.n, "n", 0, "total `requests` (0: run for -d)")
	fs.DurationVar(&b.dur, "d", 5*time.Second, "how long to run when -n is 0 (each row with --compare-cgi)")
	fs.DurationVar(&b.dur, "duration", 5*time.Second, "same as -d")
	fs.BoolVar(&b.keep, "keep-conn", true, "reuse connections (FCGI_KEEP_CONN); false: one connection per request")
	fs.BoolVar(&b.jsonOut, "json", false, "print the result(s) as JSON")
	fs.StringVar(&b.cgi, "compare-cgi", "", "serve the CGI-style script `FILE` as CGI (a process per request) and through the pool, and compare")
	fs.StringVar(&b.interp, "cgi-interpreter", "", "the `PROGRAM` run per CGI request as PROGRAM run FILE (default: this fcgihost)")
	fs.IntVar(&b.workers, "workers", 0, "pool size of the --compare-cgi and --compare server (default: -c)")
	fs.StringVar(&b.compare, "compare", "", "run the script `FILE` as CGI and through the pool over FastCGI, SCGI, uwsgi and HTTP, one row per transport")
	fs.StringVar(&b.svg, "svg", "", "with --compare: write the comparison as an SVG chart to `OUT`")
}

// bench load-tests a FastCGI server with c connections for n requests or
// d duration.
func (m *Main) bench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var bf benchFlags
	bf.bind(fs)
	if err := m.parseFlags(fs, benchUsage, args); err != nil {
		return err
	}
	if bf.compare != "" {
		return m.compare(ctx, &bf, fs.Args())
	}
	if bf.cgi != "" {
		return m.compareCGI(ctx, &bf, fs.Args())
	}
	if fs.NArg() != 1 {
		return m.usageError("bench", "expected one PATH")
	}
	params, body, err := bf.req.build(fs.Arg(0), m.Stdin)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	l := load{conns: bf.conns, n: bf.n, dur: bf.dur, timeout: bf.req.timeout}
	// --connect scgi:ADDR or uwsgi:ADDR loads an SCGI or uwsgi server (a
	// connection per request, as those protocols carry one each).
	proto, addr := config.SplitProto(bf.req.connect)
	worker := fcgiWorker(addr, bf.keep, params, body)
	desc := fmt.Sprintf("%s (%d connections, keep-conn %v)", fs.Arg(0), max(bf.conns, 1), onOff(bf.keep))
	if proto != protoFCGI {
		worker = gwWorker(proto, addr, params, body)
		desc = fmt.Sprintf("%s (%s, %d concurrent, a connection per request)", fs.Arg(0), protoLabel(proto), max(bf.conns, 1))
	}
	res := runLoad(ctx, l, worker)
	res.Label = fs.Arg(0)
	if bf.jsonOut {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		printBench(m.Stdout, desc, res)
	}
	if res.Requests == 0 && res.FirstErr != nil {
		return &exitError{code: 1, err: res.FirstErr}
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func printBench(w io.Writer, target string, r *benchResult) {
	fmt.Fprintf(w, "%s: %d requests in %s, %.1f requests/s, %d body bytes\n", target, r.Requests, r.Elapsed.Round(time.Millisecond), r.rps(), r.Bytes)
	fmt.Fprintf(w, "latency  p50 %s  p90 %s  p99 %s  max %s\n",
		fmtDur(r.pct(0.50)), fmtDur(r.pct(0.90)), fmtDur(r.pct(0.99)), fmtDur(r.pct(1)))
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	fmt.Fprint(w, "status  ")
	if len(codes) == 0 {
		fmt.Fprint(w, " none")
	}
	for _, c := range codes {
		fmt.Fprintf(w, " %d: %d", c, r.Status[c])
	}
	fmt.Fprintf(w, "\nerrors   %d\n", r.Errors)
	kinds := make([]string, 0, len(r.ErrKinds))
	for k := range r.ErrKinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return r.ErrKinds[kinds[i]] > r.ErrKinds[kinds[j]] })
	for i, k := range kinds {
		if i == 5 {
			fmt.Fprintf(w, "  … %d more kinds\n", len(kinds)-5)
			break
		}
		fmt.Fprintf(w, "  %d × %s\n", r.ErrKinds[k], k)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// compareCGI serves FILE as CGI and through an in-process pool on a temp
// unix socket, with the same load, and prints both rows and the ratio.
func (m *Main) compareCGI(ctx context.Context, bf *benchFlags, args []string) error {
	file, err := filepath.Abs(bf.cgi)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if file, err = filepath.EvalSymlinks(file); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("compare-cgi: %w", err)}
	}
	if _, err := engineFor(file); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("compare-cgi: %w", err)}
	}
	target := "/" + filepath.Base(file)
	if len(args) > 0 {
		target = args[0]
	}
	if len(args) > 1 {
		return &exitError{code: 2, err: errors.New("compare-cgi: at most one PATH")}
	}
	params, body, err := bf.req.build(target, m.Stdin)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	params["SCRIPT_FILENAME"] = file
	if _, ok := params["DOCUMENT_ROOT"]; !ok {
		params["DOCUMENT_ROOT"] = filepath.Dir(file)
	}
	interp := bf.interp
	if interp == "" {
		if interp, err = os.Executable(); err != nil {
			return fmt.Errorf("compare-cgi: find this program: %w", err)
		}
	}
	l := load{conns: bf.conns, n: bf.n, dur: bf.dur, timeout: bf.req.timeout}

	// Row 1: CGI, a process per request.
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range params {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	cgiRes := runLoad(ctx, l, cgiWorker(interp, []string{"run", file}, env, body))
	cgiRes.Label = "CGI (process per request)"

	// Row 2: the same file through a pool of preloaded VMs over FastCGI.
	poolRes, err := benchPool(ctx, file, bf, l, params, body)
	if err != nil {
		return err
	}
	poolRes.Label = "FastCGI pool"

	if bf.jsonOut {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"file": file, "cgi": cgiRes, "pool": poolRes, "ratio_rps": ratio(poolRes.rps(), cgiRes.rps())})
	}
	fmt.Fprintf(m.Stdout, "%s, %d connections, %s each\n\n", file, max(bf.conns, 1), loadDesc(l))
	fmt.Fprintf(m.Stdout, "%-26s %9s %11s %10s %10s %10s %10s %7s  %s\n", "mode", "requests", "requests/s", "p50", "p90", "p99", "max", "errors", "status")
	for _, r := range []*benchResult{cgiRes, poolRes} {
		fmt.Fprintf(m.Stdout, "%-26s %9d %11.1f %10s %10s %10s %10s %7d  %s\n", r.Label, r.Requests, r.rps(),
			fmtDur(r.pct(0.5)), fmtDur(r.pct(0.9)), fmtDur(r.pct(0.99)), fmtDur(r.pct(1)), r.Errors, statusSummary(r.Status))
	}
	if cgiRes.rps() > 0 && poolRes.rps() > 0 {
		fmt.Fprintf(m.Stdout, "\nthe pool answered %.1fx the requests/s of CGI; median latency %s vs %s\n",
			poolRes.rps()/cgiRes.rps(), fmtDur(poolRes.pct(0.5)), fmtDur(cgiRes.pct(0.5)))
	}
	for _, r := range []*benchResult{cgiRes, poolRes} {
		if r.FirstErr != nil {
			fmt.Fprintf(m.Stdout, "%s: first error: %v\n", r.Label, r.FirstErr)
		}
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func loadDesc(l load) string {
	if l.n > 0 {
		return fmt.Sprintf("%d requests", l.n)
	}
	return l.dur.String()
}

func statusSummary(st map[int]int) string {
	codes := make([]int, 0, len(st))
	for c := range st {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", st[c], c))
	}
	return strings.Join(parts, " ")
}

// benchPool starts a server.Server with file's folder as its apps dir on a
// temp unix socket, runs the load against it, and stops it.
func benchPool(ctx context.Context, file string, bf *benchFlags, l load, params map[string]string, body []byte) (*benchResult, error) {
	tmp, err := os.MkdirTemp("", "fcgihost-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cfg := config.Default()
	cfg.Apps = filepath.Dir(file)
	cfg.Watch = false
	cfg.DataDir = filepath.Join(tmp, "data")
	workers := bf.workers
	if workers <= 0 {
		workers = max(bf.conns, 1)
	}
	cfg.Defaults.Workers = workers
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg, server.Options{Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("compare-cgi: start pool: %w", err)
	}
	sock := filepath.Join(tmp, "fcgi.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		srv.Close(context.Background())
		return nil, fmt.Errorf("compare-cgi: listen: %w", err)
	}
	fsrv := srv.NewFCGIServer(cfg)
	done := make(chan error, 1)
	go func() { done <- fsrv.Serve(ln) }()
	res := runLoad(ctx, l, fcgiWorker("unix:"+sock, bf.keep, params, body))
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fsrv.Shutdown(sctx)
	<-done
	srv.Close(sctx)
	return res, nil
}
