package kv

// The embedded backend: one bbolt file.
//
// Layout: a root bucket "apps"; in it one bucket per app named "app:"+APP;
// in each app bucket:
//   - bucket "d": key → record (8-byte big-endian expiry in Unix ns, 0 =
//     none, then the value);
//   - bucket "x": expiry index, 8-byte expiry + key → empty;
//   - keys "n" and "b": the app's key count and byte total (8-byte
//     big-endian), updated in the same transaction as the data, so the
//     quota counters cannot drift from it.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fcgihost/fcgihost/script"
)

var (
	bktApps  = []byte("apps")
	bktData  = []byte("d")
	bktExp   = []byte("x")
	keyCount = []byte("n")
	keyBytes = []byte("b")
)

const (
	sweepInterval = time.Minute
	sweepChunk    = 1000 // expired keys removed per transaction
)

// boltStore is the embedded Store.
type boltStore struct {
	db   *bolt.DB
	path string
	// mu is read-held by every call in flight (and by a write's
	// transaction goroutine until it ends); Close takes it to set closed.
	mu     sync.RWMutex
	closed bool
	// writers counts writes in flight; a lone writer skips Batch's delay.
	writers atomic.Int64
	// now is the clock (tests move it).
	now func() time.Time

	cancel context.CancelFunc // stops the sweep
	wg     sync.WaitGroup     // the sweep goroutine
}

var _ Store = (*boltStore)(nil)

// OpenBolt opens (creating 0600 if missing) the bbolt store at path and
// starts its expiry sweep, which Close stops. Opening a file another
// process holds fails after 5 seconds.
func OpenBolt(path string) (Store, error) {
	s, err := openBolt(path, time.Now)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

// openBolt opens the store with clock now and starts its sweep.
func openBolt(path string, now func() time.Time) (*boltStore, error) {
	s, err := openBoltFile(path, now)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sweepLoop(ctx)
	}()
	return s, nil
}

func openBoltFile(path string, now func() time.Time) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      5 * time.Second,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	// Collect concurrent writers for at most 2 ms: long enough to share an
	// fsync, short against the fsync itself.
	db.MaxBatchDelay = 2 * time.Millisecond
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bktApps)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("kv: init %s: %w", path, err)
	}
	return &boltStore{db: db, path: path, now: now, cancel: func() {}}, nil
}

// Close waits for the calls in flight, stops the sweep and closes the
// file.
func (s *boltStore) Close() error {
	s.mu.Lock()
	was := s.closed
	s.closed = true
	s.mu.Unlock()
	if was {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("kv: close %s: %w", s.path, err)
	}
	return nil
}

// Namespace returns app's namespace.
func (s *boltStore) Namespace(app string, q Quota) script.KV {
	return &boltNS{s: s, app: app, name: []byte("app:" + app), q: q}
}

// sweepLoop removes expired keys of every app every sweepInterval.
func (s *boltStore) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.sweepAll(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("kv: expiry sweep", "path", s.path, "err", err)
			}
		}
	}
}

// sweepAll removes every expired key of every app and returns how many.
func (s *boltStore) sweepAll(ctx context.Context) (int, error) {
	var apps [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktApps).ForEachBucket(func(k []byte) error {
			apps = append(apps, bytes.Clone(k))
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("list apps: %w", err)
	}
	total := 0
	for _, name := range apps {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			n := 0
			err := s.db.Update(func(tx *bolt.Tx) error {
				w, err := loadTx(tx, name, false, s.now())
				if err != nil || w == nil {
					return err
				}
				n = w.sweep(sweepChunk)
				return w.save()
			})
			if err != nil {
				return total, fmt.Errorf("sweep %q: %w", name, err)
			}
			total += n
			if n < sweepChunk {
				break
			}
		}
	}
	return total, nil
}

// update runs fn in a write transaction: through Batch when other writers
// are in flight (they then share one commit and fsync), else alone. fn may
// run more than once and must not keep state across runs.
//
// The transaction runs on its own goroutine so that the caller returns as
// soon as ctx is done. A caller that gives up before its transaction
// started marks it abandoned, and the transaction, when it runs, rolls
// back; once it has started, the caller waits for its commit (a few
// fsyncs at most). So an error from ctx always means nothing was written.
func (s *boltStore) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	const (
		pending = iota
		running
		abandoned
	)
	var state atomic.Int32
	g := func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !state.CompareAndSwap(pending, running) && state.Load() != running {
			return context.Canceled // abandoned: ctx is done
		}
		return fn(tx)
	}
	done := make(chan error, 1)
	go func() {
		defer s.mu.RUnlock()
		var err error
		if s.writers.Add(1) == 1 {
			err = s.db.Update(g)
		} else {
			err = s.db.Batch(g)
		}
		s.writers.Add(-1)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if state.CompareAndSwap(pending, abandoned) {
			return ctx.Err()
		}
		return <-done
	}
}

func (s *boltStore) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(fn)
}

// boltNS is one app's namespace in a boltStore.
type boltNS struct {
	s    *boltStore
	app  string
	name []byte // bucket name
	q    Quota
}

var (
	_ script.KV = (*boltNS)(nil)
	_ Batcher   = (*boltNS)(nil)
	_ Pager     = (*boltNS)(nil)
)

func (ns *boltNS) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kv %s %q: %w", op, truncate(key, 64), err)
}

// Get returns key's value if it exists and has not expired.
func (ns *boltNS) Get(ctx context.Context, key string) (string, bool, error) {
	if err := checkKey(key); err != nil {
		return "", false, ns.wrap("get", key, err)
	}
	var (
		val string
		ok  bool
	)
	now := ns.s.now().UnixNano()
	err := ns.s.view(ctx, func(tx *bolt.Tx) error {
		d := dataBucket(tx, ns.name)
		if d == nil {
			return nil
		}
		rec := d.Get([]byte(key))
		if rec == nil || expired(rec, now) {
			return nil
		}
		val, ok = string(rec[8:]), true
		return nil
	})
	return val, ok, ns.wrap("get", key, err)
}

// Set stores value under key, expiring after ttl if ttl > 0.
func (ns *boltNS) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := firstErr(checkKey(key), checkValue(value), checkTTL(ttl)); err != nil {
		return ns.wrap("set", key, err)
	}
	err := ns.s.update(ctx, func(tx *bolt.Tx) error {
		w, err := loadTx(tx, ns.name, true, ns.s.now())
		if err != nil {
			return err
		}
		w.put([]byte(key), []byte(value), w.expiry(ttl))
		return w.commit(ns.q)
	})
	return ns.wrap("set", key, err)
}

// Delete removes key.
func (ns *boltNS) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return ns.wrap("delete", key, err)
	}
	err := ns.s.update(ctx, func(tx *bolt.Tx) error {
		w, err := loadTx(tx, ns.name, false, ns.s.now())
		if err != nil || w == nil {
			return err
		}
		w.del([]byte(key))
		return w.commit(ns.q)
	})
	return ns.wrap("delete", key, err)
}

// Incr adds n to key's integer value (missing = 0), keeping its expiry.
func (ns *boltNS) Incr(ctx context.Context, key string, n int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, ns.wrap("incr", key, err)
	}
	var result int64
	err := ns.s.update(ctx, func(tx *bolt.Tx) error {
		w, err := loadTx(tx, ns.name, true, ns.s.now())
		if err != nil {
			return err
		}
		k := []byte(key)
		var cur, exp int64
		if rec := w.live(k); rec != nil {
			if cur, err = parseInt(string(rec[8:])); err != nil {
				return err
			}
			exp = int64(binary.BigEndian.Uint64(rec))
		}
		next, err := addInt64(cur, n)
		if err != nil {
			return err
		}
		w.put(k, fmt.Appendf(nil, "%d", next), exp)
		if err := w.commit(ns.q); err != nil {
			return err
		}
		result = next
		return nil
	})
	if err != nil {
		return 0, ns.wrap("incr", key, err)
	}
	return result, nil
}

// CAS sets key to new (without expiry) if its value is *old, or if it is
// absent when old is nil.
func (ns *boltNS) CAS(ctx context.Context, key string, old *string, new string) (bool, error) {
	if err := firstErr(checkKey(key), checkValue(new)); err != nil {
		return false, ns.wrap("cas", key, err)
	}
	var swapped bool
	err := ns.s.update(ctx, func(tx *bolt.Tx) error {
		swapped = false
		w, err := loadTx(tx, ns.name, true, ns.s.now())
		if err != nil {
			return err
		}
		k := []byte(key)
		rec := w.live(k)
		switch {
		case old == nil && rec != nil,
			old != nil && (rec == nil || string(rec[8:]) != *old):
			return w.save() // an expired record may have been dropped
		}
		w.put(k, []byte(new), 0)
		if err := w.commit(ns.q); err != nil {
			return err
		}
		swapped = true
		return nil
	})
	if err != nil {
		return false, ns.wrap("cas", key, err)
	}
	return swapped, nil
}

// List returns up to limit live keys starting with prefix, in byte order.
func (ns *boltNS) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	return ns.ListAfter(ctx, prefix, "", limit)
}

// ListAfter is List from the first key after after.
func (ns *boltNS) ListAfter(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	limit = listLimit(limit)
	keys := []string{}
	if len(prefix) > MaxKeyLen { // no key can have it
		return keys, ns.wrap("list", prefix, ctx.Err())
	}
	now := ns.s.now().UnixNano()
	err := ns.s.view(ctx, func(tx *bolt.Tx) error {
		d := dataBucket(tx, ns.name)
		if d == nil {
			return nil
		}
		p := []byte(prefix)
		start := p
		if after > prefix {
			start = []byte(after)
		}
		c := d.Cursor()
		for k, rec := c.Seek(start); k != nil && bytes.HasPrefix(k, p); k, rec = c.Next() {
			if expired(rec, now) || (after != "" && string(k) <= after) {
				continue
			}
			keys = append(keys, string(k))
			if len(keys) == limit {
				break
			}
			if len(keys)%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, ns.wrap("list", prefix, err)
	}
	return keys, nil
}

// Batch applies ops in one transaction: all of them or, on any error
// (quota included), none.
func (ns *boltNS) Batch(ctx context.Context, ops []Op) error {
	if err := checkOps(ops); err != nil {
		return fmt.Errorf("kv batch: %w", err)
	}
	if len(ops) == 0 {
		return ctx.Err()
	}
	err := ns.s.update(ctx, func(tx *bolt.Tx) error {
		w, err := loadTx(tx, ns.name, true, ns.s.now())
		if err != nil {
			return err
		}
		for _, op := range ops {
			switch op.Kind {
			case OpSet:
				w.put([]byte(op.Key), []byte(op.Value), w.expiry(op.TTL))
			case OpDelete:
				w.del([]byte(op.Key))
			}
		}
		return w.commit(ns.q)
	})
	if err != nil {
		return fmt.Errorf("kv batch: %w", err)
	}
	return nil
}

func dataBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	app := tx.Bucket(bktApps).Bucket(name)
	if app == nil {
		return nil
	}
	return app.Bucket(bktData)
}

func expired(rec []byte, now int64) bool {
	exp := int64(binary.BigEndian.Uint64(rec))
	return exp != 0 && now >= exp
}

// writeTx is one app's state inside a write transaction.
type writeTx struct {
	app, d, x    *bolt.Bucket
	now          int64 // Unix ns
	n0, b0, n, b int64 // key count and bytes at load and now
	err          error // first bbolt error of put/del, returned by save
}

// check keeps the first error.
func (w *writeTx) check(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// loadTx opens app bucket name in tx; with create false it returns nil if
// the app has never written.
func loadTx(tx *bolt.Tx, name []byte, create bool, now time.Time) (*writeTx, error) {
	root := tx.Bucket(bktApps)
	app := root.Bucket(name)
	if app == nil {
		if !create {
			return nil, nil
		}
		var err error
		if app, err = root.CreateBucket(name); err != nil {
			return nil, fmt.Errorf("create app bucket: %w", err)
		}
	}
	d, err := app.CreateBucketIfNotExists(bktData)
	if err != nil {
		return nil, fmt.Errorf("create data bucket: %w", err)
	}
	x, err := app.CreateBucketIfNotExists(bktExp)
	if err != nil {
		return nil, fmt.Errorf("create expiry bucket: %w", err)
	}
	w := &writeTx{app: app, d: d, x: x, now: now.UnixNano()}
	w.n0, w.b0 = getInt(app, keyCount), getInt(app, keyBytes)
	w.n, w.b = w.n0, w.b0
	return w, nil
}

func getInt(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k []byte, n int64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// expiry is the absolute expiry of a ttl set now (0 for none).
func (w *writeTx) expiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return w.now + int64(ttl)
}

// live returns key's record, first dropping it if it has expired.
func (w *writeTx) live(key []byte) []byte {
	rec := w.d.Get(key)
	if rec == nil {
		return nil
	}
	if expired(rec, w.now) {
		w.del(key)
		return nil
	}
	return rec
}

func (w *writeTx) del(key []byte) {
	rec := w.d.Get(key)
	if rec == nil {
		return
	}
	if exp := binary.BigEndian.Uint64(rec); exp != 0 {
		w.check(w.x.Delete(expKey(exp, key)))
	}
	w.n--
	w.b -= int64(len(key) + len(rec) - 8)
	w.check(w.d.Delete(key))
}

func (w *writeTx) put(key, value []byte, exp int64) {
	w.del(key)
	rec := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(rec, uint64(exp))
	copy(rec[8:], value)
	w.check(w.d.Put(key, rec))
	if exp != 0 {
		w.check(w.x.Put(expKey(uint64(exp), key), nil))
	}
	w.n++
	w.b += int64(len(key) + len(value))
}

// sweep drops up to max expired keys and returns how many index entries
// it consumed.
func (w *writeTx) sweep(max int) int {
	var idx [][]byte
	c := w.x.Cursor()
	for k, _ := c.First(); k != nil && len(idx) < max; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k)) > w.now {
			break
		}
		idx = append(idx, bytes.Clone(k))
	}
	for _, ik := range idx {
		key := ik[8:]
		if rec := w.d.Get(key); rec != nil && bytes.Equal(rec[:8], ik[:8]) {
			w.del(key)
		} else {
			w.check(w.x.Delete(ik)) // stale entry: drop it alone
		}
	}
	return len(idx)
}

// commit checks the quota (sweeping the app's expired keys first if it
// would be broken) and saves the counters.
func (w *writeTx) commit(q Quota) error {
	if w.err != nil {
		return fmt.Errorf("bbolt: %w", w.err)
	}
	if overQuota(q, w.n0, w.b0, w.n, w.b) != nil {
		for w.sweep(sweepChunk) == sweepChunk {
		}
		if err := overQuota(q, w.n0, w.b0, w.n, w.b); err != nil {
			return err
		}
	}
	return w.save()
}

func (w *writeTx) save() error {
	if w.err != nil {
		return fmt.Errorf("bbolt: %w", w.err)
	}
	if w.n == w.n0 && w.b == w.b0 {
		return nil
	}
	if err := putInt(w.app, keyCount, w.n); err != nil {
		return err
	}
	return putInt(w.app, keyBytes, w.b)
}

func expKey(exp uint64, key []byte) []byte {
	k := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(k, exp)
	copy(k[8:], key)
	return k
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
