//go:build bench

package bench

// This file holds the two load drivers — `fcgihost bench` straight at a
// FastCGI socket, and wrk at nginx — and the parsers of their output.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// result is what one load run measured.
type result struct {
	Requests int           // answered requests
	RPS      float64       // answered requests per second
	P50, P99 time.Duration // latency percentiles
	Errors   int           // transport errors, timeouts and non-2xx answers
	// CPUPerReq is the backend's CPU time (all its processes) per answered
	// request: what a request costs the server, whatever share of the
	// shared cores it got.
	CPUPerReq time.Duration
}

// fcgiBench runs `fcgihost bench` against b's socket.
func fcgiBench(ctx context.Context, bin string, b *backend, conns int, keep bool, d time.Duration) (result, error) {
	args := []string{"bench", "--json", "-c", strconv.Itoa(conns), "-d", d.String(),
		"--timeout", "10s", "--keep-conn=" + strconv.FormatBool(keep), "--connect", "unix:" + b.sock}
	if b.root != "" {
		args = append(args, "--root", b.root)
	}
	args = append(args, b.path)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cmd.Environ(), goEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("fcgihost %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return parseFCGIBench(out)
}

// parseFCGIBench reads `fcgihost bench --json` output.
func parseFCGIBench(out []byte) (result, error) {
	var r struct {
		Requests  int                `json:"requests"`
		Errors    int                `json:"errors"`
		Status    map[string]int     `json:"status"`
		RPS       float64            `json:"requests_per_s"`
		LatencyMS map[string]float64 `json:"latency_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("parse fcgihost bench output: %w\n%s", err, out)
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	bad := r.Errors
	for code, n := range r.Status {
		if !strings.HasPrefix(code, "2") {
			bad += n
		}
	}
	return result{Requests: r.Requests, RPS: r.RPS, P50: ms(r.LatencyMS["p50"]), P99: ms(r.LatencyMS["p99"]), Errors: bad}, nil
}

// wrkThreads is wrk's thread count: one, so that the client takes as
// little of the two shared cores as it can.
const wrkThreads = 1

// wrkRun runs wrk against url.
func wrkRun(ctx context.Context, url string, conns int, d time.Duration) (result, error) {
	args := []string{"-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--timeout", "10s", "--latency", url}
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return parseWrk(out)
}

var (
	wrkPct      = regexp.MustCompile(`^\s*(50|99)%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkRequests = regexp.MustCompile(`^\s*(\d+) requests in `)
	wrkRPS      = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk --latency output.
func parseWrk(out []byte) (result, error) {
	var r result
	var haveRPS, haveP99 bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkPct.FindStringSubmatch(line); m != nil {
			d, err := time.ParseDuration(m[2] + m[3])
			if err != nil {
				return r, fmt.Errorf("parse wrk latency %q: %w", line, err)
			}
			if m[1] == "50" {
				r.P50 = d
			} else {
				r.P99, haveP99 = d, true
			}
		}
		if m := wrkRequests.FindStringSubmatch(line); m != nil {
			r.Requests, _ = strconv.Atoi(m[1])
		}
		if m := wrkRPS.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return r, fmt.Errorf("parse wrk %q: %w", line, err)
			}
			r.RPS, haveRPS = v, true
		}
		if m := wrkSocket.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.Atoi(s)
				r.Errors += n
			}
		}
		if m := wrkNon2xx.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.Errors += n
		}
	}
	if !haveRPS || !haveP99 {
		return r, fmt.Errorf("wrk output has no Requests/sec or 99%% line:\n%s", out)
	}
	return r, nil
}
