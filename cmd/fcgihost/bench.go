package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
)

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "status"
}

// benchResult is what one bench run measured.
type benchResult struct {
	Requests  int
	Errors    int
	Elapsed   time.Duration
	Latencies []time.Duration
	Status    map[int]int
	FirstErr  error
}

func (r *benchResult) rps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

func (r *benchResult) pct(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.Latencies)-1))
	return r.Latencies[i]
}

// bench load-tests a FastCGI server with c connections for n requests or
// d duration.
func (m *Main) bench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var rf requestFlags
	rf.bind(fs)
	conns := fs.Int("c", 16, "concurrent `connections`")
	n := fs.Int("n", 0, "total `requests` (0: run for -duration)")
	dur := fs.Duration("duration", 5*time.Second, "how long to run when -n is 0")
	keep := fs.Bool("keep-conn", true, "reuse connections (FCGI_KEEP_CONN)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(m.Stderr, "usage: fcgihost bench [flags] PATH")
		return &exitError{code: 2}
	}
	params, body, err := rf.build(fs.Arg(0), m.Stdin)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	res := runBench(ctx, rf.connect, params, body, *conns, *n, *dur, *keep)
	printBench(m, fs.Arg(0), res)
	if res.Requests == 0 && res.FirstErr != nil {
		return &exitError{code: 1, err: res.FirstErr}
	}
	return nil
}

func runBench(ctx context.Context, addr string, params map[string]string, body []byte, conns, n int, dur time.Duration, keep bool) *benchResult {
	if conns < 1 {
		conns = 1
	}
	var deadline time.Time
	if n <= 0 {
		deadline = time.Now().Add(dur)
	}
	var (
		mu     sync.Mutex
		res    = &benchResult{Status: map[int]int{}}
		issued int
		wg     sync.WaitGroup
	)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		if n > 0 {
			if issued >= n {
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
			c := &fcgi.Client{Addr: addr, KeepConn: keep, MaxIdle: 1}
			defer c.Close()
			lat := make([]time.Duration, 0, 1024)
			status := map[int]int{}
			var errs int
			var firstErr error
			for next() {
				t0 := time.Now()
				resp, err := c.Do(ctx, &fcgi.ClientRequest{Role: fcgi.RoleResponder, Params: params, Body: bytes.NewReader(body)})
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				status[resp.Status]++
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.Requests += len(lat)
			res.Errors += errs
			if res.FirstErr == nil {
				res.FirstErr = firstErr
			}
			for k, v := range status {
				res.Status[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	return res
}

func printBench(m *Main, target string, r *benchResult) {
	fmt.Fprintf(m.Stdout, "%s: %d requests in %s, %.0f requests/s\n", target, r.Requests, r.Elapsed.Round(time.Millisecond), r.rps())
	fmt.Fprintf(m.Stdout, "latency p50 %s  p90 %s  p99 %s  max %s\n",
		r.pct(0.50).Round(time.Microsecond), r.pct(0.90).Round(time.Microsecond), r.pct(0.99).Round(time.Microsecond), r.pct(1).Round(time.Microsecond))
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	fmt.Fprint(m.Stdout, "status")
	for _, c := range codes {
		fmt.Fprintf(m.Stdout, "  %d: %d", c, r.Status[c])
	}
	fmt.Fprintf(m.Stdout, "\nerrors %d\n", r.Errors)
	if r.FirstErr != nil {
		fmt.Fprintf(m.Stdout, "first error: %v\n", r.FirstErr)
	}
}
