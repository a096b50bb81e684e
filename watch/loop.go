package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// root is one watched tree.
type root struct {
	path    string
	ino     uint64 // inode of the directory watched, to notice it replaced
	missing bool   // does not exist (or is not a directory): polled for
	poll    bool   // polled instead of watched with inotify
	why     string // why it is polled, for the log
}

// loop holds the watcher's state. Everything here is touched only by the
// loop goroutine (and by New before that goroutine starts).
type loop struct {
	w    *Watcher
	opts Options
	log  *slog.Logger

	n       notifier // nil when inotify is unavailable
	roots   []*root
	watched map[string]bool      // directories with an inotify watch
	state   map[string]fileState // last seen state of every kept path
	dirty   map[string]bool      // paths to compare at the next flush
	found   map[string]bool      // paths polling found changed, for the next flush
	rescan  bool                 // the next batch carries Rescan
	budget  int64                // bytes left to hash for the start-up baseline
	pending *Event               // batch waiting for the consumer

	timer      *time.Timer // debounce
	timerArmed bool
	firstDirty time.Time // when the current burst began
}

func newLoop(w *Watcher, opts Options) *loop {
	return &loop{
		w:       w,
		opts:    opts,
		log:     opts.Logger,
		watched: make(map[string]bool),
		state:   make(map[string]fileState),
		dirty:   make(map[string]bool),
		found:   make(map[string]bool),
		budget:  startBudget,
	}
}

// start opens inotify and takes the baseline of every root.
func (l *loop) start(roots []string) error {
	n, err := l.opts.newNotifier()
	if err != nil {
		l.log.Warn("watch: inotify unavailable, polling for changes", "err", err, "interval", l.opts.PollInterval)
	} else {
		l.n = n
	}
	for _, p := range roots {
		r := &root{path: p}
		if l.n == nil {
			r.poll, r.why = true, "inotify unavailable"
		}
		l.roots = append(l.roots, r)
		l.setUp(r, true)
	}
	l.updatePolling()
	return nil
}

// setUp watches root r (or arranges to poll it) and records or marks its
// paths: as the baseline when baseline is set, else as changes to compare.
func (l *loop) setUp(r *root, baseline bool) {
	st, ok, err := statPath(r.path)
	if !ok || !st.dir {
		if !r.missing {
			why := "does not exist"
			switch {
			case err != nil:
				why = err.Error()
			case ok:
				why = "not a directory"
			}
			l.log.Warn("watch: root is missing; watching for it to appear", "root", r.path, "reason", why)
		}
		r.missing = true
		return
	}
	r.missing, r.ino = false, st.ino
	if !r.poll {
		if fsName := remoteFileSystem(r.path); fsName != "" {
			r.poll, r.why = true, fsName+" file system: inotify misses changes made elsewhere"
			l.log.Warn("watch: polling root", "root", r.path, "reason", r.why, "interval", l.opts.PollInterval)
		}
	}
	l.addTree(r, r.path, baseline)
}

// addTree watches dir and the directories under it (unless r is polled)
// and records (baseline) or marks dirty every path found.
func (l *loop) addTree(r *root, dir string, baseline bool) {
	walk(dir, l.keep, func(path string, isDir bool) {
		if isDir && !r.poll {
			l.watchDir(r, path)
		}
		if baseline {
			l.record(path)
		} else {
			l.dirty[path] = true
		}
	}, func(path string, err error) {
		l.log.Warn("watch: cannot read directory", "dir", path, "err", err)
	})
}

// record stores path's current state as the baseline, hashing it within
// the start-up budget.
func (l *loop) record(path string) {
	st, ok, err := statPath(path)
	if err != nil || !ok {
		return
	}
	if !st.dir && st.size <= l.budget {
		if hashFile(path, &st) == nil && st.hashed {
			l.budget -= st.size
		}
	}
	l.state[path] = st
}

// watchDir adds an inotify watch on dir, falling back to polling r when
// inotify cannot take it.
func (l *loop) watchDir(r *root, dir string) {
	if r.poll || l.watched[dir] {
		return
	}
	err := l.n.Add(dir)
	switch {
	case err == nil:
		l.watched[dir] = true
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		// Gone already; its parent's event reports it.
	case errors.Is(err, fs.ErrPermission):
		l.log.Warn("watch: cannot watch directory", "dir", dir, "err", err)
	case errors.Is(err, syscall.ENOSPC):
		l.fallBack(r, "inotify watch limit reached: raise fs.inotify.max_user_watches (sysctl) to watch instead of polling")
	default:
		l.fallBack(r, fmt.Sprintf("inotify cannot watch %s: %v", dir, err))
	}
}

// fallBack switches root r to polling.
func (l *loop) fallBack(r *root, why string) {
	if r.poll {
		return
	}
	r.poll, r.why = true, why
	l.log.Warn("watch: polling root", "root", r.path, "reason", why, "interval", l.opts.PollInterval)
	l.unwatch(r.path)
	l.updatePolling()
}

// unwatch removes the inotify watches of dir and every directory under it.
func (l *loop) unwatch(dir string) {
	for d := range l.watched {
		if isUnder(d, dir) {
			delete(l.watched, d)
			if l.n != nil {
				_ = l.n.Remove(d) // the kernel may have dropped it already
			}
		}
	}
}

// forget marks path and everything known under it for comparison, and
// drops the watches there: it was removed or renamed away.
func (l *loop) forget(path string) {
	l.unwatch(path)
	l.dirty[path] = true
	for p := range l.state {
		if isUnder(p, path) {
			l.dirty[p] = true
		}
	}
}

func (l *loop) updatePolling() {
	l.w.polling.Store(slices.ContainsFunc(l.roots, func(r *root) bool { return r.poll }))
}

// rootOf returns the root that path is in, or nil.
func (l *loop) rootOf(path string) *root {
	for _, r := range l.roots {
		if isUnder(path, r.path) {
			return r
		}
	}
	return nil
}

// run is the loop goroutine: it handles notifications, debounces, polls and
// delivers batches until ctx is done.
func (l *loop) run(ctx context.Context) {
	l.timer = time.NewTimer(time.Hour)
	l.timer.Stop()
	defer l.timer.Stop()
	ticker := time.NewTicker(l.opts.PollInterval)
	defer ticker.Stop()

	var nEvents <-chan fsnotify.Event
	var nErrors <-chan error
	if l.n != nil {
		nEvents, nErrors = l.n.Events(), l.n.Errors()
	}
	for {
		var out chan<- Event
		var next Event
		if l.pending != nil {
			out, next = l.w.events, *l.pending
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-nEvents:
			if !ok {
				nEvents = nil
				l.notifierLost()
				continue
			}
			l.handle(ev)
		case err, ok := <-nErrors:
			if !ok {
				nErrors = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				l.log.Warn("watch: inotify queue overflowed; rescanning", "err", err)
				l.resync()
			} else {
				l.log.Error("watch: inotify error", "err", err)
			}
		case <-l.timer.C:
			l.timerArmed = false
			l.flush()
		case <-ticker.C:
			l.tick()
		case out <- next:
			l.pending = nil
		}
	}
}

// notifierLost polls every root after inotify's channel closed unasked.
func (l *loop) notifierLost() {
	l.log.Error("watch: inotify stopped; polling every root")
	for _, r := range l.roots {
		l.fallBack(r, "inotify stopped")
	}
}

// handle takes one inotify event.
func (l *loop) handle(ev fsnotify.Event) {
	path := ev.Name
	r := l.rootOf(path)
	if r == nil || r.missing || r.poll {
		return
	}
	if !ev.Has(fsnotify.Create | fsnotify.Write | fsnotify.Remove | fsnotify.Rename) {
		return // chmod only
	}
	old, had := l.state[path]
	isDir := (had && old.dir) || l.watched[path]
	var fi os.FileInfo
	if ev.Has(fsnotify.Create) {
		if info, err := os.Lstat(path); err == nil {
			fi, isDir = info, info.IsDir()
		}
	}
	if !l.keep(path, isDir) {
		return
	}
	if path == r.path {
		if ev.Has(fsnotify.Remove | fsnotify.Rename) {
			l.rootGone(r)
		}
		return
	}
	if ev.Has(fsnotify.Remove | fsnotify.Rename) {
		l.forget(path)
	}
	if fi != nil && fi.IsDir() {
		if l.watched[path] {
			l.forget(path) // replaced: drop the old tree's watches first
		}
		l.addTree(r, path, false)
	}
	l.dirty[path] = true
	l.arm()
}

// rootGone handles a root that was removed or renamed away.
func (l *loop) rootGone(r *root) {
	l.log.Warn("watch: root removed; watching for it to reappear", "root", r.path)
	r.missing = true
	l.forget(r.path)
	l.arm()
}

// resync walks every inotify-watched root again after lost events: it
// re-adds every watch (a lost event may hide a directory replaced) and
// compares every path.
func (l *loop) resync() {
	l.rescan = true
	for p := range l.state {
		l.dirty[p] = true
	}
	clear(l.watched) // inotify_add_watch of a watched directory is harmless
	for _, r := range l.roots {
		if !r.missing && !r.poll {
			l.addTree(r, r.path, false)
		}
	}
	l.arm()
}

// tick polls: every root for its removal or replacement (inotify does not
// tell when a parent of the root is renamed or replaced), missing roots for
// their return, polled roots for changes.
func (l *loop) tick() {
	for _, r := range l.roots {
		if !r.missing {
			st, ok, _ := statPath(r.path)
			if !ok || !st.dir || (r.ino != 0 && st.ino != r.ino) {
				l.rootGone(r)
			}
		}
		switch {
		case r.missing:
			if st, ok, _ := statPath(r.path); ok && st.dir {
				l.log.Info("watch: root is back", "root", r.path)
				l.setUp(r, false)
				if !r.missing {
					l.rescan = true
					l.arm()
				}
			}
		case r.poll:
			l.pollRoot(r)
		}
	}
}

// pollRoot compares root r's tree with the recorded state now, and arms
// the debounce only when something really changed (a recently modified
// file is re-checked by content on every tick without delaying batches).
func (l *loop) pollRoot(r *root) {
	seen := make(map[string]bool)
	var check []string
	walk(r.path, l.keep, func(path string, isDir bool) {
		seen[path] = true
		old, had := l.state[path]
		if !had {
			check = append(check, path)
			return
		}
		if st, ok, err := statPath(path); err != nil || !ok || !sameMeta(old, st) {
			check = append(check, path)
		}
	}, func(string, error) {})
	for p := range l.state {
		if isUnder(p, r.path) && !seen[p] {
			check = append(check, p)
		}
	}
	n := len(l.found)
	for _, p := range check {
		if l.changed(p) {
			l.found[p] = true
		}
	}
	if len(l.found) > n {
		l.arm()
	}
}

// arm (re)starts the debounce timer: the batch goes out Debounce after the
// last event, or maxWait after the first one of a burst that never pauses.
func (l *loop) arm() {
	now := time.Now()
	if !l.timerArmed {
		l.firstDirty = now
	}
	maxWait := max(10*l.opts.Debounce, time.Second)
	d := min(l.opts.Debounce, l.firstDirty.Add(maxWait).Sub(now))
	l.timer.Reset(max(d, 0))
	l.timerArmed = true
}

// flush compares every dirty path with its recorded state and queues a
// batch of the real changes.
func (l *loop) flush() {
	var changed []string
	for path := range l.dirty {
		if l.changed(path) {
			changed = append(changed, path)
		}
	}
	for path := range l.found {
		changed = append(changed, path)
	}
	clear(l.dirty)
	clear(l.found)
	if len(changed) == 0 && !l.rescan {
		return
	}
	if l.pending == nil {
		l.pending = &Event{}
	}
	l.pending.Paths = append(l.pending.Paths, changed...)
	slices.Sort(l.pending.Paths)
	l.pending.Paths = slices.Compact(l.pending.Paths)
	l.pending.Rescan = l.pending.Rescan || l.rescan
	l.rescan = false
}

// changed updates path's recorded state and reports whether its content
// (or existence, or kind) changed.
func (l *loop) changed(path string) bool {
	old, had := l.state[path]
	r := l.rootOf(path)
	cur, ok, err := statPath(path)
	if err != nil {
		l.log.Warn("watch: cannot stat", "path", path, "err", err)
		return had // report it: the consumer will find out what is wrong
	}
	if !ok || r == nil || r.missing {
		delete(l.state, path)
		return had
	}
	if cur.dir {
		l.state[path] = cur
		return !had || !old.dir
	}
	if had && sameMeta(old, cur) {
		return false
	}
	if err := hashFile(path, &cur); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			delete(l.state, path)
			return had
		}
		l.log.Warn("watch: cannot read", "path", path, "err", err)
	}
	l.state[path] = cur
	if had && !old.dir && old.hashed && cur.hashed && old.hash == cur.hash {
		return false // same content, new metadata
	}
	return true
}

// closeNotifier releases inotify; called once, after the loop returns.
func (l *loop) closeNotifier() error {
	if l.n == nil {
		return nil
	}
	err := l.n.Close()
	l.n = nil
	if err != nil {
		return fmt.Errorf("close inotify: %w", err)
	}
	return nil
}
