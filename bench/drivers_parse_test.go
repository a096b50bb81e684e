//go:build bench

package bench

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    result
		wantErr bool
	}{
		{
			name: "errors and non-2xx counted",
			out: `Running 5s test @ http://127.0.0.1:41234/hello.js
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.12ms    2.01ms  30.11ms   80.12%
    Req/Sec    15.62k     1.10k   17.20k    72.00%
  Latency Distribution
     50%    3.81ms
     75%    4.90ms
     90%    6.50ms
     99%   11.20ms
  77712 requests in 5.00s, 12.01MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  15542.40
Transfer/sec:      2.40MB
`,
			want: result{Requests: 77712, RPS: 15542.40, P50: 3810 * time.Microsecond, P99: 11200 * time.Microsecond, Errors: 12},
		},
		{
			name: "microseconds and seconds",
			out: `  Latency Distribution
     50%  812.00us
     75%    1.00ms
     90%  100.00ms
     99%    1.52s
  1000 requests in 5.00s, 1.01MB read
Requests/sec:    200.00
`,
			want: result{Requests: 1000, RPS: 200, P50: 812 * time.Microsecond, P99: 1520 * time.Millisecond},
		},
		{
			name:    "no latency distribution (run without --latency)",
			out:     "  1000 requests in 5.00s, 1.01MB read\nRequests/sec:    200.00\n",
			wantErr: true,
		},
		{
			name:    "not wrk output",
			out:     "unable to connect to 127.0.0.1:1 Connection refused\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseFCGIBench(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    result
		wantErr bool
	}{
		{
			name: "all 200",
			out:  `{"label": "/hello.js", "requests": 5000, "errors": 0, "bytes": 70000, "elapsed_ns": 1000000000, "status": {"200": 5000}, "requests_per_s": 4999.5, "latency_ms": {"p50": 0.25, "p90": 1, "p99": 3.5, "max": 9}}`,
			want: result{Requests: 5000, RPS: 4999.5, P50: 250 * time.Microsecond, P99: 3500 * time.Microsecond},
		},
		{
			name: "transport errors and non-2xx both count",
			out:  `{"requests": 100, "errors": 2, "status": {"200": 90, "404": 4, "503": 6}, "requests_per_s": 50, "latency_ms": {"p50": 1, "p99": 2}}`,
			want: result{Requests: 100, RPS: 50, P50: time.Millisecond, P99: 2 * time.Millisecond, Errors: 12},
		},
		{
			name:    "text output instead of --json",
			out:     "/hello (64 connections, keep-conn on): 100 requests in 1s, 100.0 requests/s\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFCGIBench([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
