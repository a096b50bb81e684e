// Package script is the engine-neutral contract between the host and the
// script engines (runtime/js, runtime/lua): the Engine, Bundle and VM
// interfaces, the Request a script reads, the Response it builds, the
// services an app may be granted (KV, Fetch), and ScriptError, the one value
// from which the HTTP status, the log line and the FastCGI stderr record of
// a failed script are made. It knows nothing of FastCGI or of pools.
package script

import (
	"context"
	"log/slog"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
)

// Style says how a script answers requests.
type Style int

const (
	// StyleHandler: the top-level code runs once per VM and exports (JS
	// module.exports / exports.handle) or returns (Lua) a handler that is
	// called once per request.
	StyleHandler Style = iota
	// StyleCGI: the script exports no handler; the whole file runs per
	// request with fresh globals and prints a CGI response.
	StyleCGI
)

func (s Style) String() string {
	if s == StyleCGI {
		return "cgi"
	}
	return "handler"
}

// Source names one app version to compile.
type Source struct {
	// App is the app's name (for a root script, its real path); it tags
	// logs and errors.
	App string
	// Dir is the folder require() is confined to: the app folder for a
	// folder app, the directory of the file for a one-file app or a root
	// script. Absolute and clean.
	Dir string
	// Entry is the absolute path of the entry file (NAME.js, NAME/index.lua…).
	Entry string
	// Code is the entry file's content, read once by the caller so that the
	// version hash and the compiled code agree. Nil: the engine reads Entry.
	Code []byte
}

// Options are the per-app settings an engine compiles with. They are fixed
// for the life of a Bundle.
type Options struct {
	Limits sandbox.Limits
	// Logger receives log()/console.log() output, already tagged with the app.
	Logger *slog.Logger
	// Debug puts the script stack into 500 responses.
	Debug bool
	// KV is the app's namespace of the key-value store; nil when storage is
	// not configured (calls then raise a script error).
	KV KV
	// Fetch performs outbound HTTP for fetch()/http.request; nil when no
	// outbound access is configured (calls then raise a script error).
	Fetch Fetcher
	// Env is the app's environment (config key env): JS process.env, Lua
	// os.getenv. Never fcgihost's own environment beyond what env names.
	Env map[string]string
	// Now is the clock (nil: time.Now); tests may fix it.
	Now func() time.Time
	// Modules are the host modules scripts may require (JS "host:NAME",
	// Lua "host.NAME"; docs/embedding.md). Validated by the caller.
	Modules []*Module
	// AllowNoHandler lets a handler-style app export functions without a
	// request handler (a plugin called through Caller): NewVM then
	// succeeds and Serve fails with a script error. Off, such an app
	// fails to load as before.
	AllowNoHandler bool
}

// Engine compiles sources of one language. An Engine is safe for concurrent
// use.
type Engine interface {
	// Name is "js" or "lua".
	Name() string
	// Extensions lists the entry-file extensions it serves (".js").
	Extensions() []string
	// Compile parses and compiles the entry (and nothing else: modules are
	// compiled on first require, once per Bundle). A syntax error is a
	// *ScriptError with File, Line and, where the parser gives one, Col.
	Compile(src Source, opts Options) (Bundle, error)
}

// Bundle is one compiled, immutable app version. It is safe for concurrent
// use: many VMs are instantiated from one Bundle, and modules compiled for
// one VM are cached in the Bundle for the others.
type Bundle interface {
	// Style reports whether the app is handler-style or CGI-style.
	Style() Style
	// NewVM makes a VM and runs the top-level code (handler style) once.
	// ctx bounds that run (its deadline is the app timeout). An error from
	// the top-level code is a *ScriptError.
	NewVM(ctx context.Context) (VM, error)
	// Files lists the absolute paths of every file this version has loaded
	// so far (the entry and every module required by any VM), for the
	// watcher.
	Files() []string
}

// VM is one script virtual machine with exactly one owner at a time. It is
// not safe for concurrent use.
type VM interface {
	// Serve answers one request: it calls the handler (or, CGI style, runs
	// the script) with req, writing to res. It returns when the script has
	// finished, including any promise it returned. ctx cancellation
	// (timeout, abort, shutdown) interrupts the script; the error is then a
	// *ScriptError wrapping ctx.Err(). After an interrupted or panicked
	// Serve, Healthy reports false and the pool discards the VM.
	Serve(ctx context.Context, req *Request, res *Response) error
	// Healthy reports whether the VM may serve another request.
	Healthy() bool
	// Close releases the VM.
	Close()
}

// StackCapturer is implemented by VMs that can report the script's current
// stack while Serve runs in another goroutine (for the slow log).
type StackCapturer interface {
	CurrentStack() string
}

// StripShebang blanks a leading "#!" line (a CGI script run by fcgihost as
// its interpreter) into a comment of the language of ext, keeping line
// numbers.
func StripShebang(ext string, code []byte) []byte {
	if len(code) < 2 || code[0] != '#' || code[1] != '!' {
		return code
	}
	out := append([]byte(nil), code...)
	switch ext {
	case ".lua":
		out[0], out[1] = '-', '-'
	default:
		out[0], out[1] = '/', '/'
	}
	return out
}
