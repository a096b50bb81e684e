package kv

// The embedded backend: one SQLite database (modernc.org/sqlite, pure Go)
// in WAL mode, shared by every fcgihost process that opens the same
// data_dir.
//
// Schema (one file, DATA_DIR/kv.sqlite, plus SQLite's -wal and -shm):
//   - kv(app, key, value, exp): the data; app, key and value are BLOBs
//     (byte strings compared with memcmp, so List is in byte order), exp is
//     the expiry in Unix ns (0 = none); primary key (app, key);
//   - usage(app, n, b): each app's key count and byte total, updated in the
//     same transaction as the data, so the quota counters cannot drift from
//     it, whichever process writes;
//   - meta(k, v): the schema version and the migration record.
//
// Writes. Each process has one writer goroutine with its own connection.
// Callers queue their write; the writer takes every write queued at that
// moment (up to maxGroup), opens one BEGIN IMMEDIATE transaction (SQLite's
// write lock, which serialises writers across processes), runs each write
// in a SAVEPOINT of its own (a write that fails — quota, not an integer —
// is rolled back alone), and commits: one fsync for the group (group
// commit). synchronous=FULL, so a write is on disk when its call returns,
// and a kill -9 of any process loses no acknowledged write. When another
// process holds the write lock, the writer retries with a short backoff
// (tens of microseconds growing to a millisecond) rather than SQLite's
// busy handler, whose sleeps start at a millisecond and grow to 100 ms.
//
// Reads run on a pool of connections in parallel with each other and with
// writers (WAL readers see the last commit and never block).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/fcgihost/fcgihost/script"
)

// sqliteSchema creates the tables of schema version 1.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS kv (
	app   BLOB NOT NULL,
	key   BLOB NOT NULL,
	value BLOB NOT NULL,
	exp   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (app, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_exp ON kv (app, exp) WHERE exp != 0;
CREATE TABLE IF NOT EXISTS usage (
	app BLOB PRIMARY KEY,
	n   INTEGER NOT NULL,
	b   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	k TEXT PRIMARY KEY,
	v TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (k, v) VALUES ('schema', '1');
`

// maxGroup bounds the writes committed together.
const maxGroup = 256

// sqlStore is the embedded Store.
type sqlStore struct {
	db   *sql.DB
	path string
	log  *slog.Logger
	// mu is read-held by every call in flight; Close takes it to set
	// closed.
	mu     sync.RWMutex
	closed bool
	now    func() time.Time

	reqs chan *writeReq
	stop chan struct{} // closed by Close: the writer and the sweep end
	wg   sync.WaitGroup

	getStmt *sql.Stmt
	// listStmts[after][bounded]: the key range from prefix (>=) or from
	// after (>), up to prefixEnd(prefix) (<) or to the end.
	listStmts [2][2]*sql.Stmt
	cache     *readCache // nil: none (see gencache.go)
}

var _ Store = (*sqlStore)(nil)

// writeReq is one queued write.
type writeReq struct {
	fn    func(w *sqlW) error
	state atomic.Int32 // reqPending, reqRunning or reqAbandoned
	done  chan error   // buffered: the writer never blocks on it
}

const (
	reqPending = iota
	reqRunning
	reqAbandoned
)

// OpenSQLite opens (creating 0600 if missing) the SQLite store at path,
// shared with every other process that opens it, and starts its writer
// and expiry sweep, which Close stops. If dir(path)/kv.db is a store of
// the previous (bbolt) format, its data is first copied in (see migrate).
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	s, err := openSQLite(ctx, path, time.Now, slog.Default())
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string, now func() time.Time, log *slog.Logger) (*sqlStore, error) {
	// SQLite creates the -wal and -shm files with the database file's mode:
	// make it 0600 first.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, openError(path, err)
	}
	f.Close()
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)" +
		"&_pragma=mmap_size(268435456)&_pragma=foreign_keys(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, openError(path, err)
	}
	db.SetMaxIdleConns(64)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, path: path, log: log, now: now,
		reqs: make(chan *writeReq, maxGroup), stop: make(chan struct{})}
	if s.cache, err = openReadCache(path + "-gen"); err != nil {
		log.Warn("kv: no read cache; every get reads the database", "path", path, "err", err)
		s.cache = nil
	}
	// SQLite answers SQLITE_BUSY at once, without its busy handler, when
	// two processes set up a new file together (the journal-mode switch and
	// the schema transaction can deadlock, so one side is told to back
	// off): retry for as long as busy_timeout would have waited.
	var err2 error
	for start := time.Now(); ; {
		if err2 = s.init(ctx); err2 == nil || !isBusy(err2) || time.Since(start) > 10*time.Second || ctx.Err() != nil {
			break
		}
		time.Sleep(20*time.Millisecond + time.Duration(rand.Int64N(int64(30*time.Millisecond))))
	}
	if err := err2; err != nil {
		db.Close()
		s.cache.close()
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.cache.close()
		}
	}()
	wc, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	// The writer polls for the write lock itself (see the file comment).
	if _, err := wc.ExecContext(ctx, "PRAGMA busy_timeout=0"); err != nil {
		wc.Close()
		db.Close()
		return nil, openError(path, err)
	}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.getStmt, `SELECT value, exp FROM kv WHERE app = ? AND key = ?`},
		{&s.listStmts[0][1], `SELECT key FROM kv WHERE app = ? AND key >= ? AND key < ? AND (exp = 0 OR exp > ?) ORDER BY key LIMIT ?`},
		{&s.listStmts[0][0], `SELECT key FROM kv WHERE app = ? AND key >= ? AND ? = 0 AND (exp = 0 OR exp > ?) ORDER BY key LIMIT ?`},
		{&s.listStmts[1][1], `SELECT key FROM kv WHERE app = ? AND key > ? AND key < ? AND (exp = 0 OR exp > ?) ORDER BY key LIMIT ?`},
		{&s.listStmts[1][0], `SELECT key FROM kv WHERE app = ? AND key > ? AND ? = 0 AND (exp = 0 OR exp > ?) ORDER BY key LIMIT ?`},
	} {
		if *p.st, err = db.PrepareContext(ctx, p.q); err != nil {
			wc.Close()
			db.Close()
			return nil, fmt.Errorf("kv: prepare: %w", err)
		}
	}
	w, err := newWriterConn(ctx, wc)
	if err != nil {
		wc.Close()
		db.Close()
		return nil, fmt.Errorf("kv: prepare: %w", err)
	}
	ok = true
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.writer(w)
	}()
	go func() {
		defer s.wg.Done()
		s.sweepLoop()
	}()
	return s, nil
}

// openError explains why the store at path cannot be opened.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("kv: open embedded store %s: %w: the file and its directory (data_dir) must be readable and writable by the user fcgihost runs as (uid %d); fix their owner or set data_dir", path, err, os.Geteuid())
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("kv: open embedded store %s: %w: free some space or move data_dir", path, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("kv: open embedded store %s: %w: set data_dir to a writable file system", path, err)
	}
	return fmt.Errorf("kv: open embedded store %s: %w", path, err)
}

// init switches the database to WAL, creates the schema and migrates an
// old bbolt store, under SQLite's write lock (so that processes starting
// together do it once).
func (s *sqlStore) init(ctx context.Context) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return openError(s.path, err)
	}
	defer c.Close()
	// journal_mode is persistent; setting it needs a moment without other
	// writers, which busy_timeout waits for.
	var mode string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return s.initError(err)
	}
	if mode != "wal" {
		return fmt.Errorf("kv: open embedded store %s: journal mode is %q, not WAL (a file system without shared memory?); set data_dir to a local file system", s.path, mode)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return s.initError(err)
	}
	if s.cache != nil {
		s.cache.beginWrite() // a migration changes data other processes may have cached
		defer s.cache.endWrite()
	}
	ok := false
	defer func() {
		if !ok {
			c.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	if _, err := c.ExecContext(ctx, sqliteSchema); err != nil {
		return s.initError(err)
	}
	var ver string
	if err := c.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = 'schema'").Scan(&ver); err != nil {
		return s.initError(err)
	}
	if ver != "1" {
		return fmt.Errorf("kv: open embedded store %s: schema version %s is newer than this fcgihost knows (1); run the newer fcgihost, or restore a backup", s.path, ver)
	}
	old := filepath.Join(filepath.Dir(s.path), "kv.db")
	done, err := s.migrate(ctx, c, old)
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return s.initError(err)
	}
	ok = true
	if done {
		s.retireBolt(old)
	}
	return nil
}

func (s *sqlStore) initError(err error) error {
	if isBusy(err) {
		return fmt.Errorf("kv: open embedded store %s: %w: another process has held its write lock for 10 s; find it with `fuser %s` and stop it", s.path, err, s.path)
	}
	return openError(s.path, err)
}

// isBusy reports whether err is SQLite's "database is locked" (SQLITE_BUSY
// or SQLITE_LOCKED, any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == 5 || c == 6
	}
	return false
}

// Close waits for the calls in flight, stops the writer and the sweep and
// closes the database.
func (s *sqlStore) Close() error {
	s.mu.Lock()
	was := s.closed
	s.closed = true
	s.mu.Unlock()
	if was {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	err := s.db.Close()
	if cerr := s.cache.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kv: close %s: %w", s.path, err)
	}
	return nil
}

// Namespace returns app's namespace.
func (s *sqlStore) Namespace(app string, q Quota) script.KV {
	return &sqlNS{s: s, app: blob(app), q: q}
}

// blob is s as a BLOB parameter (never nil, which would bind NULL).
func blob(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// update queues fn as one write and waits for its commit. A caller whose
// ctx ends before the writer took its write marks it abandoned, and it is
// skipped; once taken, the caller waits for the commit (one fsync). So an
// error from ctx always means nothing was written.
func (s *sqlStore) update(ctx context.Context, fn func(*sqlW) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			return fmt.Errorf("waiting for the store's write lock: %w", ctx.Err())
		}
		return <-r.done
	}
}

// writer commits the queued writes, in groups, until stop.
func (s *sqlStore) writer(w *sqlW) {
	defer w.close()
	group := make([]*writeReq, 0, maxGroup)
	for {
		group = group[:0]
		select {
		case r := <-s.reqs:
			group = append(group, r)
		case <-s.stop:
			return
		}
		group = s.drain(group)
		s.commitGroup(w, group)
	}
}

// drain adds the writes queued now to group.
func (s *sqlStore) drain(group []*writeReq) []*writeReq {
	for len(group) < maxGroup {
		select {
		case r := <-s.reqs:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

// begin takes SQLite's write lock, retrying while another process holds
// it, until every write of group is abandoned or the store closes.
func (s *sqlStore) begin(w *sqlW, group []*writeReq) ([]*writeReq, error) {
	wait := 20 * time.Microsecond
	for {
		err := w.exec(w.stBegin)
		if err == nil {
			return group, nil
		}
		if !isBusy(err) {
			return group, err
		}
		live := group[:0]
		for _, r := range group {
			if r.state.Load() != reqAbandoned {
				live = append(live, r)
			}
		}
		group = live
		if len(group) == 0 {
			return nil, nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return group, ErrClosed
		}
		if wait < time.Millisecond {
			wait *= 2
		}
	}
}

// commitGroup runs group's writes in one transaction and reports each
// one's result.
func (s *sqlStore) commitGroup(w *sqlW, group []*writeReq) {
	group, err := s.begin(w, group)
	if err != nil {
		err = fmt.Errorf("sqlite begin: %w", err)
		for _, r := range group {
			r.done <- err
		}
		return
	}
	if s.cache != nil {
		s.cache.beginWrite()
		defer s.cache.endWrite() // after the commit or rollback below
	}
	group = s.drain(group) // what arrived while waiting for the lock
	results := make([]error, len(group))
	ran := group[:0:0]
	var resRan []int
	for i, r := range group {
		if !r.state.CompareAndSwap(reqPending, reqRunning) {
			continue // abandoned: its caller has gone
		}
		ran = append(ran, r)
		resRan = append(resRan, i)
		if len(group) == 1 {
			results[i] = w.run(r.fn, s.now())
			continue
		}
		if err := w.exec(w.stSave); err != nil {
			results[i] = fmt.Errorf("sqlite savepoint: %w", err)
			continue
		}
		results[i] = w.run(r.fn, s.now())
		if results[i] != nil {
			if err := w.exec(w.stRollbackTo); err != nil {
				results[i] = errors.Join(results[i], fmt.Errorf("sqlite rollback: %w", err))
			}
		}
		if err := w.exec(w.stRelease); err != nil && results[i] == nil {
			results[i] = fmt.Errorf("sqlite release: %w", err)
		}
	}
	var cerr error
	if len(group) == 1 && results[0] != nil {
		cerr = w.exec(w.stRollback)
		if cerr != nil {
			s.log.Warn("kv: rollback", "path", s.path, "err", cerr)
		}
		cerr = nil
	} else if err := w.exec(w.stCommit); err != nil {
		cerr = fmt.Errorf("sqlite commit: %w", err)
		if rerr := w.exec(w.stRollback); rerr != nil {
			s.log.Warn("kv: rollback after a failed commit", "path", s.path, "err", rerr)
		}
	}
	for j, r := range ran {
		err := results[resRan[j]]
		if err == nil {
			err = cerr
		}
		r.done <- err
	}
	for i, r := range group {
		if results[i] == nil && r.state.Load() == reqAbandoned {
			r.done <- context.Canceled // nobody reads it; the channel is buffered
		}
	}
}

// view checks ctx and the store's state around a read.
func (s *sqlStore) view(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn()
}

// sweepLoop removes expired keys of every app every sweepInterval.
func (s *sqlStore) sweepLoop() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.sweepAll(); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Warn("kv: expiry sweep", "path", s.path, "err", err)
			}
		}
	}
}

// sweepAll removes every expired key of every app and returns how many.
func (s *sqlStore) sweepAll() (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var apps [][]byte
	err := s.view(ctx, func() error {
		rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT app FROM kv WHERE exp != 0 AND exp <= ?", s.now().UnixNano())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a []byte
			if err := rows.Scan(&a); err != nil {
				return err
			}
			apps = append(apps, a)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("list apps: %w", err)
	}
	total := 0
	for _, app := range apps {
		for {
			n := 0
			err := s.update(ctx, func(w *sqlW) error {
				if err := w.load(app); err != nil {
					return err
				}
				var err error
				if n, err = w.sweep(sweepChunk); err != nil {
					return err
				}
				return w.save()
			})
			if err != nil {
				return total, fmt.Errorf("sweep %q: %w", app, err)
			}
			total += n
			if n < sweepChunk {
				break
			}
		}
	}
	return total, nil
}

// sqlNS is one app's namespace in a sqlStore.
type sqlNS struct {
	s   *sqlStore
	app []byte
	q   Quota
}

var (
	_ script.KV = (*sqlNS)(nil)
	_ Batcher   = (*sqlNS)(nil)
	_ Pager     = (*sqlNS)(nil)
)

func (ns *sqlNS) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kv %s %q: %w", op, truncate(key, 64), err)
}

// Get returns key's value if it exists and has not expired.
func (ns *sqlNS) Get(ctx context.Context, key string) (string, bool, error) {
	if err := checkKey(key); err != nil {
		return "", false, ns.wrap("get", key, err)
	}
	now := ns.s.now().UnixNano()
	var e cacheEntry
	err := ns.s.view(ctx, func() error {
		// Under view's lock: Close unmaps the cache's counter.
		c := ns.s.cache
		var (
			ck  cacheKey
			gen uint64
			use bool
		)
		if c != nil {
			ck = cacheKey{string(ns.app), key}
			if gen, use = c.generation(); use {
				var hit bool
				if e, hit = c.lookup(gen, ck); hit && (e.exp == 0 || now < e.exp) {
					return nil
				}
			}
		}
		// Not ctx: a lookup takes microseconds, and a cancellable context
		// costs the driver a goroutine per statement.
		var val []byte
		e = cacheEntry{}
		err := ns.s.getStmt.QueryRowContext(context.Background(), ns.app, blob(key)).Scan(&val, &e.exp)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			e.val, e.found = string(val), true
		}
		if use {
			c.store(gen, ck, e)
		}
		return nil
	})
	if err != nil {
		return "", false, ns.wrap("get", key, err)
	}
	if !e.found || (e.exp != 0 && now >= e.exp) {
		return "", false, nil
	}
	return e.val, true, nil
}

// Set stores value under key, expiring after ttl if ttl > 0.
func (ns *sqlNS) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := firstErr(checkKey(key), checkValue(value), checkTTL(ttl)); err != nil {
		return ns.wrap("set", key, err)
	}
	err := ns.s.update(ctx, func(w *sqlW) error {
		if err := w.load(ns.app); err != nil {
			return err
		}
		if err := w.put(blob(key), blob(value), w.expiry(ttl)); err != nil {
			return err
		}
		return w.commit(ns.q)
	})
	return ns.wrap("set", key, err)
}

// Delete removes key.
func (ns *sqlNS) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return ns.wrap("delete", key, err)
	}
	err := ns.s.update(ctx, func(w *sqlW) error {
		if err := w.load(ns.app); err != nil {
			return err
		}
		if err := w.del(blob(key)); err != nil {
			return err
		}
		return w.save()
	})
	return ns.wrap("delete", key, err)
}

// Incr adds n to key's integer value (missing = 0), keeping its expiry.
func (ns *sqlNS) Incr(ctx context.Context, key string, n int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, ns.wrap("incr", key, err)
	}
	var result int64
	err := ns.s.update(ctx, func(w *sqlW) error {
		if err := w.load(ns.app); err != nil {
			return err
		}
		k := blob(key)
		val, exp, ok, err := w.live(k)
		if err != nil {
			return err
		}
		var cur int64
		if ok {
			if cur, err = parseInt(string(val)); err != nil {
				return err
			}
		}
		next, err := addInt64(cur, n)
		if err != nil {
			return err
		}
		if err := w.put(k, fmt.Appendf(nil, "%d", next), exp); err != nil {
			return err
		}
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
func (ns *sqlNS) CAS(ctx context.Context, key string, old *string, new string) (bool, error) {
	if err := firstErr(checkKey(key), checkValue(new)); err != nil {
		return false, ns.wrap("cas", key, err)
	}
	var swapped bool
	err := ns.s.update(ctx, func(w *sqlW) error {
		swapped = false
		if err := w.load(ns.app); err != nil {
			return err
		}
		k := blob(key)
		val, _, ok, err := w.live(k)
		if err != nil {
			return err
		}
		switch {
		case old == nil && ok,
			old != nil && (!ok || string(val) != *old):
			return w.save() // an expired record may have been dropped
		}
		if err := w.put(k, blob(new), 0); err != nil {
			return err
		}
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
func (ns *sqlNS) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	return ns.ListAfter(ctx, prefix, "", limit)
}

// ListAfter is List from the first key after after.
func (ns *sqlNS) ListAfter(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	limit = listLimit(limit)
	keys := []string{}
	if len(prefix) > MaxKeyLen { // no key can have it
		return keys, ns.wrap("list", prefix, ctx.Err())
	}
	err := ns.s.view(ctx, func() error {
		now := ns.s.now().UnixNano()
		from, excl := blob(prefix), 0
		if after != "" && after >= prefix {
			from, excl = blob(after), 1
		}
		var end any = 0 // "? = 0": no upper bound
		bounded := 0
		if e, ok := prefixEnd(prefix); ok && prefix != "" {
			end, bounded = e, 1
		}
		rows, err := ns.s.listStmts[excl][bounded].QueryContext(ctx, ns.app, from, end, now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				return err
			}
			if !strings.HasPrefix(string(k), prefix) {
				break // only with no upper bound: past the prefix
			}
			keys = append(keys, string(k))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, ns.wrap("list", prefix, err)
	}
	return keys, nil
}

// prefixEnd is the smallest byte string greater than every string with
// prefix p, if there is one (there is none when p is all 0xff bytes).
func prefixEnd(p string) ([]byte, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return b[:i+1], true
		}
	}
	return nil, false
}

// Batch applies ops in one transaction: all of them or, on any error
// (quota included), none.
func (ns *sqlNS) Batch(ctx context.Context, ops []Op) error {
	if err := checkOps(ops); err != nil {
		return fmt.Errorf("kv batch: %w", err)
	}
	if len(ops) == 0 {
		return ctx.Err()
	}
	err := ns.s.update(ctx, func(w *sqlW) error {
		if err := w.load(ns.app); err != nil {
			return err
		}
		for _, op := range ops {
			var err error
			switch op.Kind {
			case OpSet:
				err = w.put(blob(op.Key), blob(op.Value), w.expiry(op.TTL))
			case OpDelete:
				err = w.del(blob(op.Key))
			}
			if err != nil {
				return err
			}
		}
		return w.commit(ns.q)
	})
	if err != nil {
		return fmt.Errorf("kv batch: %w", err)
	}
	return nil
}

// sqlW is the writer's connection with its prepared statements, and the
// state of the one write it is running: one app's counters.
type sqlW struct {
	c *sql.Conn

	stBegin, stCommit, stRollback, stSave, stRelease, stRollbackTo *sql.Stmt
	stUsage, stSaveUsage, stLive, stDel, stPut, stSweep            *sql.Stmt

	app          []byte
	now          int64 // Unix ns
	n0, b0, n, b int64 // key count and bytes at load and now
}

func newWriterConn(ctx context.Context, c *sql.Conn) (*sqlW, error) {
	w := &sqlW{c: c}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&w.stBegin, "BEGIN IMMEDIATE"},
		{&w.stCommit, "COMMIT"},
		{&w.stRollback, "ROLLBACK"},
		{&w.stSave, "SAVEPOINT w"},
		{&w.stRelease, "RELEASE w"},
		{&w.stRollbackTo, "ROLLBACK TO w"},
		{&w.stUsage, "SELECT n, b FROM usage WHERE app = ?"},
		{&w.stSaveUsage, "INSERT INTO usage (app, n, b) VALUES (?, ?, ?) ON CONFLICT (app) DO UPDATE SET n = excluded.n, b = excluded.b"},
		{&w.stLive, "SELECT value, exp FROM kv WHERE app = ? AND key = ?"},
		{&w.stDel, "DELETE FROM kv WHERE app = ? AND key = ? RETURNING length(key) + length(value)"},
		{&w.stPut, "INSERT INTO kv (app, key, value, exp) VALUES (?, ?, ?, ?)"},
		{&w.stSweep, "DELETE FROM kv WHERE app = ? AND exp != 0 AND exp <= ? AND key IN (SELECT key FROM kv WHERE app = ? AND exp != 0 AND exp <= ? LIMIT ?) RETURNING length(key) + length(value)"},
	} {
		var err error
		if *p.st, err = c.PrepareContext(ctx, p.q); err != nil {
			w.close()
			return nil, fmt.Errorf("%s: %w", p.q, err)
		}
	}
	return w, nil
}

func (w *sqlW) close() {
	for _, st := range []*sql.Stmt{w.stBegin, w.stCommit, w.stRollback, w.stSave, w.stRelease,
		w.stRollbackTo, w.stUsage, w.stSaveUsage, w.stLive, w.stDel, w.stPut, w.stSweep} {
		if st != nil {
			st.Close()
		}
	}
	w.c.Close()
}

func (w *sqlW) exec(st *sql.Stmt, args ...any) error {
	_, err := st.ExecContext(context.Background(), args...)
	return err
}

// run runs one write with the clock at now.
func (w *sqlW) run(fn func(*sqlW) error, now time.Time) error {
	w.app, w.now = nil, now.UnixNano()
	return fn(w)
}

// load reads app's counters.
func (w *sqlW) load(app []byte) error {
	w.app = app
	err := w.stUsage.QueryRowContext(context.Background(), app).Scan(&w.n0, &w.b0)
	if errors.Is(err, sql.ErrNoRows) {
		w.n0, w.b0, err = 0, 0, nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	w.n, w.b = w.n0, w.b0
	return nil
}

// expiry is the absolute expiry of a ttl set now (0 for none).
func (w *sqlW) expiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return w.now + int64(ttl)
}

// live returns key's value and expiry, first dropping it if it has
// expired.
func (w *sqlW) live(key []byte) (val []byte, exp int64, ok bool, err error) {
	err = w.stLive.QueryRowContext(context.Background(), w.app, key).Scan(&val, &exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, fmt.Errorf("sqlite: %w", err)
	case exp != 0 && w.now >= exp:
		return nil, 0, false, w.del(key)
	}
	return val, exp, true, nil
}

func (w *sqlW) del(key []byte) error {
	var size int64
	err := w.stDel.QueryRowContext(context.Background(), w.app, key).Scan(&size)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: %w", err)
	}
	w.n--
	w.b -= size
	return nil
}

func (w *sqlW) put(key, value []byte, exp int64) error {
	if err := w.del(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	if err := w.exec(w.stPut, w.app, key, value, exp); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	w.n++
	w.b += int64(len(key) + len(value))
	return nil
}

// sweep drops up to max expired keys of the app and returns how many.
func (w *sqlW) sweep(max int) (int, error) {
	rows, err := w.stSweep.QueryContext(context.Background(), w.app, w.now, w.app, w.now, max)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var size int64
		if err := rows.Scan(&size); err != nil {
			return n, fmt.Errorf("sqlite: %w", err)
		}
		n++
		w.n--
		w.b -= size
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}

// commit checks the quota (sweeping the app's expired keys first if it
// would be broken) and saves the counters.
func (w *sqlW) commit(q Quota) error {
	if overQuota(q, w.n0, w.b0, w.n, w.b) != nil {
		for {
			n, err := w.sweep(sweepChunk)
			if err != nil {
				return err
			}
			if n < sweepChunk {
				break
			}
		}
		if err := overQuota(q, w.n0, w.b0, w.n, w.b); err != nil {
			return err
		}
	}
	return w.save()
}

func (w *sqlW) save() error {
	if w.n == w.n0 && w.b == w.b0 {
		return nil
	}
	if err := w.exec(w.stSaveUsage, w.app, w.n, w.b); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
