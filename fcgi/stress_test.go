package fcgi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// stress runs clients × requests of random shape against one server:
// bodies of random sizes (some spilled, some under backpressure), slow
// handlers, requests cancelled part way, multiplexed and not. Every
// completed answer must be right and the server must end with nothing in
// progress. FCGI_SOAK=1 with -tags soak makes it long (soak_test.go).
func stress(t *testing.T, clients, requests int) {
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		if d, _ := strconv.Atoi(r.Params["SLEEP_MS"]); d > 0 {
			select {
			case <-time.After(time.Duration(d) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		b, err := io.ReadAll(r.Stdin)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "X-N: %s\r\n\r\n%x", r.Params["N"], sha256.Sum256(b))
		if r.Params["ERR"] != "" {
			w.Stderr().Write([]byte("stderr " + r.Params["N"]))
		}
	})
	s, lb := newTestServer(t, h)
	s.StdinBuffer = 8 << 10
	s.SpillDir = t.TempDir()
	addr := startServer(t, s, "unix")
	var wg sync.WaitGroup
	for ci := 0; ci < clients; ci++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 42))
			c := &Client{Addr: addr, KeepConn: ci%3 != 0, Multiplex: ci%2 == 0}
			defer c.Close()
			var inner sync.WaitGroup
			for i := 0; i < requests; i++ {
				n := fmt.Sprint(ci, "-", i)
				body := bytes.Repeat([]byte{byte(i)}, []int{0, 10, 5000, 70000, 300000}[rng.IntN(5)])
				p := map[string]string{"N": n}
				if rng.IntN(4) == 0 {
					p["SLEEP_MS"] = fmt.Sprint(rng.IntN(5))
				}
				if rng.IntN(3) == 0 {
					p["ERR"] = "1"
				}
				cancelEarly := rng.IntN(8) == 0
				delay := time.Duration(rng.IntN(3)) * time.Millisecond
				do := func() {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					if cancelEarly {
						time.AfterFunc(delay, cancel)
					}
					resp, err := c.Do(ctx, &ClientRequest{Params: p, Body: bytes.NewReader(body)})
					if err != nil {
						if !cancelEarly || !errors.Is(err, context.Canceled) {
							t.Errorf("%s: %v", n, err)
						}
						return
					}
					got, err := resp.ReadAll()
					if err != nil {
						if !cancelEarly {
							t.Errorf("%s: body: %v", n, err)
						}
						return
					}
					if want := fmt.Sprintf("%x", sha256.Sum256(body)); string(got) != want || resp.Header.Get("X-N") != n {
						t.Errorf("%s: got %q %v", n, got, resp.Header)
					}
					if p["ERR"] != "" && string(resp.Stderr) != "stderr "+n {
						t.Errorf("%s: stderr %q", n, resp.Stderr)
					}
				}
				if c.Multiplex && i%4 != 3 {
					inner.Add(1)
					go func() { defer inner.Done(); do() }()
				} else {
					do()
				}
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	waitFor(t, "server to settle", func() bool {
		st := s.Stats()
		return st.ActiveConns == 0 && st.ActiveRequests == 0
	})
	if n := lb.count("level=ERROR"); n != 0 {
		t.Errorf("%d errors logged:\n%s", n, lb)
	}
	if lb.count("malformed") != 0 {
		t.Errorf("the client broke the protocol:\n%s", lb)
	}
}

func TestServer_Stress(t *testing.T) {
	t.Parallel()
	if os.Getenv("FCGI_SOAK") != "" {
		t.Skip("run by TestSoak")
	}
	stress(t, 6, 40)
}
