//go:build bench

package bench

// BenchmarkPath runs the whole path in one process — FastCGI client →
// unix socket → fcgi.Server → host → pool → VM → response — for hello JS
// and hello Lua next to the plain Go handler on the same fcgi.Server, so
// that `go test -cpuprofile` shows where a request's time goes:
//
//	go test -tags bench -run '^$' -bench Path -cpu 2 -cpuprofile cpu.out ./bench/
//	go tool pprof -top bench.test cpu.out

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
	"github.com/fcgihost/fcgihost/server"
)

func BenchmarkPath(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	plain := fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) {
		io.WriteString(w, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world")
	})
	for _, tc := range []struct {
		name, path string
	}{{"go", "/hello"}, {"js", "/hello.js"}, {"lua", "/hello.lua"}} {
		b.Run(tc.name, func(b *testing.B) {
			fs := &fcgi.Server{Handler: plain, Logger: quiet}
			if tc.name != "go" {
				apps := b.TempDir()
				for _, f := range []string{"hello.js", "hello.lua"} {
					copyFile(b, filepath.Join(testutil.RepoRoot(), "apps", f), filepath.Join(apps, f), 0o644)
				}
				cfg := config.Default()
				cfg.Apps = apps
				cfg.Watch = false
				cfg.DataDir = filepath.Join(b.TempDir(), "data")
				cfg.Defaults.Workers = 4
				srv, err := server.New(cfg, server.Options{Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					srv.Close(ctx)
				})
				fs = srv.NewFCGIServer(cfg) // as `fcgihost serve` makes it
			}
			sock := filepath.Join(b.TempDir(), "s.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- fs.Serve(ln) }()
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				fs.Shutdown(ctx)
				<-done
			})
			be := &backend{name: tc.name, sock: sock, path: tc.path}
			params := be.params()
			b.ReportAllocs()
			b.SetParallelism(32) // 64 client goroutines at GOMAXPROCS=2
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := &fcgi.Client{Addr: "unix:" + sock, KeepConn: true, MaxIdle: 1}
				defer c.Close()
				ctx := context.Background()
				for pb.Next() {
					resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: params})
					if err != nil {
						b.Error(err)
						return
					}
					body, err := resp.ReadAll()
					if err != nil || resp.Status != 200 || !strings.HasPrefix(string(body), "hello world") {
						b.Errorf("got %d %q %v", resp.Status, body, err)
						return
					}
				}
			})
		})
	}
}
