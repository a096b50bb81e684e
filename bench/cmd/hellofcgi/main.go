// Command hellofcgi is the ceiling of the benchmarks in bench/: a plain Go
// handler on fcgihost's own FastCGI server (package fcgi) that answers
// every request with "hello world", with no pool, VM or script between the
// socket and the response.
//
//	hellofcgi -listen unix:/tmp/hello.sock
//
// It serves until SIGTERM or SIGINT, then shuts down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
)

// hello is the whole response, CGI head included.
const hello = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hellofcgi:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("hellofcgi", flag.ContinueOnError)
	addr := fs.String("listen", "127.0.0.1:9001", "FastCGI `ADDR` (host:port or unix:/path)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := fcgi.Listen(*addr, 0o666)
	if err != nil {
		return err
	}
	srv := &fcgi.Server{
		Handler: fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) {
			io.WriteString(w, hello)
		}),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve %s: %w", *addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, fcgi.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, fcgi.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", *addr, err)
	}
	return nil
}
