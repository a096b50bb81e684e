package watch

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Waits in these tests bound how long a test may hang; none is a claim
// about speed. An expected event may take up to waitLimit; "no event" is
// asserted over quietFor, several debounce periods.
const (
	testDebounce = 50 * time.Millisecond
	testPoll     = 50 * time.Millisecond
	waitLimit    = 10 * time.Second
	quietFor     = 400 * time.Millisecond
)

// testLogger logs through t.Log, so a failing test shows the watcher's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func start(t *testing.T, opts Options) *Watcher {
	t.Helper()
	if opts.Debounce == 0 {
		opts.Debounce = testDebounce
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = testPoll
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// waitFor reads batches until every one of paths has been reported, and
// returns the batches read.
func waitFor(t *testing.T, w *Watcher, paths ...string) []Event {
	t.Helper()
	missing := make(map[string]bool)
	for _, p := range paths {
		missing[p] = true
	}
	var seen []Event
	deadline := time.After(waitLimit)
	for len(missing) > 0 {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("Events closed; still waiting for %v", keys(missing))
			}
			seen = append(seen, ev)
			for _, p := range ev.Paths {
				delete(missing, p)
			}
		case <-deadline:
			t.Fatalf("no event for %v within %v; got %+v", keys(missing), waitLimit, seen)
		}
	}
	return seen
}

// waitRescan reads batches until one has Rescan set and lists paths.
func waitRescan(t *testing.T, w *Watcher, paths ...string) []Event {
	t.Helper()
	var seen []Event
	rescan := false
	missing := make(map[string]bool)
	for _, p := range paths {
		missing[p] = true
	}
	deadline := time.After(waitLimit)
	for !rescan || len(missing) > 0 {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatal("Events closed")
			}
			seen = append(seen, ev)
			rescan = rescan || ev.Rescan
			for _, p := range ev.Paths {
				delete(missing, p)
			}
		case <-deadline:
			t.Fatalf("no Rescan event listing %v within %v; got %+v", keys(missing), waitLimit, seen)
		}
	}
	return seen
}

// quiet returns the batches that arrive within quietFor (none, if all is
// well).
func quiet(w *Watcher) []Event {
	var seen []Event
	deadline := time.After(quietFor)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return seen
			}
			seen = append(seen, ev)
		case <-deadline:
			return seen
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func reported(events []Event, path string) bool {
	for _, ev := range events {
		if slices.Contains(ev.Paths, path) {
			return true
		}
	}
	return false
}

// TestWatcher_Edits runs the ways files change, each on a fresh tree and
// watcher, with inotify and with the polling fallback.
func TestWatcher_Edits(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the tree before the watcher starts.
		setup func(t *testing.T, dir string)
		// edit changes the tree and returns the paths that must be reported,
		// and those that must never be.
		edit func(t *testing.T, dir string) (want, never []string)
	}{
		{
			name:  "write",
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "hello.js"), "v1") },
			edit: func(t *testing.T, dir string) ([]string, []string) {
				write(t, filepath.Join(dir, "hello.js"), "v2")
				return []string{filepath.Join(dir, "hello.js")}, nil
			},
		},
		{
			name: "create",
			edit: func(t *testing.T, dir string) ([]string, []string) {
				write(t, filepath.Join(dir, "new.lua"), "return 1")
				return []string{filepath.Join(dir, "new.lua")}, nil
			},
		},
		{
			name:  "atomic rename save",
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "hello.js"), "v1") },
			edit: func(t *testing.T, dir string) ([]string, []string) {
				tmp := filepath.Join(dir, ".hello.js.tmp1234")
				write(t, tmp, "v2")
				must(t, os.Rename(tmp, filepath.Join(dir, "hello.js")))
				return []string{filepath.Join(dir, "hello.js")}, nil
			},
		},
		{
			name:  "remove then create",
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "hello.js"), "v1") },
			edit: func(t *testing.T, dir string) ([]string, []string) {
				must(t, os.Remove(filepath.Join(dir, "hello.js")))
				write(t, filepath.Join(dir, "hello.js"), "v2")
				return []string{filepath.Join(dir, "hello.js")}, nil
			},
		},
		{
			// What vim does on :w with the default backupcopy=auto.
			name: "vim save",
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "app", "index.lua"), "v1")
			},
			edit: func(t *testing.T, dir string) ([]string, []string) {
				app := filepath.Join(dir, "app")
				probe, file, backup := filepath.Join(app, "4913"), filepath.Join(app, "index.lua"), filepath.Join(app, "index.lua~")
				swap := filepath.Join(app, ".index.lua.swp")
				write(t, swap, "swap")
				write(t, probe, "")
				must(t, os.Remove(probe))
				must(t, os.Rename(file, backup))
				write(t, file, "v2")
				must(t, os.Remove(backup))
				must(t, os.Remove(swap))
				return []string{file}, []string{probe, backup, swap}
			},
		},
		{
			name: "new subdirectory with files",
			edit: func(t *testing.T, dir string) ([]string, []string) {
				// Created faster than a watch can be added: the files are
				// found by walking the new directories.
				write(t, filepath.Join(dir, "sub", "a.js"), "a")
				write(t, filepath.Join(dir, "x", "y", "z", "b.js"), "b")
				return []string{filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "a.js"), filepath.Join(dir, "x", "y", "z", "b.js")}, nil
			},
		},
		{
			name: "removed directory",
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "sub", "a.js"), "a")
				write(t, filepath.Join(dir, "sub", "deep", "b.js"), "b")
			},
			edit: func(t *testing.T, dir string) ([]string, []string) {
				must(t, os.RemoveAll(filepath.Join(dir, "sub")))
				return []string{filepath.Join(dir, "sub"), filepath.Join(dir, "sub", "a.js"), filepath.Join(dir, "sub", "deep", "b.js")}, nil
			},
		},
		{
			name:  "renamed directory",
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "old", "deep", "a.js"), "a") },
			edit: func(t *testing.T, dir string) ([]string, []string) {
				must(t, os.Rename(filepath.Join(dir, "old"), filepath.Join(dir, "new")))
				return []string{filepath.Join(dir, "old", "deep", "a.js"), filepath.Join(dir, "new", "deep", "a.js")}, nil
			},
		},
		{
			name:  "directory moved out of the tree",
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "root", "app", "a.js"), "a") },
			edit: func(t *testing.T, dir string) ([]string, []string) {
				must(t, os.Rename(filepath.Join(dir, "root", "app"), filepath.Join(dir, "elsewhere")))
				return []string{filepath.Join(dir, "root", "app", "a.js")}, nil
			},
		},
	}
	for _, mode := range []string{"inotify", "polling"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				rootDir := dir
				if tt.name == "directory moved out of the tree" {
					rootDir = filepath.Join(dir, "root")
				}
				if tt.setup != nil {
					tt.setup(t, dir)
				}
				opts := Options{Roots: []string{rootDir}}
				if mode == "polling" {
					opts.newNotifier = func() (notifier, error) { return nil, errors.New("no inotify in this test") }
				}
				w := start(t, opts)
				if got := w.Polling(); got != (mode == "polling") {
					t.Fatalf("Polling() = %v", got)
				}
				want, never := tt.edit(t, dir)
				events := waitFor(t, w, want...)
				events = append(events, quiet(w)...)
				for _, p := range never {
					if reported(events, p) {
						t.Errorf("%s reported: %+v", p, events)
					}
				}
				for _, ev := range events {
					for _, p := range ev.Paths {
						if !filepath.IsAbs(p) || filepath.Clean(p) != p {
							t.Errorf("path %q is not absolute and clean", p)
						}
					}
					if !slices.IsSorted(ev.Paths) {
						t.Errorf("paths not sorted: %v", ev.Paths)
					}
				}
			})
		}
	}
}

// After a directory appears, is replaced or renamed, writes inside it are
// still seen under the right name.
func TestWatcher_LaterWritesInNewDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "keep.js"), "k")
	w := start(t, Options{Roots: []string{dir}})

	a := filepath.Join(dir, "sub", "a.js")
	write(t, a, "1")
	waitFor(t, w, a)
	write(t, a, "2")
	waitFor(t, w, a)

	// Replaced: rm -rf + mkdir.
	must(t, os.RemoveAll(filepath.Join(dir, "sub")))
	waitFor(t, w, a)
	write(t, a, "3")
	waitFor(t, w, a)
	write(t, filepath.Join(dir, "sub", "deeper", "b.js"), "b")
	waitFor(t, w, filepath.Join(dir, "sub", "deeper", "b.js"))

	// Renamed: writes are reported under the new name.
	must(t, os.Rename(filepath.Join(dir, "sub"), filepath.Join(dir, "moved")))
	moved := filepath.Join(dir, "moved", "deeper", "b.js")
	waitFor(t, w, moved)
	write(t, moved, "b2")
	events := waitFor(t, w, moved)
	if reported(events, filepath.Join(dir, "sub", "deeper", "b.js")) {
		t.Errorf("write to %s reported under the old name: %+v", moved, events)
	}

	// Replaced by a rename over it (`mv new old`, old being empty).
	must(t, os.Mkdir(filepath.Join(dir, "target"), 0o755))
	waitFor(t, w, filepath.Join(dir, "target"))
	write(t, filepath.Join(dir, "staging", "c.js"), "c")
	waitFor(t, w, filepath.Join(dir, "staging", "c.js"))
	must(t, syscall.Rename(filepath.Join(dir, "staging"), filepath.Join(dir, "target"))) // os.Rename refuses to replace a directory
	c := filepath.Join(dir, "target", "c.js")
	waitFor(t, w, c)
	write(t, c, "c2")
	waitFor(t, w, c)
}

func TestWatcher_UnchangedContentIsNotReported(t *testing.T) {
	for _, mode := range []string{"inotify", "polling"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "hello.js")
			write(t, file, "same")
			opts := Options{Roots: []string{dir}}
			if mode == "polling" {
				opts.newNotifier = func() (notifier, error) { return nil, errors.New("no inotify in this test") }
			}
			w := start(t, opts)

			write(t, file, "same") // rewrite, same bytes: new mtime
			must(t, os.Chmod(file, 0o600))
			now := time.Now().Add(time.Minute)
			must(t, os.Chtimes(file, now, now))
			tmp := filepath.Join(dir, "hello.js.tmp")
			write(t, tmp, "same") // atomic save of the same bytes: new inode
			must(t, os.Rename(tmp, file))
			if events := quiet(w); len(events) > 0 {
				t.Fatalf("unchanged content reported: %+v", events)
			}
			// The watcher is alive: a real change is reported.
			write(t, file, "different")
			waitFor(t, w, file)
		})
	}
}

func TestWatcher_BurstIsBatched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "hot.js")
	write(t, file, "start")
	w := start(t, Options{Roots: []string{dir}})
	for i := range 100 {
		write(t, file, fmt.Sprint("version ", i))
	}
	events := waitFor(t, w, file)
	events = append(events, quiet(w)...)
	n := 0
	for _, ev := range events {
		if slices.Contains(ev.Paths, file) {
			n++
		}
		if c := slices.Compact(slices.Clone(ev.Paths)); len(c) != len(ev.Paths) {
			t.Errorf("duplicate paths in a batch: %v", ev.Paths)
		}
	}
	// 100 writes in a tight loop are one burst; allow a few batches for a
	// busy machine pausing the loop, never one per write.
	if n == 0 || n > 10 {
		t.Errorf("100 writes gave %d batches naming the file: %+v", n, events)
	}
}

func TestWatcher_Filter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := start(t, Options{
		Roots: []string{dir},
		Filter: func(p string) bool {
			ext := filepath.Ext(p)
			return ext == ".js" || ext == ".lua"
		},
	})
	logFile := filepath.Join(dir, "x.log")
	deepLog := filepath.Join(dir, "logs", "y.log")
	git := filepath.Join(dir, ".git", "HEAD")
	gitJS := filepath.Join(dir, ".git", "hooks", "x.js")
	write(t, logFile, "l")
	write(t, deepLog, "l")
	write(t, git, "ref")
	write(t, gitJS, "x")
	// Directories are watched whatever the filter says of files.
	js := filepath.Join(dir, "sub", "deeper", "x.js")
	write(t, js, "x")
	events := waitFor(t, w, js, filepath.Join(dir, "sub"))
	write(t, js, "x2")
	events = append(events, waitFor(t, w, js)...)
	events = append(events, quiet(w)...)
	for _, p := range []string{logFile, deepLog, git, gitJS, filepath.Dir(git)} {
		if reported(events, p) {
			t.Errorf("filtered path %s reported: %+v", p, events)
		}
	}
}

func TestWatcher_MissingRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rootDir := filepath.Join(dir, "apps")
	w := start(t, Options{Roots: []string{rootDir}})

	// Appears after the watcher started.
	a := filepath.Join(rootDir, "a.js")
	write(t, a, "a")
	waitRescan(t, w, a)
	write(t, a, "a2")
	waitFor(t, w, a)

	// Deleted: its files are reported removed.
	must(t, os.RemoveAll(rootDir))
	waitFor(t, w, a)

	// Back again: watched again, with a Rescan.
	write(t, a, "a3")
	waitRescan(t, w, a)
	b := filepath.Join(rootDir, "sub", "b.js")
	write(t, b, "b")
	waitFor(t, w, b)
}

// `mv new root` after `mv root old`: inotify says nothing about the new
// directory; the watcher notices by polling the root.
func TestWatcher_RootReplacedByRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rootDir := filepath.Join(dir, "site")
	write(t, filepath.Join(rootDir, "a.js"), "old")
	w := start(t, Options{Roots: []string{rootDir}})

	write(t, filepath.Join(dir, "site.new", "a.js"), "new")
	write(t, filepath.Join(dir, "site.new", "b.js"), "b")
	must(t, os.Rename(rootDir, filepath.Join(dir, "site.old")))
	must(t, os.Rename(filepath.Join(dir, "site.new"), rootDir))
	waitRescan(t, w, filepath.Join(rootDir, "a.js"), filepath.Join(rootDir, "b.js"))

	c := filepath.Join(rootDir, "c.js")
	write(t, c, "c")
	waitFor(t, w, c)
	// Nothing under the old directory is watched any more.
	write(t, filepath.Join(dir, "site.old", "a.js"), "changed")
	for _, ev := range quiet(w) {
		for _, p := range ev.Paths {
			if strings.Contains(p, "site.old") {
				t.Errorf("change outside the root reported: %s", p)
			}
		}
	}
}

// fakeNotifier wraps inotify: Add fails with failAdd's error, events can
// be dropped, and errors injected.
type fakeNotifier struct {
	real    notifier
	failAdd func(dir string) error
	drop    func() bool
	events  chan fsnotify.Event
	errs    chan error
	done    chan struct{}
	wg      sync.WaitGroup
}

func newFake(failAdd func(string) error, drop func() bool) (*fakeNotifier, error) {
	real, err := newFSNotifier()
	if err != nil {
		return nil, err
	}
	f := &fakeNotifier{real: real, failAdd: failAdd, drop: drop,
		events: make(chan fsnotify.Event), errs: make(chan error), done: make(chan struct{})}
	f.wg.Add(1)
	go func() { // forwards inotify's events until Close
		defer f.wg.Done()
		for {
			select {
			case ev, ok := <-real.Events():
				if !ok {
					return
				}
				if f.drop != nil && f.drop() {
					continue
				}
				select {
				case f.events <- ev:
				case <-f.done:
					return
				}
			case <-f.done:
				return
			}
		}
	}()
	return f, nil
}

func (f *fakeNotifier) Add(dir string) error {
	if f.failAdd != nil {
		if err := f.failAdd(dir); err != nil {
			return err
		}
	}
	return f.real.Add(dir)
}
func (f *fakeNotifier) Remove(dir string) error       { return f.real.Remove(dir) }
func (f *fakeNotifier) Events() <-chan fsnotify.Event { return f.events }
func (f *fakeNotifier) Errors() <-chan error          { return f.errs }
func (f *fakeNotifier) Close() error {
	close(f.done)
	err := f.real.Close()
	f.wg.Wait()
	return err
}

// When inotify runs out of watches for one root, that root is polled and
// its changes still seen; the other root keeps inotify.
func TestWatcher_WatchLimitFallsBackToPolling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	write(t, filepath.Join(small, "a.js"), "a")
	write(t, filepath.Join(big, "x", "b.js"), "b")
	var fake *fakeNotifier
	w := start(t, Options{
		Roots: []string{small, big},
		newNotifier: func() (notifier, error) {
			var err error
			fake, err = newFake(func(d string) error {
				if strings.HasPrefix(d, big) && d != big {
					return fmt.Errorf("inotify_add_watch %s: %w", d, syscall.ENOSPC)
				}
				return nil
			}, nil)
			return fake, err
		},
	})
	if !w.Polling() {
		t.Fatal("Polling() = false after ENOSPC")
	}
	b := filepath.Join(big, "x", "b.js")
	write(t, b, "b2")
	waitFor(t, w, b)
	n := filepath.Join(big, "y", "new.js")
	write(t, n, "n")
	waitFor(t, w, n, filepath.Join(big, "y"))
	must(t, os.Remove(n))
	waitFor(t, w, n)
	a := filepath.Join(small, "a.js")
	write(t, a, "a2")
	waitFor(t, w, a)
}

// A queue overflow loses events; the watcher walks the trees again and
// reports what changed, with Rescan.
func TestWatcher_OverflowRescans(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.js")
	write(t, a, "a")
	write(t, filepath.Join(dir, "same.js"), "s")
	var dropping sync.Mutex
	drop := false
	var fake *fakeNotifier
	w := start(t, Options{
		Roots: []string{dir},
		newNotifier: func() (notifier, error) {
			var err error
			fake, err = newFake(nil, func() bool { dropping.Lock(); defer dropping.Unlock(); return drop })
			return fake, err
		},
	})
	dropping.Lock()
	drop = true
	dropping.Unlock()
	write(t, a, "a2")                                     // lost
	write(t, filepath.Join(dir, "lost", "new.js"), "new") // lost, in a new directory
	if events := quiet(w); len(events) > 0 {
		t.Fatalf("events while dropping: %+v", events)
	}
	dropping.Lock()
	drop = false
	dropping.Unlock()
	fake.errs <- fsnotify.ErrEventOverflow
	events := waitRescan(t, w, a, filepath.Join(dir, "lost", "new.js"))
	if reported(events, filepath.Join(dir, "same.js")) {
		t.Errorf("unchanged file reported after the rescan: %+v", events)
	}
	// The new directory found by the rescan is watched.
	n := filepath.Join(dir, "lost", "new.js")
	write(t, n, "new2")
	waitFor(t, w, n)
}

func TestWatcher_CloseStopsEverything(t *testing.T) {
	// Not parallel: it counts goroutines.
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	w, err := New(Options{Roots: []string{dir, filepath.Join(dir, "missing")}, Debounce: testDebounce, PollInterval: testPoll, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.js"), "a")
	waitFor(t, w, filepath.Join(dir, "a.js"))
	write(t, filepath.Join(dir, "b.js"), "b") // a batch may be waiting at Close
	time.Sleep(2 * testDebounce)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range w.Events() { // drains, then ends: Events is closed
	}
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before New, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestNew_Errors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	write(t, file, "x")
	if _, err := New(Options{}); err == nil {
		t.Error("New with no roots: no error")
	}
	if _, err := New(Options{Roots: []string{file}}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("New with a file root: %v", err)
	}
}

func TestCleanRoots(t *testing.T) {
	got, err := cleanRoots([]string{"/a/b/", "/a", "/c", "/a/b/c", "/c", "/ab"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/a", "/ab", "/c"}; !slices.Equal(got, want) {
		t.Errorf("cleanRoots = %v, want %v", got, want)
	}
}

func TestSkipped(t *testing.T) {
	tests := []struct {
		name string
		skip bool
	}{
		{"index.js", false},
		{"index.lua", false},
		{".index.js.swp", true},
		{".index.js.swo", true},
		{".index.js.swx", true},
		{"movie.swf", false},
		{"4913", true},
		{"49130", false},
		{"index.js~", true},
		{".#index.js", true},
		{"#index.js#", true},
		{"#", false},
		{"index.js___jb_tmp___", true},
		{".git", true},
		{".gitignore", false},
		{".htaccess", false},
	}
	for _, tt := range tests {
		if got := skipped(tt.name); got != tt.skip {
			t.Errorf("skipped(%q) = %v, want %v", tt.name, got, tt.skip)
		}
	}
}

// A local temporary directory is not taken for a network file system, so
// it is watched with inotify, not polled.
func TestRemoteFileSystem_Local(t *testing.T) {
	if name := remoteFileSystem(t.TempDir()); name != "" {
		t.Errorf("remoteFileSystem(TempDir) = %q, want \"\"", name)
	}
	w := start(t, Options{Roots: []string{t.TempDir()}})
	if w.Polling() {
		t.Error("Polling() = true on a local directory")
	}
}
