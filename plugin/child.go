package plugin

// This file is the child process of an app with isolation = "process"
// when the host program is the embedding program itself (docs/embedding.md,
// "The process model").

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/server"
)

// ServeChild makes the program serve as an isolated app's child process
// when it was started as one, and never returns then; otherwise it returns
// at once. A program whose apps may use isolation = "process" calls it
// first thing in main: the serving process starts each such app's child
// by running its own binary as `PROGRAM serve --config FILE`, as the
// fcgihost command does. The child gives its apps modules — the host
// program passes the same Options.Modules it gives New so that
// require("host:NAME") works in isolated apps too; their functions then
// run in the child process, as its user and under its limits.
func ServeChild(modules ...*Module) {
	if len(os.Args) != 4 || os.Args[1] != "serve" || os.Args[2] != "--config" || !server.IsIsolatedChild() {
		return
	}
	if err := serveChild(os.Args[3], modules); err != nil {
		fmt.Fprintln(os.Stderr, "isolated child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func serveChild(path string, modules []*Module) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if len(cfg.Listen) == 0 {
		return fmt.Errorf("%s: no listen address", path)
	}
	srv, err := server.New(cfg, server.Options{Logger: log, Modules: modules, AllowNoHandler: true})
	if err != nil {
		return err
	}
	l, err := fcgi.Listen(cfg.Listen[0], cfg.SocketMode)
	if err != nil {
		srv.Close(context.Background())
		return err
	}
	fs := srv.NewFCGIServer(cfg)
	go fs.Serve(l)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs.Shutdown(ctx)
	return srv.Close(ctx)
}
