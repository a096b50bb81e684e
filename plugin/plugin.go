// Package plugin lets a Go program host JavaScript and Lua plugins: it
// loads apps (one file or folder each) from a directory or an fs.FS, calls
// the functions they export with JSON-like values, gives them Go functions
// of its own as named modules, and calls every app that exports an event
// function. Calls run on the same VM pools, under the same limits, sandbox,
// timeouts, hot reload and metrics as fcgihost's requests; the apps can be
// served over HTTP at the same time (Handler). docs/embedding.md tells the
// whole story; this comment is the summary.
//
// Apps configured with isolation = "process" run in child processes and
// are called through them with the same values and errors; the program
// calls ServeChild first thing in main (docs/embedding.md, "The process
// model").
//
// # Exporting functions
//
// JavaScript: module.exports.NAME = function (...) {…}, exports.NAME = …,
// or in an ES module / TypeScript file export function NAME(…) {…}. A
// function may be async: its promise is awaited. Lua: the main chunk
// returns a table of functions (return {NAME = function (...) … end}).
// An app needs no request handler (module.exports.handle / a handle
// function) unless it is also served over HTTP.
//
// # Values
//
// Arguments and results are JSON-like Go values: nil, bool, int64,
// float64, string, []byte, []any and map[string]any (other integer kinds,
// float32, []string, and slices and maps of these are accepted and
// converted). In each language:
//
//	Go              JavaScript                        Lua
//	nil             null (undefined → nil too)        nil (json.null inside lists/maps)
//	bool            boolean                           boolean
//	int64 |n|≤2^53  number                            number
//	int64 larger    error (a double cannot hold it)   error (a double cannot hold it)
//	float64         number                            number
//	string          string                            string
//	[]byte          Uint8Array (a copy)               string
//	[]any           Array (holes → nil)               table marked json.array
//	map[string]any  plain Object                      table
//
// Back to Go, a number that is whole and within ±2^53 becomes int64 and
// any other number float64 (so 2.0 comes back as int64(2)); a Lua string
// is a string (it is bytes: As[[]byte] or a Bytes parameter takes it); a
// Lua table with keys exactly 1..n, or an empty one marked json.array, is
// []any and any other table map[string]any (an empty unmarked {} is an
// empty map); a Uint8Array or ArrayBuffer is []byte. Functions, symbols,
// Dates, Maps, userdata, cycles and nesting deeper than 200 are errors
// wrapping ErrValue.
//
// # Errors
//
// A thrown JS value or a Lua error() is a *ScriptError carrying the app,
// the file and line where it was raised, the script stack and the message
// ("Error: boom" in JS, "boom" in Lua); a timeout is a *ScriptError whose
// Timeout method reports true. An app or function that does not exist is
// an error wrapping ErrNoApp or ErrNoFunction.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/isolation"
	"github.com/fcgihost/fcgihost/script"
	"github.com/fcgihost/fcgihost/server"
)

// The declaration of a Go module for scripts (see script.Module): the same
// shape for every module, in both languages.
type (
	// Module is a named set of Go functions and values scripts require:
	// JS require("host:NAME") or import {…} from "host:NAME", Lua
	// require("host.NAME").
	Module = script.Module
	// Func is one Go function of a Module, with typed arguments.
	Func = script.Func
	// Arg is one declared parameter of a Func.
	Arg = script.Arg
	// Type is the type of an Arg.
	Type = script.Type
	// CallInfo is what a Func receives besides its context: the calling
	// app and the checked arguments.
	CallInfo = script.Call
	// ScriptError is a failure of script code: thrown error, timeout,
	// limit, compile error. Its Location is "file:line[:col]".
	ScriptError = script.ScriptError
)

// The types of a Func's arguments.
const (
	Any    = script.Any
	Bool   = script.Bool
	Int    = script.Int
	Float  = script.Float
	String = script.String
	Bytes  = script.Bytes
	List   = script.List
	Map    = script.Map
)

// Errors a call may wrap.
var (
	// ErrNoApp: no app of that name is loaded.
	ErrNoApp = host.ErrNoApp
	// ErrNoFunction: the app exports no function of that name.
	ErrNoFunction = script.ErrNoFunction
	// ErrValue: a value cannot cross between Go and the script.
	ErrValue = script.ErrValue
	// ErrNotCallable: the app exports nothing (a CGI-style script).
	ErrNotCallable = host.ErrNotCallable
	// ErrArgument: a script called a Go function with arguments that do
	// not match its declaration.
	ErrArgument = script.ErrArgument
	// ErrProcess: the child process of an app with isolation = "process"
	// failed under the call (it died, or no process could be started).
	ErrProcess = isolation.ErrProcess
)

// Options configure a Host.
type Options struct {
	// Dir is the apps directory: each NAME.js, NAME.lua (or .mjs, .ts) or
	// folder NAME/ with an index file is the app NAME.
	Dir string
	// FS, if set instead of Dir, holds the apps; it is copied into a
	// private temporary directory (removed by Close) and not watched.
	FS fs.FS
	// Config, if set, gives the settings (per-app workers, timeout,
	// memory_limit, env, fetch_allow, kv… as in the fcgihost config file,
	// docs/reference.md); nil: the defaults. Its apps directory is
	// replaced by Dir or FS when they are set.
	Config *config.Config
	// Modules are the Go modules every app may require.
	Modules []*Module
	// Watch reloads an app when its files change (Dir only).
	Watch bool
	// Logger receives the apps' logs and fcgihost's; nil: slog.Default().
	Logger *slog.Logger
}

// Host is a set of loaded apps. It is safe for concurrent use.
type Host struct {
	srv *server.Server
	tmp string // the copy of Options.FS, removed by Close

	closeOnce sync.Once
	closeErr  error
}

// New loads the apps and starts their VMs. An app that fails to compile
// is logged and left out (a call to it fails with its compile error).
func New(o Options) (*Host, error) {
	var cfg config.Config
	if o.Config != nil {
		cfg = *o.Config
	} else {
		cfg = *config.Default()
	}
	cfg.Watch = o.Watch
	h := &Host{}
	switch {
	case o.FS != nil:
		dir, err := os.MkdirTemp("", "fcgihost-plugins-")
		if err != nil {
			return nil, fmt.Errorf("plugin: %w", err)
		}
		h.tmp = dir
		if err := copyFS(dir, o.FS); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("plugin: copy the apps: %w", err)
		}
		cfg.Apps, cfg.Watch = dir, false
	case o.Dir != "":
		abs, err := filepath.Abs(o.Dir)
		if err != nil {
			return nil, fmt.Errorf("plugin: %w", err)
		}
		cfg.Apps = abs
	case o.Config == nil:
		return nil, errors.New("plugin: Options needs Dir, FS or Config")
	}
	if fi, err := os.Stat(cfg.Apps); err != nil || !fi.IsDir() {
		h.removeTmp()
		return nil, fmt.Errorf("plugin: apps directory %q: not a directory", cfg.Apps)
	}
	srv, err := server.New(&cfg, server.Options{Logger: o.Logger, Modules: o.Modules, AllowNoHandler: true})
	if err != nil {
		h.removeTmp()
		return nil, fmt.Errorf("plugin: %w", err)
	}
	h.srv = srv
	return h, nil
}

// copyFS copies fsys into dir (regular files and directories only).
func copyFS(dir string, fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type().IsRegular():
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		}
		return nil // symlinks and devices are not copied
	})
}

func (h *Host) removeTmp() {
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
}

// Call calls the function fn that app exports with args and returns its
// result (see the package comment for how values map). ctx bounds the
// call together with the app's timeout. A call that finds every VM of the
// app busy waits as a request does (queue_timeout).
func (h *Host) Call(ctx context.Context, app, fn string, args ...any) (any, error) {
	return h.srv.Call(ctx, app, fn, args)
}

// CallAs calls fn like Host.Call and converts the result to T with As.
func CallAs[T any](ctx context.Context, h *Host, app, fn string, args ...any) (T, error) {
	v, err := h.Call(ctx, app, fn, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	return As[T](v)
}

// As converts a call's result to T: directly when it has that type; a
// string to []byte and back; an int64 to int or float64, a whole float64
// to int64 or int; otherwise through encoding/json (a map to a struct, a
// []any to a []string…). An impossible conversion wraps ErrValue.
func As[T any](v any) (T, error) {
	var out T
	if t, ok := v.(T); ok {
		return t, nil
	}
	switch p := any(&out).(type) {
	case *[]byte:
		if s, ok := v.(string); ok {
			*p = []byte(s)
			return out, nil
		}
	case *string:
		if b, ok := v.([]byte); ok {
			*p = string(b)
			return out, nil
		}
	case *float64:
		if n, ok := v.(int64); ok {
			*p = float64(n)
			return out, nil
		}
	case *int:
		if n, ok := v.(int64); ok {
			*p = int(n)
			return out, nil
		}
	}
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("convert a %s to %s: %v: %w", kind(v), reflect.TypeFor[T](), err, ErrValue)
	}
	return out, nil
}

func kind(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// Apps returns the names of the loaded apps, sorted.
func (h *Host) Apps() []string {
	apps := h.srv.Registry().Apps()
	out := make([]string, 0, len(apps))
	for _, a := range apps {
		out = append(out, a.Name)
	}
	return out
}

// Reload looks at the apps directory again: new apps are loaded, removed
// ones closed, changed ones recompiled. Calls in flight finish on the
// version they started on; later calls get the new version. A version
// that fails to compile is logged and the previous one keeps serving.
// With Options.Watch this happens by itself.
func (h *Host) Reload() { h.srv.Registry().Rescan() }

// Handler returns an http.Handler that serves the apps' request handlers
// (for apps that export one), as fcgihost's development listener does.
func (h *Host) Handler() http.Handler { return h.srv.Handler() }

// Server returns the underlying server (status report, metrics, FastCGI).
func (h *Host) Server() *server.Server { return h.srv }

// Close closes every app, letting calls in flight finish until ctx ends.
func (h *Host) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.closeErr = h.srv.Close(ctx)
		h.removeTmp()
	})
	return h.closeErr
}
