package watch

import (
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Bounds of content hashing.
const (
	hashLimit   = 16 << 20 // larger files are compared by metadata only
	startBudget = 64 << 20 // bytes hashed in all for the files found at start

	// racyWindow: a file modified this close to when its state was taken
	// may change again without its metadata changing (timestamps are as
	// coarse as a kernel tick, or a second or two on some file systems), so
	// the metadata shortcut is not trusted for it — git's "racily clean"
	// problem.
	racyWindow = 2 * time.Second
)

// fileState is what the watcher last saw at a path.
type fileState struct {
	dir     bool
	special bool // a socket, FIFO or device: compared by metadata, never read
	size    int64
	mtime   int64 // ns
	ctime   int64 // ns, 0 where unknown
	ino     uint64
	racy    bool // taken within racyWindow of mtime: compare by content
	hashed  bool
	hash    [sha256.Size]byte
}

// statPath returns the state of path (following symbolic links, without
// hashing). ok is false when nothing is there.
func statPath(path string) (st fileState, ok bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return fileState{}, false, nil
		}
		return fileState{}, false, err
	}
	st = fileState{dir: fi.IsDir(), special: !fi.IsDir() && !fi.Mode().IsRegular(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	st.ino, st.ctime = sysInfo(fi)
	if st.dir {
		st.size, st.mtime, st.ctime = 0, 0, 0 // a directory's own metadata is no change
	} else {
		newest := max(st.mtime, st.ctime)
		st.racy = time.Now().UnixNano()-newest < int64(racyWindow)
	}
	return st, true, nil
}

// sameMeta reports whether b, taken now, is the same file as a by metadata
// alone; never when a was taken too soon after a change to tell.
func sameMeta(a, b fileState) bool {
	return !a.racy && a.dir == b.dir && a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime && a.ino == b.ino
}

// hashFile hashes path's content into st, if it is small enough.
func hashFile(path string, st *fileState) error {
	if st.dir || st.special || st.size > hashLimit {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, hashLimit+1)); err != nil {
		return err
	}
	h.Sum(st.hash[:0])
	st.hashed = true
	return nil
}

// walk calls fn for every path under dir that keep accepts, dir first,
// parents before children; it does not follow symbolic links to
// directories. Unreadable directories are reported to onErr and skipped.
func walk(dir string, keep func(path string, isDir bool) bool, fn func(path string, isDir bool), onErr func(string, error)) {
	fn(dir, true)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			onErr(dir, err)
		}
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !keep(p, e.IsDir()) {
			continue
		}
		if e.IsDir() {
			walk(p, keep, fn, onErr)
		} else {
			fn(p, false)
		}
	}
}
