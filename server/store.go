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
type lazyStore struct {
	url, dir string
	log      *slog.Logger

	mu    sync.Mutex
	store kv.Store
}

func (l *lazyStore) get(ctx context.Context) (kv.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store == nil {
		// Not cached on failure: a Redis that comes back is used.
		st, err := kv.Open(ctx, l.url, l.dir)
		if err != nil {
			err = fmt.Errorf("open kv store %q: %w", l.url, err)
			l.log.Error("kv store unavailable", "err", err)
			return nil, err
		}
		l.store = st
	}
	return l.store, nil
}

func (l *lazyStore) close() error {
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
	defer n.mu.Unlock()
	if n.ns != nil {
		return n.ns, nil
	}
	st, err := n.store.get(ctx)
	if err != nil {
		return nil, err
	}
	n.ns = st.Namespace(n.app, n.q)
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

var _ kv.Batcher = (*lazyNS)(nil)
