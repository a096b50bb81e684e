// Package kv owns the apps' key-value storage: the Store behind the script
// `kv` API (script.KV), its two backends, per-app namespaces and quotas.
//
// # Backends
//
// Open picks the backend from the config's `kv` key:
//   - "embedded" (the default): one SQLite database in WAL mode,
//     DATA_DIR/kv.sqlite, created 0600 in a 0700 directory, that any
//     number of processes on the machine share (sqlite.go): readers never
//     wait, writes are serialised by SQLite's write lock across processes,
//     and each process commits the writes waiting at once in one
//     transaction and one fsync (group commit), each in a savepoint of its
//     own. An acknowledged write survives a crash or kill -9. Each process
//     caches what it reads, valid until any process writes (gencache.go).
//     An old bbolt DATA_DIR/kv.db is migrated on the first open
//     (migrate.go).
//   - "bbolt": the previous embedded store (bolt.go), one bbolt file,
//     DATA_DIR/kv.db, locked to one process; kept for comparison.
//   - "redis://HOST:PORT/DB" (or rediss://): a Redis server shared by
//     several fcgihost hosts. TTLs are native (PX); every write (set, incr,
//     cas, delete, batch) is one Lua script, so atomicity and the quota
//     check happen server-side. Single Redis node only (the scripts touch
//     keys they compute, which Redis Cluster does not allow).
//
// Why SQLite (modernc.org/sqlite, pure Go) and not bbolt, which issue 9
// chose for speed: several fcgihost processes must share one store
// (mod_fcgid classes, spawn-fcgi -F, lighttpd max-procs), and bbolt locks
// its file. The figures, and why modernc rather than ncruces/go-sqlite3,
// are in docs/storage.md ("Why SQLite, and what it costs").
//
// # Namespaces
//
// Every app has its own namespace, and isolation is structural, not a
// matter of string concatenation: in SQLite the app is its own column of
// the primary key; in bbolt each app is a nested bucket (keys of another
// app live in another bucket, which no key names); in Redis every key is prefixed "fcgihost:" + len(app) + ":" + app + ":",
// so no app name and key can spell another app's prefix. A key is any
// byte string of 1 to MaxKeyLen bytes (NUL, separators, anything); a value
// is any byte string of at most MaxValueLen bytes.
//
// # Expiry
//
// A key set with a TTL reads as absent once it has passed. SQLite and
// bbolt store the expiry with the value and in a per-app expiry index;
// expired entries are removed lazily (a write to the key, a write that would go over quota
// sweeps the app first) and by a background sweep every minute, owned by
// the Store and stopped by Close. In Redis the data key expires natively
// and its quota bookkeeping is swept by the next writes of the app.
//
// # Quotas
//
// Quota{MaxKeys, MaxBytes} bounds an app's live keys and the sum of
// len(key)+len(value) over them. A write that would take the app over
// either bound fails with ErrQuota and changes nothing; a write that does
// not grow the usage (a delete, a shorter value) always succeeds, even if
// the app is already over a lowered quota.
//
// Every call obeys its context and fails with (a wrap of) ctx.Err() once it
// is done, even while waiting for the single writer. In SQLite and bbolt a
// write that failed that way was not made (a write whose caller gave up
// before it started is skipped; one already committing is waited for). In Redis a call whose context
// ends while the script is in flight returns at once, and the script
// (atomic, all or nothing) may or may not have run, as with any network
// store.
package kv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// Limits of keys, values, lists and batches.
const (
	MaxKeyLen        = 1024    // bytes
	MaxValueLen      = 1 << 20 // bytes
	DefaultListLimit = 1000    // keys returned by List when limit is 0
	MaxListLimit     = 10000   // larger limits are cut to this
	MaxBatchOps      = 1000    // operations in one Batch
	// MaxBatchBytes bounds the keys and values of one Batch together: a
	// batch is one transaction, and a huge one holds the store's write
	// lock (every other app's writes wait) and its copy of the data in
	// memory while it lasts (docs/storage.md, "The kv API").
	MaxBatchBytes = 16 << 20
)

// Errors returned (wrapped) by the namespaces; the script bindings turn them
// into script errors.
var (
	ErrInvalidKey    = errors.New("invalid key")
	ErrValueTooLarge = errors.New("value too large")
	ErrInvalidTTL    = errors.New("invalid ttl")
	ErrNotInteger    = errors.New("value is not an integer or out of range")
	ErrQuota         = errors.New("kv quota exceeded")
	ErrInvalidOp     = errors.New("invalid batch operation")
	ErrClosed        = errors.New("kv store closed")
)

// Quota bounds one app's storage. Zero means unlimited. Bytes are the sum
// of len(key)+len(value) over the app's live keys.
type Quota struct {
	MaxKeys  int64
	MaxBytes int64
}

// Store is a key-value store holding every app's namespace.
type Store interface {
	// Namespace returns app's view of the store under quota q. It is cheap
	// (nothing is created until the first write) and safe for concurrent
	// use; call it once per app version.
	Namespace(app string, q Quota) script.KV
	// Close stops the store's background work and releases it. Calls on
	// its namespaces then fail with ErrClosed.
	Close() error
}

// OpKind is the kind of one batch operation.
type OpKind int

// Batch operations.
const (
	OpSet    OpKind = iota + 1 // set Key to Value, with TTL if > 0
	OpDelete                   // delete Key
)

// Op is one operation of a Batch.
type Op struct {
	Kind  OpKind
	Key   string
	Value string        // OpSet only
	TTL   time.Duration // OpSet only; 0 = no expiry
}

// Batcher is implemented by every namespace Store.Namespace returns:
// Batch applies ops in order in one atomic step (all or nothing, quota
// checked on the result). The script bindings reach it by type assertion.
type Batcher interface {
	Batch(ctx context.Context, ops []Op) error
}

// Pager is implemented by every namespace Store.Namespace returns:
// ListAfter is List of the keys strictly after the key after ("": from the
// start), so a caller pages through a prefix by passing the last key of one
// page as after of the next (the `after` option of kv.list,
// docs/storage.md). Each page costs a seek, not a scan of the pages
// before it.
type Pager interface {
	ListAfter(ctx context.Context, prefix, after string, limit int) ([]string, error)
}

// Open opens the store the config names: url "" or "embedded" is the
// SQLite file dataDir/kv.sqlite (dataDir "" is "./data", created 0700 if
// missing), into which an old bbolt dataDir/kv.db is migrated on the first
// open; "redis://…" or "rediss://…" is a Redis server.
func Open(ctx context.Context, url, dataDir string) (Store, error) {
	switch {
	case url == "" || url == "embedded":
		if dataDir == "" {
			dataDir = "./data"
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, openError(dataDir, err)
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, "kv.sqlite"))
	case url == "bbolt":
		// The previous embedded store, one process per file; kept for
		// comparison (docs/storage.md).
		if dataDir == "" {
			dataDir = "./data"
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, openError(dataDir, err)
		}
		return OpenBolt(filepath.Join(dataDir, "kv.db"))
	case strings.HasPrefix(url, "redis://") || strings.HasPrefix(url, "rediss://"):
		return OpenRedis(ctx, url)
	default:
		return nil, fmt.Errorf("kv: unknown backend %q (want \"embedded\", \"bbolt\" or \"redis://HOST:PORT/DB\")", url)
	}
}

// checkKey validates a key's length.
func checkKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("key of %d bytes (want 1 to %d): %w", len(key), MaxKeyLen, ErrInvalidKey)
	}
	return nil
}

func checkValue(v string) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("value of %d bytes (limit %d): %w", len(v), MaxValueLen, ErrValueTooLarge)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("ttl %v: %w", ttl, ErrInvalidTTL)
	}
	return nil
}

// ttlMillis is ttl in whole milliseconds, rounded up so that a positive TTL
// never becomes "no expiry".
func ttlMillis(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

// listLimit maps a caller's limit to the one applied.
func listLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultListLimit
	case limit > MaxListLimit:
		return MaxListLimit
	}
	return limit
}

// checkOps validates a batch before any backend touches it.
func checkOps(ops []Op) error {
	if len(ops) > MaxBatchOps {
		return fmt.Errorf("batch of %d operations (limit %d): %w", len(ops), MaxBatchOps, ErrInvalidOp)
	}
	total := 0
	for i, op := range ops {
		if total += len(op.Key) + len(op.Value); total > MaxBatchBytes {
			return fmt.Errorf("batch op %d: the batch's keys and values pass %d bytes: %w", i, MaxBatchBytes, ErrValueTooLarge)
		}
		if err := checkKey(op.Key); err != nil {
			return fmt.Errorf("batch op %d: %w", i, err)
		}
		switch op.Kind {
		case OpSet:
			if err := checkValue(op.Value); err != nil {
				return fmt.Errorf("batch op %d: %w", i, err)
			}
			if err := checkTTL(op.TTL); err != nil {
				return fmt.Errorf("batch op %d: %w", i, err)
			}
		case OpDelete:
		default:
			return fmt.Errorf("batch op %d: kind %d: %w", i, op.Kind, ErrInvalidOp)
		}
	}
	return nil
}

// overQuota reports whether moving from (n0, b0) to (n1, b1) keys and bytes
// breaks q. Only growth is refused.
func overQuota(q Quota, n0, b0, n1, b1 int64) error {
	if q.MaxKeys > 0 && n1 > q.MaxKeys && n1 > n0 {
		return fmt.Errorf("%d keys, limit %d: %w", n1, q.MaxKeys, ErrQuota)
	}
	if q.MaxBytes > 0 && b1 > q.MaxBytes && b1 > b0 {
		return fmt.Errorf("%d bytes, limit %d: %w", b1, q.MaxBytes, ErrQuota)
	}
	return nil
}

// parseInt parses a stored counter the way Redis's INCRBY does: an optional
// '-', no '+', no spaces, no leading zeros, within int64.
func parseInt(s string) (int64, error) {
	bad := fmt.Errorf("%q: %w", truncate(s, 40), ErrNotInteger)
	if s == "" || len(s) > 20 {
		return 0, bad
	}
	neg := s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if d == "" || (d[0] == '0' && (len(d) > 1 || neg)) {
		return 0, bad
	}
	var u uint64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, bad
		}
		if u > (1<<63)/10 { // u*10+9 still fits in uint64; range checked below
			return 0, bad
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u <= 1<<63-1:
		return int64(u), nil
	case neg && u <= 1<<63:
		return int64(-u), nil // -1<<63 wraps to itself
	}
	return 0, bad
}

// addInt64 is a+b, or an error if it overflows.
func addInt64(a, b int64) (int64, error) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, fmt.Errorf("%d + %d overflows: %w", a, b, ErrNotInteger)
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
