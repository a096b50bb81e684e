package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
)

// serveBroken keeps a process the web server started (mod_fcgid, lighttpd
// bin-path: the listening socket on fd 0) alive when it cannot start —
// a bad config file, an apps dir it cannot read — and answers every
// request with a 500 whose FCGI_STDERR names the cause, so the error
// lands in the web server's error log next to the failed request
// (docs/troubleshooting.md). Exiting instead would leave only "End of
// script output before headers" (Apache) or "child exited: 2" (lighttpd,
// which does not log its children's stderr) and a respawn loop.
func (m *Main) serveBroken(ctx context.Context, l net.Listener, cause error) error {
	defer l.Close()
	msg := fmt.Sprintf("fcgihost: cannot start: %v\n", cause)
	fmt.Fprint(m.Stderr, msg)
	srv := &fcgi.Server{Handler: fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) {
		io.WriteString(w.Stderr(), msg)
		io.WriteString(w, "Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"500 internal server error: fcgihost could not start (see the web server's error log)\n")
	})}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, fcgi.ErrServerClosed) {
			return fmt.Errorf("fastcgi %s: %w", l.Addr(), err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// missingConfigMessage is the log line for an optional config file that
// does not exist (config.Flags.EnvFileOptional).
func missingConfigMessage(flags *config.Flags) (string, bool) {
	p := flags.Missing()
	if p == "" {
		return "", false
	}
	return "the config file named by $" + config.EnvConfig + " does not exist; using the defaults", true
}
