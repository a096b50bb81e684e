package lua

// This file holds the Engine and the Bundle: compiling an app version once.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// maxArrayIndex bounds the array part of a Lua table: t[n] = v with n
// beyond the current length fills the gap with nils in one native step, so
// gopher-lua's default (64M slots, 1 GiB) is cut to 4M slots (64 MiB).
// Larger integer keys go to the hash part.
const maxArrayIndex = 1 << 22

func init() {
	if glua.MaxArrayIndex > maxArrayIndex {
		glua.MaxArrayIndex = maxArrayIndex
	}
}

// Engine compiles Lua sources. It is stateless and safe for concurrent use.
type Engine struct{}

var _ script.Engine = (*Engine)(nil)

// New returns the Lua engine.
func New() *Engine { return &Engine{} }

// Name is "lua".
func (*Engine) Name() string { return "lua" }

// Extensions lists ".lua".
func (*Engine) Extensions() []string { return []string{".lua"} }

// Compile parses and compiles src's entry file once. A syntax error is a
// *script.ScriptError with File, Line and Col.
func (e *Engine) Compile(src script.Source, opts script.Options) (script.Bundle, error) {
	code := src.Code
	if code == nil {
		var err error
		code, err = os.ReadFile(src.Entry)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", src.Entry, err)
		}
	}
	opts.Limits = opts.Limits.WithDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &bundle{src: src, opts: opts, modules: map[string]*module{}}
	b.dir = filepath.Clean(src.Dir)
	if real, err := filepath.EvalSymlinks(b.dir); err == nil {
		b.realDir = real
	} else {
		b.realDir = b.dir
	}
	chunk, proto, err := compileChunk(src.App, src.Entry, code)
	if err != nil {
		return nil, err
	}
	b.proto = proto
	b.style, b.retLine = detectStyle(chunk)
	return b, nil
}

// detectStyle reports handler style when the main chunk's last statement
// is a return with a value, and the line of that return.
func detectStyle(chunk []ast.Stmt) (script.Style, int) {
	if len(chunk) == 0 {
		return script.StyleCGI, 0
	}
	if ret, ok := chunk[len(chunk)-1].(*ast.ReturnStmt); ok && len(ret.Exprs) > 0 {
		return script.StyleHandler, ret.Line()
	}
	return script.StyleCGI, 0
}

// compileChunk parses and compiles one file; path is its chunk name, so
// that runtime errors and tracebacks say "path:line:".
func compileChunk(app, path string, code []byte) ([]ast.Stmt, *glua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(code), path)
	if err != nil {
		return nil, nil, syntaxError(app, path, code, err)
	}
	if err := checkDepth(chunk); err != nil {
		return nil, nil, syntaxError(app, path, code, err)
	}
	proto, err := glua.Compile(chunk, path)
	if err != nil {
		return nil, nil, syntaxError(app, path, code, err)
	}
	return chunk, proto, nil
}

// syntaxError turns a gopher-lua parse or compile error into a
// ScriptError with a 1-based line and, for parse errors, the column where
// the offending token starts.
func syntaxError(app, path string, code []byte, err error) *script.ScriptError {
	se := &script.ScriptError{App: app, File: path}
	switch pe := err.(type) {
	case *parse.Error:
		msg := pe.Message
		if pe.Token != "" {
			msg += fmt.Sprintf(" near '%s'", pe.Token)
		}
		if pe.Pos.Line <= 0 { // gopher-lua reports EOF as line -1
			se.Line = bytes.Count(code, []byte("\n")) + 1
			if len(code) > 0 && code[len(code)-1] == '\n' {
				se.Line--
			}
			msg += " at end of file"
		} else {
			se.Line = pe.Pos.Line
			// Column is where the scanner stopped: the token's last byte.
			se.Col = pe.Pos.Column - len(pe.Token) + 1
			if se.Col < 1 || strings.Contains(pe.Token, "\n") {
				se.Col = pe.Pos.Column
			}
		}
		if !strings.HasPrefix(msg, "syntax error") {
			msg = "syntax error: " + msg
		}
		se.Err = errors.New(msg)
	case *glua.CompileError:
		se.Line = pe.Line
		// "no visible label 'x' for <goto> at line N": N is exact, the
		// reported line is the end of the enclosing function.
		if i := strings.LastIndex(pe.Message, " at line "); i >= 0 {
			if n, err := strconv.Atoi(pe.Message[i+len(" at line "):]); err == nil {
				se.Line = n
			}
		}
		se.Err = errors.New(pe.Message)
	case errTooDeep:
		se.Line = pe.line
		se.Err = pe
	default:
		se.Err = err
	}
	return se
}

// bundle is one compiled app version. Immutable except for the module
// cache, which only grows, under mu.
type bundle struct {
	src     script.Source
	opts    script.Options
	dir     string // Source.Dir, clean
	realDir string // dir with symlinks resolved, for confinement checks
	proto   *glua.FunctionProto
	style   script.Style
	retLine int // line of the handler-style return statement

	mu      sync.Mutex
	modules map[string]*module // absolute path → compiled module
	order   []string           // module paths in load order
}

// module is one required file, compiled once per bundle. err is a
// *script.ScriptError when the file does not compile.
type module struct {
	once  sync.Once
	proto *glua.FunctionProto
	err   error
}

// Style reports the script's style, decided at Compile (see the package
// doc).
func (b *bundle) Style() script.Style { return b.style }

// Files lists the entry and every module loaded so far.
func (b *bundle) Files() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string{b.src.Entry}, b.order...)
}

// limits returns the app's limits with defaults applied.
func (b *bundle) limits() sandbox.Limits { return b.opts.Limits }

// callStackSize derives the Lua call-stack depth from MaxCallStack.
func callStackSize(l sandbox.Limits) int {
	n := l.MaxCallStack / 4
	if n < 64 {
		n = 64
	}
	if n > 1000 {
		n = 1000
	}
	return n
}
