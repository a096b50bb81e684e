package kv

// The read cache of the embedded store: each process keeps the values it
// has read, valid while no process has written since. Validity is one
// generation counter in a small file shared (memory-mapped) by every
// process on the store, DATA_DIR/kv.sqlite-gen:
//
//   - a writer, holding SQLite's write lock (so writers never race on the
//     counter), makes it odd before its transaction changes anything and
//     even again, a new value, after the commit or rollback;
//   - a reader whose read began and ended with the same even value caches
//     what it read under that value, and a lookup finds an entry only while
//     the counter still has it.
//
// A writer killed mid-transaction leaves the counter odd, which only
// disables the cache until the next write. A change made to the file by
// another program (the sqlite3 shell) does not move the counter: stop
// fcgihost first (docs/storage.md).

import (
	"sync"
	"sync/atomic"
)

// Bounds of the cache (per store, per process): values above
// maxCachedValue bytes are not cached, and the cache is emptied when it
// holds more than maxCacheBytes.
const (
	maxCachedValue = 4 << 10
	maxCacheBytes  = 8 << 20
)

type cacheKey struct{ app, key string }

type cacheEntry struct {
	val   string
	found bool
	exp   int64 // Unix ns, 0 = none
}

// readCache is the cache of one store.
type readCache struct {
	gen   *atomic.Uint64 // in the shared mapping
	mu    sync.RWMutex
	at    uint64 // the generation m holds
	m     map[cacheKey]cacheEntry
	n     int // bytes in m, roughly
	unmap func() error
}

// generation returns the counter and whether the cache may be used now.
func (c *readCache) generation() (uint64, bool) {
	g := c.gen.Load()
	return g, g%2 == 0
}

// lookup returns the entry for k if the cache holds it at generation g.
func (c *readCache) lookup(g uint64, k cacheKey) (cacheEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.at != g {
		return cacheEntry{}, false
	}
	e, ok := c.m[k]
	return e, ok
}

// store records e for k if the counter is still g (even).
func (c *readCache) store(g uint64, k cacheKey, e cacheEntry) {
	if len(e.val) > maxCachedValue || c.gen.Load() != g || g%2 != 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at != g || c.n > maxCacheBytes {
		clear(c.m)
		c.at, c.n = g, 0
	}
	c.m[k] = e
	c.n += len(k.app) + len(k.key) + len(e.val) + 64
}

// beginWrite marks a write in progress; the caller holds the write lock.
func (c *readCache) beginWrite() {
	g := c.gen.Load()
	if g%2 == 0 {
		c.gen.Store(g + 1)
	} else {
		c.gen.Store(g + 2) // a writer died mid-way: still odd, but new
	}
}

// endWrite marks the write done (committed or rolled back).
func (c *readCache) endWrite() {
	c.gen.Store(c.gen.Load() + 1)
}

func (c *readCache) close() error {
	if c == nil || c.unmap == nil {
		return nil
	}
	return c.unmap()
}
