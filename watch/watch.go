// Package watch owns noticing that files changed. It watches directory
// trees with inotify (github.com/fsnotify/fsnotify) and delivers debounced
// batches of the paths whose contents really changed; it knows nothing of
// apps.
//
// It watches every directory under each root, never single files, so that
// editors' atomic saves (write a temp file and rename it over, remove and
// create, vim's "4913" probe and "file~" backup) show up as a change of the
// real file. New directories are watched as they appear and the files
// already inside them reported; removed or renamed ones are dropped;
// replaced ones (rm -rf + mkdir, `mv new old`) are watched again. A path
// is reported only when its content changed: a size, mtime, ctime and inode
// shortcut first, then a SHA-256 of the content, so a chmod, a touch or a
// save without edits is not a change. (The hash of a file that existed at
// start is taken then for files up to 16 MiB, within a 64 MiB budget over
// all files; a file outside the budget is compared by its metadata until
// its first reported change.)
//
// When inotify cannot serve a root — the watch limit
// (fs.inotify.max_user_watches) is exhausted, inotify is unavailable, or
// the root is on a network or FUSE file system whose remote changes inotify
// never sees — that root is polled every PollInterval instead, with a log
// line saying why. A root that does not exist yet or vanishes is polled for
// until it (re)appears; then an Event with Rescan set is delivered. A kernel
// queue overflow delivers Rescan too, after a resynchronising walk.
//
// One goroutine, started by New and stopped by Close, owns all the state.
// Batches are delivered on an unbuffered channel; while the consumer is
// busy, newer batches merge into the one waiting, so the watcher never
// blocks on its consumer and no change is lost.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Watcher.
type Options struct {
	// Roots are the directories watched recursively. A root may not exist
	// yet, or may vanish: it is polled for and watched again when it
	// appears.
	Roots []string
	// Debounce is how long after the last event of a burst its batch is
	// delivered (default 100ms). A burst that never pauses is still
	// delivered every 10 × Debounce (at least every second).
	Debounce time.Duration
	// PollInterval is the period of the polling fallback and of the checks
	// for missing roots (default 1s).
	PollInterval time.Duration
	// Logger receives the watcher's log lines (default slog.Default()).
	Logger *slog.Logger
	// Filter, when set, chooses the files reported (it is not called for
	// directories, which are all watched). Editors' temporary files
	// (*.swp, *.swo, *.swx, *~, 4913, .#*, #*#, JetBrains'
	// *___jb_tmp___) and .git, .hg and .svn directories are always
	// skipped.
	Filter func(path string) bool

	// newNotifier replaces inotify in tests.
	newNotifier func() (notifier, error)
}

// Event is one debounced batch of changes.
type Event struct {
	// Paths are the absolute, cleaned paths of the files (and directories)
	// created, written, removed or renamed whose content changed, sorted.
	// They are under the roots as given (symbolic links not resolved).
	Paths []string
	// Rescan says the watcher may have missed changes — the kernel queue
	// overflowed, or a root (re)appeared — so the consumer should re-check
	// everything it cares about. Paths still lists what was found changed.
	Rescan bool
}

// Watcher watches directory trees. Create it with New, read Events, and
// call Close when done.
type Watcher struct {
	events  chan Event
	cancel  context.CancelFunc
	done    chan struct{} // closed when the loop goroutine has returned
	polling atomic.Bool
	once    sync.Once
	err     error // the notifier's Close error, set before done closes

	l *loop
}

// Defaults of Options.
const (
	DefaultDebounce     = 100 * time.Millisecond
	DefaultPollInterval = time.Second
)

// New starts watching opts.Roots. It walks the existing trees before it
// returns, so a change made after New returns is reported: create the
// watcher before loading what it watches.
func New(opts Options) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.newNotifier == nil {
		opts.newNotifier = newFSNotifier
	}
	roots, err := cleanRoots(opts.Roots)
	if err != nil {
		return nil, err
	}
	w := &Watcher{events: make(chan Event), done: make(chan struct{})}
	l := newLoop(w, opts)
	w.l = l
	if err := l.start(roots); err != nil {
		l.closeNotifier()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		defer close(w.done)
		defer close(w.events)
		l.run(ctx)
		w.err = l.closeNotifier()
	}()
	return w, nil
}

// cleanRoots makes the roots absolute and clean, and drops duplicates and
// roots inside another root (they are watched as part of it).
func cleanRoots(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, errors.New("watch: no roots")
	}
	var roots []string
	for _, r := range in {
		abs, err := filepath.Abs(r)
		if err != nil {
			return nil, fmt.Errorf("watch root %q: %w", r, err)
		}
		if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("watch root %s: not a directory", abs)
		}
		roots = append(roots, abs)
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	out := roots[:0]
	for _, r := range roots {
		if len(out) > 0 && isUnder(r, out[len(out)-1]) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// isUnder reports whether path is dir or inside it.
func isUnder(path, dir string) bool {
	if path == dir {
		return true
	}
	if dir == string(filepath.Separator) {
		return strings.HasPrefix(path, dir)
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

// Events returns the channel of batches. It is closed by Close.
func (w *Watcher) Events() <-chan Event { return w.events }

// Polling reports whether some root is polled instead of watched with
// inotify.
func (w *Watcher) Polling() bool { return w.polling.Load() }

// Close stops the watcher's goroutine, releases the inotify watches and
// closes Events. It is safe to call more than once.
func (w *Watcher) Close() error {
	w.once.Do(func() {
		w.cancel()
		<-w.done
	})
	return w.err
}
