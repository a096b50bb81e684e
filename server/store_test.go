package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/kv"
)

// TestLazyStore_OpenObeysContext holds an old bbolt kv.db (as an fcgihost
// of the previous version would, while this one waits to migrate it) and
// checks that a kv call gives up with its request's
// context instead of waiting out bbolt's lock timeout, that the store opens
// on a later call once the file is free, and that close waits for an open in
// flight.
func TestLazyStore_OpenObeysContext(t *testing.T) {
	dir := t.TempDir()
	holder, err := kv.OpenBolt(filepath.Join(dir, "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	l := &lazyStore{url: "embedded", dir: dir, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ns := l.namespace("app", kv.Quota{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err = ns.Get(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get while the file is held: %v, want the context's deadline", err)
	}

	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	for {
		// The open started by the first call may still be waiting for the
		// lock and fail; the next call starts another.
		err = ns.Set(ctx2, "k", "v", 0)
		if err == nil || ctx2.Err() != nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Set after the file was freed: %v", err)
	}
	if v, ok, err := ns.Get(ctx2, "k"); err != nil || !ok || v != "v" {
		t.Fatalf("Get = %q, %v, %v; want v", v, ok, err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Set(ctx2, "k", "w", 0); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Set after close: %v, want kv.ErrClosed", err)
	}
}

// TestLazyStore_CloseDuringOpen closes the store while an open waits for
// the file's lock: close waits for the attempt, which then leaves nothing
// open, and later calls fail with kv.ErrClosed.
func TestLazyStore_CloseDuringOpen(t *testing.T) {
	dir := t.TempDir()
	holder, err := kv.OpenBolt(filepath.Join(dir, "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	l := &lazyStore{url: "embedded", dir: dir, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ns := l.namespace("app", kv.Quota{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start the open, do not wait for it
	if _, _, err := ns.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a done context: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.close() }()
	holder.Close() // the pending open may now succeed; close must undo it
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, err := ns.Get(context.Background(), "k"); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Get after close: %v, want kv.ErrClosed", err)
	}
	// Nothing holds the file: it opens at once.
	st, err := kv.OpenBolt(filepath.Join(dir, "kv.db"))
	if err != nil {
		t.Fatalf("file still held after close: %v", err)
	}
	st.Close()
}
