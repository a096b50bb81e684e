package kv

// Migration from the previous embedded format (bbolt, DATA_DIR/kv.db) to
// SQLite (DATA_DIR/kv.sqlite), automatic on the first open; see
// docs/storage.md ("Migration from bbolt").

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	boltErrors "go.etcd.io/bbolt/errors"
)

// migrate copies the live keys of the bbolt store at old, if there is one
// that was not copied yet, into the transaction open on c (which holds
// SQLite's write lock, so concurrent processes migrate once), and records
// it in meta. It reports whether old has been copied (now or before), so
// that the caller retires it once the transaction is committed.
func (s *sqlStore) migrate(ctx context.Context, c *sql.Conn, old string) (bool, error) {
	fi, err := os.Stat(old)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("kv: migrate %s: %w", old, err)
	}
	// The file's identity: a kv.db made later (say by an older fcgihost
	// started on this data_dir after the migration) is migrated too.
	id := "migrated:" + fileID(fi)
	var done string
	err = c.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", id).Scan(&done)
	switch {
	case err == nil:
		return true, nil // copied, but the process stopped before renaming it
	case !errors.Is(err, sql.ErrNoRows):
		return false, s.initError(err)
	}
	start := time.Now()
	db, err := bolt.Open(old, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	switch {
	case errors.Is(err, boltErrors.ErrTimeout):
		return false, fmt.Errorf("kv: migrate %s to %s: the old store is held by another process (an fcgihost of the previous version still running on this data_dir?); stop it (`fuser %s` names it) and start again: %w", old, s.path, old, err)
	case errors.Is(err, os.ErrPermission):
		return false, openError(old, err)
	case err != nil:
		return false, fmt.Errorf("kv: migrate %s to %s: it is not an fcgihost bbolt store, or it is damaged (%w); move it out of data_dir and start again", old, s.path, err)
	}
	defer db.Close()
	put, err := c.PrepareContext(ctx, "INSERT INTO kv (app, key, value, exp) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
	if err != nil {
		return false, s.initError(err)
	}
	defer put.Close()
	now := s.now().UnixNano()
	var apps, keys int
	err = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bktApps)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			app, ok := bytes.CutPrefix(name, []byte("app:"))
			if !ok {
				return nil
			}
			d := root.Bucket(name).Bucket(bktData)
			if d == nil {
				return nil
			}
			var n, b int64
			err := d.ForEach(func(k, rec []byte) error {
				if len(rec) < 8 || expired(rec, now) {
					return nil
				}
				exp := int64(binary.BigEndian.Uint64(rec))
				res, err := put.ExecContext(ctx, bytes.Clone(app), bytes.Clone(k), append([]byte{}, rec[8:]...), exp)
				if err != nil {
					return err
				}
				if c, _ := res.RowsAffected(); c == 0 {
					return nil // already in the SQLite store, which is newer
				}
				n++
				b += int64(len(k) + len(rec) - 8)
				return nil
			})
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			apps++
			keys += int(n)
			_, err = c.ExecContext(ctx, "INSERT INTO usage (app, n, b) VALUES (?, ?, ?) ON CONFLICT (app) DO UPDATE SET n = n + excluded.n, b = b + excluded.b",
				bytes.Clone(app), n, b)
			return err
		})
	})
	if err != nil {
		return false, fmt.Errorf("kv: migrate %s to %s: %w", old, s.path, err)
	}
	rec := fmt.Sprintf("%s at %s: %d keys of %d apps", old, time.Now().UTC().Format(time.RFC3339), keys, apps)
	if _, err := c.ExecContext(ctx, "INSERT INTO meta (k, v) VALUES (?, ?)", id, rec); err != nil {
		return false, s.initError(err)
	}
	s.log.Info("kv: migrating the bbolt store to SQLite", "from", old, "to", s.path,
		"apps", apps, "keys", keys, "took", time.Since(start).Round(time.Millisecond))
	return true, nil
}

// retireBolt renames the migrated bbolt file to kv.db.migrated, kept as a
// backup; a process that finds it gone (another one renamed it) does
// nothing.
func (s *sqlStore) retireBolt(old string) {
	to := old + ".migrated"
	if _, err := os.Stat(to); err == nil {
		to = old + ".migrated-" + time.Now().UTC().Format("20060102T150405Z")
	}
	err := os.Rename(old, to)
	switch {
	case err == nil:
		s.log.Info("kv: the old bbolt store is migrated and kept as a backup; delete it once the new store is known good", "backup", to, "store", s.path)
	case errors.Is(err, os.ErrNotExist):
	default:
		s.log.Warn("kv: the old bbolt store is migrated but could not be renamed (it is not read again)", "path", old, "err", err)
	}
}

// fileID names a file by device, inode, size and modification time.
func fileID(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
}
