package e2e

// Benchmarks of kv from scripts through the built binary: FastCGI requests
// whose handler makes perReq kv calls, four requests in flight (workers =
// 4), on each backend and in each language. ns/op is per kv call; kvops/s
// is the throughput of kv calls from scripts, request overhead included.
//
//	go test ./e2e -run '^$' -bench BenchmarkKV_Script -benchtime 20000x

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

const benchKVJS = `module.exports = (req) => {
  const n = Number(req.query.n), w = req.query.w;
  let hits = 0;
  switch (req.query.op) {
  case "seed": for (let i = 0; i < 100; i++) kv.set("k" + i, "value-" + i); break;
  case "get": for (let i = 0; i < n; i++) if (kv.get("k" + (i % 100)) !== null) hits++; break;
  case "set": for (let i = 0; i < n; i++) kv.set("w" + w + ":" + (i % 100), "value-" + i); break;
  }
  return String(hits);
};
`

const benchKVLua = `return function(req)
  local n, w, hits = tonumber(req.query.n), req.query.w, 0
  local op = req.query.op
  if op == "seed" then
    for i = 0, 99 do kv.set("k" .. i, "value-" .. i) end
  elseif op == "get" then
    for i = 0, n - 1 do if kv.get("k" .. (i % 100)) then hits = hits + 1 end end
  elseif op == "set" then
    for i = 0, n - 1 do kv.set("w" .. w .. ":" .. (i % 100), "value-" .. i) end
  end
  return tostring(hits)
end
`

func BenchmarkKV_Script(b *testing.B) {
	const inFlight = 4
	backends := []struct {
		name string
		cfg  func(b *testing.B) string
	}{
		{"embedded", func(b *testing.B) string { return fmt.Sprintf("data_dir = %q\n", b.TempDir()) }},
		{"bbolt", func(b *testing.B) string { return fmt.Sprintf("kv = \"bbolt\"\ndata_dir = %q\n", b.TempDir()) }},
		{"redis", func(b *testing.B) string { return fmt.Sprintf("kv = %q\n", testutil.StartRedis(b).URL) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			apps := b.TempDir()
			writeFile(b, filepath.Join(apps, "bjs.js"), benchKVJS)
			writeFile(b, filepath.Join(apps, "blua.lua"), benchKVLua)
			cfg := fmt.Sprintf("workers = %d\ntimeout = \"120s\"\n", inFlight) + be.cfg(b)
			h := testutil.StartHost(b, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
			c := &fcgi.Client{Addr: h.FCGI, KeepConn: true}
			b.Cleanup(func() { c.Close() })
			for _, app := range []string{"bjs", "blua"} {
				if st, body := call(b, c, q(app, "", "op", "seed"), nil); st != 200 {
					b.Fatalf("seed %s: %d %s", app, st, body)
				}
				for _, op := range []string{"get", "set"} {
					for _, perReq := range []int{1, 100} {
						b.Run(fmt.Sprintf("%s/%s/%d-per-request", app, op, perReq), func(b *testing.B) {
							benchKV(b, c, app, op, perReq, inFlight)
						})
					}
				}
			}
		})
	}
}

// benchKV makes b.N kv calls of op from app in requests of perReq calls,
// inFlight requests at a time.
func benchKV(b *testing.B, c *fcgi.Client, app, op string, perReq, inFlight int) {
	requests := (b.N + perReq - 1) / perReq
	work := make(chan int, requests)
	for i := 0; i < requests; i++ {
		work <- i
	}
	close(work)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < inFlight; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				st, body, err := kvCall(ctx, c, q(app, "", "op", op, "n", fmt.Sprint(perReq), "w", fmt.Sprint(g)), nil)
				if err != nil || st != 200 {
					b.Errorf("%s %s: %d %q %v", app, op, st, testutil.Tail(body, 200), err)
					return
				}
				if op == "get" && body != fmt.Sprint(perReq) {
					b.Errorf("%s get: %s of %d keys found", app, body, perReq)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	calls := requests * perReq
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "kvops/s")
	b.ReportMetric(float64(requests)/elapsed.Seconds(), "req/s")
}
