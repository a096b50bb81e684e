// Package registry owns the set of apps fcgihost serves: it discovers them
// in the apps dir (NAME.js, NAME.lua, NAME/index.js, NAME/index.lua) and in
// the configured roots (every script file there an app of its own, pooled by
// its real path and created on first use), resolves a request's params to
// one app (docs/reference.md §2), compiles each app version once and keeps each app's
// pool on its newest good version (reload). It knows nothing of FastCGI.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// Settings are one app's effective settings.
type Settings struct {
	Pool   pool.Options
	Limits sandbox.Limits
	Debug  bool
	// AllowInternalRedirect keeps the X-Accel-*, X-Sendfile headers a
	// script sets (config key allow_internal_redirect); off, the host
	// drops them.
	AllowInternalRedirect bool
	IdleTimeout           time.Duration // root-script pools close after this long unused; 0 = 60s
	Slowlog               time.Duration // log requests running longer, with their stack; 0 = off
	// Isolation is "vm" (the app's VMs live in this process, the default)
	// or "process" (a child process serves it, through Options.Backends).
	Isolation string
	// User, Group and MaxRSS configure a process-isolated app's child
	// (config keys user, group, max_rss).
	User, Group string
	MaxRSS      int64
	// Env is the environment scripts see (config key env).
	Env map[string]string
}

// Options configure a Registry.
type Options struct {
	AppsDir string   // "" = no apps dir
	Roots   []string // globs of shared-hosting roots
	// Only, when not empty, limits the apps dir to the apps of these names
	// (a process-isolated app's child serves its one app).
	Only []string
	// DocRootFallback lets SCRIPT_FILENAME name a file under the
	// DOCUMENT_ROOT the front end sends when no Roots are configured (the
	// fd-0 case, as php-cgi does).
	DocRootFallback bool
	Engines         []script.Engine
	// Settings returns an app's settings; name is the app name, or for a
	// root script its real path. Nil: defaults.
	Settings func(name string) Settings
	// Services returns the KV and Fetcher an app is granted (either nil).
	Services func(name string, s Settings) (script.KV, script.Fetcher)
	// Backends serves the apps whose Settings.Isolation is "process" (see
	// the isolation package); nil: every app runs in this process. The
	// Registry closes it on Close.
	Backends Backends
	Logger   *slog.Logger
	// Modules are the host modules every app may require, and
	// AllowNoHandler lets an app export functions without a request
	// handler (script.Options; docs/embedding.md).
	Modules        []*script.Module
	AllowNoHandler bool
}

// Backend serves one app's requests outside this process's pools (process
// isolation). It is safe for concurrent use.
type Backend interface {
	// Serve answers one request. It writes a whole response to sink — an
	// error page (5xx) when it fails before the head went out — and returns
	// the failure, if any, for the counters. stderr (nil: none) receives
	// what the front end's error log should show.
	Serve(ctx context.Context, params map[string]string, body io.Reader, sink script.Sink, stderr io.Writer) error
	// Close releases the backend, letting requests in flight finish until
	// ctx ends.
	Close(ctx context.Context) error
}

// Backends makes the Backend of each process-isolated app.
type Backends interface {
	Backend(a *App) (Backend, error)
	// Close stops every backend it made.
	Close(ctx context.Context) error
}

// Registry is the set of apps. Safe for concurrent use.
type Registry struct {
	opts    Options
	log     *slog.Logger
	appsDir string // real path of the apps dir, or ""
	engines map[string]script.Engine

	mu       sync.RWMutex
	apps     map[string]*App // named apps of the apps dir
	rootApps map[string]*App // root scripts by real path
	roots    []string        // real paths of the expanded root globs
	rootsAt  time.Time       // when roots were expanded
	// refused are the names of the apps dir whose file or folder is a
	// symlink out of the apps dir and every root, with why: path dispatch
	// answers them 403, as SCRIPT_FILENAME does.
	refused map[string]string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Kind says where an app lives.
type Kind int

const (
	KindFile   Kind = iota // DIR/NAME.ext
	KindFolder             // DIR/NAME/index.ext
	KindRoot               // a script file in a root
)

// App is one app: its files, its current good version's pool, and its
// reload history.
type App struct {
	Name  string // NAME, or the real path for a root script
	Entry string // real path of the entry file
	Dir   string // folder require() is confined to
	Kind  Kind
	// Root is, for a root script, the real path of the root dir it is in.
	Root   string
	Engine script.Engine

	reg      *Registry
	settings Settings
	log      *slog.Logger

	reloadMu sync.Mutex // serialises compiles of this app
	pool     atomic.Pointer[pool.Pool]
	lastUsed atomic.Int64 // unix nanos, for idle root pools
	// unwatched: a script found under the DOCUMENT_ROOT (fd-0 start, no
	// roots), which no watcher covers; Pool looks at its files instead, at
	// most once a second (checked: unix nanos of the last look).
	unwatched bool
	checked   atomic.Int64

	mu         sync.Mutex // guards the fields below
	version    string     // serving version
	tried      string     // last version compiled, good or bad
	files      []string
	lastErr    error
	lastReload time.Time
	reloads    int
	removed    bool
	backend    Backend // a process-isolated app's backend, once started
}

// New discovers the apps and compiles each one; an app that fails to
// compile is kept (it answers 500 and its error is in Status) so that every
// other app serves.
func New(o Options) (*Registry, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Registry{opts: o, log: o.Logger, engines: map[string]script.Engine{},
		apps: map[string]*App{}, rootApps: map[string]*App{}}
	for _, e := range o.Engines {
		for _, ext := range e.Extensions() {
			r.engines[ext] = e
		}
	}
	if o.AppsDir != "" {
		d, err := filepath.Abs(o.AppsDir)
		if err == nil {
			d, err = filepath.EvalSymlinks(d)
		}
		if err != nil {
			return nil, fmt.Errorf("apps dir %s: %w", o.AppsDir, err)
		}
		r.appsDir = d
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.expandRoots()
	r.Rescan()
	r.wg.Add(1)
	go r.janitor()
	return r, nil
}

// AppsDir is the real path of the apps dir ("" if none).
func (r *Registry) AppsDir() string { return r.appsDir }

// RootDirs returns the real paths the root globs expand to now.
func (r *Registry) RootDirs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.roots...)
}

func (r *Registry) expandRoots() {
	var out []string
	for _, g := range r.opts.Roots {
		matches, err := filepath.Glob(g)
		if err != nil {
			r.log.Error("bad root glob", "root", g, "err", err)
			continue
		}
		for _, m := range matches {
			real, err := filepath.EvalSymlinks(m)
			if err != nil {
				continue
			}
			if real, err = filepath.Abs(real); err != nil {
				continue
			}
			if fi, err := os.Stat(real); err == nil && fi.IsDir() {
				out = append(out, real)
			}
		}
	}
	sort.Strings(out)
	r.mu.Lock()
	r.roots = out
	r.rootsAt = time.Now()
	r.mu.Unlock()
}

// confined reports whether the real path of p (which exists) is inside
// the apps dir or a root: a symlink is followed only that far
// (docs/sandbox.md, "Symlinks"). It returns the real path, or why not.
func (r *Registry) confined(p string) (string, string) {
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return "", err.Error()
	}
	if r.appsDir != "" && within(real, r.appsDir) {
		return real, ""
	}
	r.mu.RLock()
	roots := r.roots
	r.mu.RUnlock()
	for _, d := range roots {
		if within(real, d) {
			return real, ""
		}
	}
	return "", fmt.Sprintf("%s is a symlink to %s, outside the apps dir and every root", p, real)
}

// discover lists the apps of the apps dir: name → (entry, dir, kind), and
// the names refused because they are symlinks out of it (name → why).
func (r *Registry) discover() (map[string]*App, map[string]string) {
	found := map[string]*App{}
	refused := map[string]string{}
	if r.appsDir == "" {
		return found, refused
	}
	ents, err := os.ReadDir(r.appsDir)
	if err != nil {
		r.log.Error("read apps dir", "dir", r.appsDir, "err", err)
		return found, refused
	}
	for _, ent := range ents {
		name := ent.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(r.appsDir, name)
		fi, err := os.Stat(full) // follows symlinks
		if err != nil {
			continue
		}
		if _, why := r.confined(full); why != "" {
			// A file or folder linked out of the apps dir: never run,
			// and its name answers 403 (not 404, not another app).
			if fi.IsDir() {
				refused[name] = why
			} else if ext := filepath.Ext(name); r.engines[ext] != nil && strings.TrimSuffix(name, ext) != "" {
				refused[strings.TrimSuffix(name, ext)] = why
				refused[name] = why
			}
			continue
		}
		if fi.IsDir() {
			for _, ext := range sortedExts(r.engines) {
				entry := filepath.Join(full, "index"+ext)
				if st, err := os.Stat(entry); err == nil && st.Mode().IsRegular() {
					if _, why := r.confined(entry); why != "" {
						refused[name] = why
						continue
					}
					if _, dup := found[name]; dup {
						r.log.Warn("two entry files for one app; using the first", "app", name, "ignored", entry)
						continue
					}
					found[name] = &App{Name: name, Entry: entry, Dir: full, Kind: KindFolder, Engine: r.engines[ext]}
				}
			}
			continue
		}
		ext := filepath.Ext(name)
		e, ok := r.engines[ext]
		if !ok || !fi.Mode().IsRegular() {
			continue
		}
		app := strings.TrimSuffix(name, ext)
		if app == "" {
			continue
		}
		if prev, dup := found[app]; dup {
			// NAME.js and NAME.lua: /NAME is the first (by extension),
			// /NAME.lua (the file name) reaches the other.
			r.log.Debug("two one-file apps share a name; the second is reached by its file name", "app", app, "first", prev.Entry, "second", name)
			app = name
		}
		found[app] = &App{Name: app, Entry: full, Dir: r.appsDir, Kind: KindFile, Engine: e}
	}
	for name := range refused {
		if found[name] != nil {
			delete(refused, name) // NAME.lua refused, NAME.js served
		}
	}
	if len(r.opts.Only) > 0 {
		for name := range found {
			if !slices.Contains(r.opts.Only, name) {
				delete(found, name)
			}
		}
	}
	return found, refused
}

func sortedExts(m map[string]script.Engine) []string {
	var exts []string
	for e := range m {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return exts
}

// Rescan re-reads the apps dir: new apps are compiled and served, removed
// ones closed, changed ones reloaded if their files changed.
func (r *Registry) Rescan() {
	found, refused := r.discover()
	r.mu.Lock()
	for name, why := range refused {
		if _, known := r.refused[name]; !known {
			r.log.Warn("app refused: its file or folder is a symlink out of the apps dir", "app", name, "reason", why)
		}
	}
	r.refused = refused
	var added, gone []*App
	for name, a := range found {
		old := r.apps[name]
		if old != nil && old.Entry == a.Entry {
			continue
		}
		if old != nil {
			gone = append(gone, old)
		}
		r.initApp(a)
		r.apps[name] = a
		added = append(added, a)
	}
	for name, a := range r.apps {
		if _, ok := found[name]; !ok {
			delete(r.apps, name)
			gone = append(gone, a)
		}
	}
	existing := make([]*App, 0, len(r.apps))
	for _, a := range r.apps {
		existing = append(existing, a)
	}
	r.mu.Unlock()
	for _, a := range gone {
		a.close("removed")
	}
	isNew := map[*App]bool{}
	for _, a := range added {
		isNew[a] = true
		a.Reload()
	}
	for _, a := range existing {
		if !isNew[a] {
			a.Reload() // no-op when its files did not change
		}
	}
	r.mu.RLock()
	roots := make([]*App, 0, len(r.rootApps))
	for _, a := range r.rootApps {
		roots = append(roots, a)
	}
	r.mu.RUnlock()
	for _, a := range roots {
		if _, err := os.Stat(a.Entry); err != nil {
			r.dropRootApp(a)
			continue
		}
		a.Reload()
	}
}

func (r *Registry) initApp(a *App) {
	a.reg = r
	a.log = r.log.With("app", a.Name)
	if r.opts.Settings != nil {
		a.settings = r.opts.Settings(a.Name)
	}
	a.lastUsed.Store(time.Now().UnixNano())
}

// Apps returns the named apps, sorted by name, then root apps in use.
func (r *Registry) Apps() []*App {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*App, 0, len(r.apps)+len(r.rootApps))
	for _, a := range r.apps {
		out = append(out, a)
	}
	for _, a := range r.rootApps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// App returns the named app or nil.
func (r *Registry) App(name string) *App {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.apps[name]
}

// Resolve finds the app a request names (docs/reference.md §2) and the path within
// it. A request that finds none gets a *ResolveError.
func (r *Registry) Resolve(params map[string]string) (*App, string, error) {
	sf, gateway := stripProxyPrefix(params["SCRIPT_FILENAME"])
	if sf != "" {
		real, err := realFile(sf)
		if err == nil {
			a, err := r.byFile(real, params)
			if err != nil {
				return nil, "", err
			}
			p := params["PATH_INFO"]
			if p == "" {
				p = "/"
			}
			return a, p, nil
		}
		if strings.IndexByte(sf, 0) >= 0 {
			return nil, "", resolveErr(400, "SCRIPT_FILENAME has a NUL byte")
		}
	}
	full, err := RequestPath(params)
	if err != nil {
		return nil, "", err
	}
	if gateway {
		// mod_proxy_scgi / mod_proxy_uwsgi: the ProxyPass target's path
		// names the app (docs/deploy/README.md).
		if hasEncodedSlashOrNUL(sf) {
			return nil, "", resolveErr(400, "SCRIPT_FILENAME %q has an encoded slash or NUL", sf)
		}
		p, err := url.PathUnescape(sf)
		if err != nil {
			return nil, "", resolveErr(400, "SCRIPT_FILENAME %q: %v", sf, err)
		}
		if err := checkPath(p); err != nil {
			return nil, "", err
		}
		full = p
	}
	seg, rest := splitFirst(full)
	if a, rest := r.byName(seg, rest); a != nil {
		return a, rest, nil
	}
	if why := r.refusedName(seg); why != "" {
		return nil, "", resolveErr(403, "%s", why)
	}
	if pi := params["PATH_INFO"]; pi != "" {
		// Split by the front end under a prefix: SCRIPT_NAME ends with the
		// app (…/hello.js) or PATH_INFO starts with it.
		sn := params["SCRIPT_NAME"]
		if a := r.lookupName(sn[strings.LastIndexByte(sn, '/')+1:]); a != nil {
			return a, pi, nil
		}
		if a, rest := r.byName(splitFirst(pi)); a != nil {
			return a, rest, nil
		}
	}
	if full == "/" {
		if a := r.lookupName("index"); a != nil {
			return a, "/", nil
		}
	}
	return nil, "", resolveErr(404, "no app for path %q", full)
}

// refusedName is why the apps dir's name seg is refused ("" if it is not).
func (r *Registry) refusedName(seg string) string {
	if seg == "" {
		return ""
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.refused[seg]
}

func (r *Registry) byName(seg, rest string) (*App, string) {
	if a := r.lookupName(seg); a != nil {
		return a, rest
	}
	return nil, ""
}

// lookupName finds app NAME from "NAME", "NAME.js" or "NAME.lua" (the
// extension must be the app's own).
func (r *Registry) lookupName(seg string) *App {
	if seg == "" {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if a := r.apps[seg]; a != nil {
		return a
	}
	ext := filepath.Ext(seg)
	if a := r.apps[strings.TrimSuffix(seg, ext)]; a != nil && filepath.Ext(a.Entry) == ext {
		return a
	}
	return nil
}

// byFile maps an existing file's real path to its app, or refuses it with
// 403.
func (r *Registry) byFile(real string, params map[string]string) (*App, error) {
	if r.appsDir != "" && within(real, r.appsDir) {
		r.mu.RLock()
		defer r.mu.RUnlock()
		for _, a := range r.apps {
			if a.Entry == real {
				return a, nil
			}
		}
		return nil, resolveErr(403, "SCRIPT_FILENAME %s is in the apps dir but is not an app's entry file", real)
	}
	if _, ok := r.engines[filepath.Ext(real)]; !ok {
		return nil, resolveErr(403, "SCRIPT_FILENAME %s is not a .js or .lua file", real)
	}
	r.mu.RLock()
	stale := time.Since(r.rootsAt) > 5*time.Second
	r.mu.RUnlock()
	if stale {
		r.expandRoots()
	}
	var root string
	for _, d := range r.RootDirs() {
		if within(real, d) {
			root = d
			break
		}
	}
	docRoot := false
	if root == "" && len(r.opts.Roots) == 0 && r.opts.DocRootFallback {
		if dr := params["DOCUMENT_ROOT"]; dr != "" {
			if d, err := filepath.EvalSymlinks(dr); err == nil && within(real, d) {
				root, docRoot = d, true
			}
		}
	}
	if root == "" {
		return nil, resolveErr(403, "SCRIPT_FILENAME %s is outside the apps dir and every root", real)
	}
	return r.rootApp(real, root, docRoot), nil
}

func (r *Registry) rootApp(real, root string, unwatched bool) *App {
	r.mu.RLock()
	a := r.rootApps[real]
	r.mu.RUnlock()
	if a != nil {
		return a
	}
	r.mu.Lock()
	if a = r.rootApps[real]; a == nil {
		a = &App{Name: real, Entry: real, Dir: filepath.Dir(real), Root: root, Kind: KindRoot, Engine: r.engines[filepath.Ext(real)], unwatched: unwatched}
		r.initApp(a)
		r.rootApps[real] = a
	}
	r.mu.Unlock()
	return a
}

func (r *Registry) dropRootApp(a *App) {
	r.mu.Lock()
	if r.rootApps[a.Name] == a {
		delete(r.rootApps, a.Name)
	}
	r.mu.Unlock()
	a.close("removed")
}

// janitor closes root-script pools unused for their idle timeout.
func (r *Registry) janitor() {
	defer r.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.mu.RLock()
		var idle []*App
		for _, a := range r.rootApps {
			to := a.settings.IdleTimeout
			if to <= 0 {
				to = 60 * time.Second
			}
			if (a.pool.Load() != nil || a.hasBackend()) && time.Since(time.Unix(0, a.lastUsed.Load())) > to {
				idle = append(idle, a)
			}
		}
		r.mu.RUnlock()
		for _, a := range idle {
			a.log.Info("closing idle pool")
			r.dropRootApp(a)
		}
	}
}

// Changed tells the registry that files changed (from the watcher): apps
// that loaded any of them are reloaded, and the apps dir is rescanned when
// an entry may have appeared or vanished.
func (r *Registry) Changed(paths []string) {
	rescan := false
	touched := map[*App]bool{}
	for _, p := range paths {
		if r.appsDir != "" && within(p, r.appsDir) {
			rel, _ := filepath.Rel(r.appsDir, p)
			if !strings.Contains(rel, string(filepath.Separator)) || strings.Count(rel, string(filepath.Separator)) == 1 && strings.HasPrefix(filepath.Base(rel), "index.") {
				rescan = true // an entry or an app folder appeared, changed or vanished
			}
		}
		for _, a := range r.Apps() {
			if a.uses(p) {
				touched[a] = true
			}
		}
	}
	if rescan {
		r.Rescan()
		return
	}
	for a := range touched {
		a.Reload()
	}
}

// Close closes every pool, waiting up to ctx for requests in flight.
func (r *Registry) Close(ctx context.Context) error {
	r.cancel()
	r.wg.Wait()
	var errs []error
	for _, a := range r.Apps() {
		if p := a.pool.Swap(nil); p != nil {
			errs = append(errs, p.Close(ctx))
		}
		if b := a.takeBackend(); b != nil {
			errs = append(errs, b.Close(ctx))
		}
	}
	if r.opts.Backends != nil {
		errs = append(errs, r.opts.Backends.Close(ctx))
	}
	return errors.Join(errs...)
}

// --- App ---

// ErrNoVersion is returned by Pool for an app that has never compiled.
var ErrNoVersion = errors.New("app has no working version")

// Pool returns the pool of the app's newest good version, compiling the
// app first if it is a root script used for the first time. If the app has
// never compiled, the error wraps ErrNoVersion and the compile error.
func (a *App) Pool() (*pool.Pool, error) {
	now := time.Now().UnixNano()
	a.lastUsed.Store(now)
	if last := a.checked.Load(); a.unwatched && now-last >= int64(time.Second) &&
		a.checked.CompareAndSwap(last, now) && a.pool.Load() != nil {
		a.Reload() // a saved change is served without a watcher (compiles only if the files changed)
	}
	if p := a.pool.Load(); p != nil {
		return p, nil
	}
	a.Reload()
	if p := a.pool.Load(); p != nil {
		return p, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.removed {
		return nil, fmt.Errorf("%s: %w: removed", a.Name, ErrNoVersion)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoVersion, a.lastErr)
}

// Settings returns the app's settings.
func (a *App) Settings() Settings { return a.settings }

// Logger is the app's logger (tagged with app=NAME).
func (a *App) Logger() *slog.Logger { return a.log }

// AppStatus is an app's reload state for the status page.
type AppStatus struct {
	Version    string
	Reloads    int
	LastReload time.Time
	LastError  error
	Files      []string
}

// Status returns the app's reload state.
func (a *App) Status() AppStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AppStatus{Version: a.version, Reloads: a.reloads, LastReload: a.lastReload, LastError: a.lastErr, Files: append([]string(nil), a.files...)}
}

func (a *App) uses(p string) bool {
	if a.Kind == KindFolder && within(p, a.Dir) {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.files {
		if f == p {
			return true
		}
	}
	return p == a.Entry
}

// hashFiles returns a version ID over the app's files: the entry plus, for
// a folder app, every script file under its folder; plus files loaded so
// far.
func (a *App) hashFiles(extra []string) (string, []byte, error) {
	code, err := os.ReadFile(a.Entry)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", a.Entry, err)
	}
	h := sha256.New()
	h.Write([]byte(a.Entry))
	h.Write(code)
	files := map[string]bool{}
	for _, f := range extra {
		files[f] = true
	}
	if a.Kind == KindFolder {
		filepath.WalkDir(a.Dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if _, ok := a.reg.engines[filepath.Ext(p)]; ok {
					files[p] = true
				}
			}
			return nil
		})
	}
	delete(files, a.Entry)
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a module that vanished: the compile will say so
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], code, nil
}

// Reload compiles the app's files if they changed since the current
// version and swaps its pool to the new version. On failure the old version
// keeps serving and the error is recorded and logged.
func (a *App) Reload() {
	if a.isolated() {
		// The child process compiles and watches the app itself.
		if _, err := a.Backend(); err != nil {
			a.log.Error("isolated app failed to start", "err", err)
		}
		return
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.mu.Lock()
	if a.removed {
		a.mu.Unlock()
		return
	}
	prevFiles, prevVersion, tried, prevErr := a.files, a.version, a.tried, a.lastErr
	a.mu.Unlock()

	version, code, err := a.hashFiles(prevFiles)
	if err == nil {
		// The entry (or the folder) may have become a symlink out of
		// the apps dir and the roots since it was found: never compile
		// what it points to now.
		err = a.checkConfined()
	}
	if err == nil && version == tried && (a.pool.Load() != nil || prevErr != nil) {
		return // nothing changed since the last compile
	}
	start := time.Now()
	var b script.Bundle
	if err == nil {
		b, err = a.compile(code)
	}
	var p *pool.Pool
	if err == nil {
		v := pool.Version{Bundle: b, ID: version}
		if cur := a.pool.Load(); cur != nil {
			err = cur.Swap(v)
		} else {
			po := a.settings.Pool
			po.Logger = a.log
			p, err = pool.New(v, po)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.removed {
		if p != nil {
			a.reg.closePool(p, a.settings)
		}
		return
	}
	a.lastReload = time.Now()
	a.tried = version
	if err != nil {
		a.lastErr = err
		if prevVersion != "" {
			a.log.Error("reload failed; still serving the previous version", "version", prevVersion, "err", err)
		} else {
			a.log.Error("app failed to load", "err", err)
		}
		return
	}
	if p != nil {
		a.pool.Store(p)
	}
	if prevVersion != "" {
		a.reloads++
		a.log.Info("reloaded", "version", version, "took", time.Since(start).Round(time.Microsecond))
	} else {
		a.log.Info("loaded", "version", version, "engine", a.Engine.Name(), "style", b.Style().String(), "took", time.Since(start).Round(time.Microsecond))
	}
	a.version = version
	a.lastErr = nil
	a.files = b.Files()
}

// checkConfined reports an error if the app's entry or folder resolves
// outside the apps dir and every root.
func (a *App) checkConfined() error {
	if a.Kind == KindRoot && a.Root != "" {
		// A root script was resolved under its root, which may be the
		// DOCUMENT_ROOT a front end sent (no configured roots): it must
		// still be there.
		real, err := filepath.EvalSymlinks(a.Entry)
		if err != nil {
			return err
		}
		if within(real, a.Root) {
			return nil
		}
	}
	if a.Kind == KindFolder {
		if _, why := a.reg.confined(a.Dir); why != "" {
			return errors.New(why)
		}
	}
	if _, why := a.reg.confined(a.Entry); why != "" {
		return errors.New(why)
	}
	return nil
}

func (a *App) compile(code []byte) (script.Bundle, error) {
	opts := script.Options{Limits: a.settings.Limits.WithDefaults(), Logger: a.log, Debug: a.settings.Debug, Env: a.settings.Env,
		Modules: a.reg.opts.Modules, AllowNoHandler: a.reg.opts.AllowNoHandler}
	if a.reg.opts.Services != nil {
		opts.KV, opts.Fetch = a.reg.opts.Services(a.Name, a.settings)
	}
	code = script.StripShebang(filepath.Ext(a.Entry), code)
	return a.Engine.Compile(script.Source{App: a.Name, Dir: a.Dir, Entry: a.Entry, Code: code}, opts)
}

func (a *App) close(why string) {
	a.mu.Lock()
	a.removed = true
	a.mu.Unlock()
	if p := a.pool.Swap(nil); p != nil {
		a.log.Info("app closed", "why", why)
		a.reg.closePool(p, a.settings)
	}
	if b := a.takeBackend(); b != nil {
		a.log.Info("isolated app closed", "why", why)
		a.reg.wg.Add(1)
		go func() {
			defer a.reg.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), a.settings.Limits.WithDefaults().Timeout)
			defer cancel()
			b.Close(ctx)
		}()
	}
}

// isolated reports whether the app is served by a Backend (a child
// process) instead of a pool of this process.
func (a *App) isolated() bool {
	return a.settings.Isolation == "process" && a.reg != nil && a.reg.opts.Backends != nil
}

// Backend returns the Backend of a process-isolated app, starting it on
// first use; it returns nil, nil for an app served in this process.
func (a *App) Backend() (Backend, error) {
	if !a.isolated() {
		return nil, nil
	}
	a.lastUsed.Store(time.Now().UnixNano())
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.backend != nil {
		return a.backend, nil
	}
	if a.removed {
		return nil, fmt.Errorf("%s: removed", a.Name)
	}
	b, err := a.reg.opts.Backends.Backend(a)
	if err != nil {
		a.lastErr = err
		return nil, fmt.Errorf("start %s: %w", a.Name, err)
	}
	a.backend, a.lastErr = b, nil
	return b, nil
}

// CurrentBackend returns the app's Backend if it has been started, without
// starting it (for the status page).
func (a *App) CurrentBackend() Backend {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.backend
}

func (a *App) hasBackend() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.backend != nil
}

func (a *App) takeBackend() Backend {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.backend
	a.backend = nil
	return b
}

// closePool closes p in the background, letting its requests in flight
// finish within the app's timeout; Registry.Close waits for it.
func (r *Registry) closePool(p *pool.Pool, s Settings) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.Limits.WithDefaults().Timeout)
		defer cancel()
		p.Close(ctx)
	}()
}

// CurrentPool returns the app's pool without compiling (nil if none).
func (a *App) CurrentPool() *pool.Pool { return a.pool.Load() }
