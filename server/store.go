package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/script"
)

// lazyStore opens the key-value store on first use, so a host whose apps
// never touch kv creates no data directory and needs no Redis.
//
// The open runs in a goroutine of its own (owned by the lazyStore; close
// waits for it), and callers wait for it only as long as their context
// lets them: a Redis that does not answer, or an old bbolt kv.db that an
// fcgihost of the previous version still holds while this one waits to
// migrate it (up to 5 s, see docs/storage.md), cannot keep a request past
// its timeout.
type lazyStore struct {
	url, dir string
	log      *slog.Logger

	mu      sync.Mutex
	store   kv.Store
	opening *openAttempt // the open in flight, or nil
	closed  bool
	wg      sync.WaitGroup // the open goroutine
}

// openAttempt is one try at opening the store; done is closed when it ends.
type openAttempt struct {
	done chan struct{}
	err  error
}

// openTimeout bounds one attempt to open the store (a Redis ping).
const openTimeout = 10 * time.Second

func (l *lazyStore) get(ctx context.Context) (kv.Store, error) {
	l.mu.Lock()
	if l.store != nil || l.closed {
		st := l.store
		l.mu.Unlock()
		if st == nil {
			return nil, fmt.Errorf("open kv store: %w", kv.ErrClosed)
		}
		return st, nil
	}
	a := l.opening
	if a == nil {
		// Not cached on failure: a Redis that comes back is used.
		a = &openAttempt{done: make(chan struct{})}
		l.opening = a
		l.wg.Add(1)
		go l.open(a)
	}
	l.mu.Unlock()
	select {
	case <-a.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("open kv store %q: %w", l.url, context.Cause(ctx))
	}
	if a.err != nil {
		return nil, a.err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store == nil {
		return nil, fmt.Errorf("open kv store: %w", kv.ErrClosed)
	}
	return l.store, nil
}

// open makes attempt a, independent of the request that started it.
func (l *lazyStore) open(a *openAttempt) {
	defer l.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	st, err := kv.Open(ctx, l.url, l.dir)
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		a.err = fmt.Errorf("open kv store %q: %w", l.url, err)
		l.log.Error("kv store unavailable", "err", a.err)
	case l.closed:
		st.Close()
		a.err = fmt.Errorf("open kv store: %w", kv.ErrClosed)
	default:
		l.store = st
	}
	l.opening = nil
	close(a.done)
}

func (l *lazyStore) close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return l.store.Close()
	}
	return nil
}

func (l *lazyStore) namespace(app string, q kv.Quota) script.KV {
	return &lazyNS{store: l, app: app, q: q}
}

// lazyNS is one app's namespace over a lazyStore.
type lazyNS struct {
	store *lazyStore
	app   string
	q     kv.Quota
	mu    sync.Mutex
	ns    script.KV
}

func (n *lazyNS) get(ctx context.Context) (script.KV, error) {
	n.mu.Lock()
	ns := n.ns
	n.mu.Unlock()
	if ns != nil {
		return ns, nil
	}
	st, err := n.store.get(ctx) // not under n.mu: it waits as long as ctx lets it
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ns == nil {
		n.ns = st.Namespace(n.app, n.q)
	}
	return n.ns, nil
}

func (n *lazyNS) Get(ctx context.Context, key string) (string, bool, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return "", false, err
	}
	return ns.Get(ctx, key)
}

func (n *lazyNS) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	ns, err := n.get(ctx)
	if err != nil {
		return err
	}
	return ns.Set(ctx, key, value, ttl)
}

func (n *lazyNS) Delete(ctx context.Context, key string) error {
	ns, err := n.get(ctx)
	if err != nil {
		return err
	}
	return ns.Delete(ctx, key)
}

func (n *lazyNS) Incr(ctx context.Context, key string, by int64) (int64, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return 0, err
	}
	return ns.Incr(ctx, key, by)
}

func (n *lazyNS) CAS(ctx context.Context, key string, old *string, new string) (bool, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return false, err
	}
	return ns.CAS(ctx, key, old, new)
}

func (n *lazyNS) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	return ns.List(ctx, prefix, limit)
}

// Batch passes a script's kv.batch to the namespace (every backend's
// namespace is a kv.Batcher).
func (n *lazyNS) Batch(ctx context.Context, ops []kv.Op) error {
	ns, err := n.get(ctx)
	if err != nil {
		return err
	}
	b, ok := ns.(kv.Batcher)
	if !ok {
		return fmt.Errorf("kv batch: %w", script.ErrNotConfigured)
	}
	return b.Batch(ctx, ops)
}

// ListAfter passes a script's kv.list with `after` to the namespace (every
// backend's namespace is a kv.Pager).
func (n *lazyNS) ListAfter(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ns, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := ns.(kv.Pager)
	if !ok {
		return nil, fmt.Errorf("kv list: %w", script.ErrNotConfigured)
	}
	return p.ListAfter(ctx, prefix, after, limit)
}

var (
	_ kv.Batcher = (*lazyNS)(nil)
	_ kv.Pager   = (*lazyNS)(nil)
)
