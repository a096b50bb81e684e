// Package js is fcgihost's JavaScript engine: it compiles app sources with
// goja (github.com/dop251/goja) into immutable Bundles, instantiates
// sandboxed VMs from them, and binds the script API of docs/reference.md §3 (req, res,
// log/console, crypto, base64, kv, fetch, require, and the CGI-style env,
// stdin, write and print) to the engine-neutral contract in package script.
//
// Style detection (Bundle.Style) is decided at Compile, without running the
// script: a script whose syntax tree mentions the identifier `exports` or the
// member expression `module.exports` (or `module["exports"]`) — in code, not
// in a string or a comment, and not as a property name such as `o.exports` —
// is handler style. Its top-level code runs once per VM (in NewVM); after
// that, module.exports must be a function or an object with a `handle`
// function, else NewVM fails with "module.exports is not a handler". Any
// other script is CGI style: NewVM runs nothing, and each Serve runs the whole
// compiled program in a fresh goja runtime (fresh globals), with its output
// parsed by script.CGIWriter.
//
// Script API notes (docs/reference.md §3), where the contract leaves a choice:
//   - req and res are dynamic objects built per request; members are made
//     on first read. Scripts may add their own properties (req.user = …).
//     A req or res kept after its request ended throws on any use ("the
//     request has ended"), as in Lua: the host reuses a request's memory,
//     so it can never show a later request's data. Values read from it
//     during its request (a string, a parsed body) stay valid.
//   - req.query and req.headers are dynamic objects too, over the raw query
//     string and the params (a value becomes a JS string only when read).
//     They read, enumerate (names sorted, array indexes first) and take
//     changes like plain objects; like req and res they cannot be frozen,
//     sealed or given non-default property attributes or symbol keys. Of
//     CONTENT_TYPE and HTTP_CONTENT_TYPE (or _LENGTH), req.headers shows the
//     first. req.cookies and req.params are plain objects.
//   - req.json() parses with JSON.parse (key order kept); a body it refuses
//     throws a SyntaxError wrapping script.ErrBadRequest (400 uncaught), as
//     does a malformed form in req.form()/req.files(). Invalid UTF-8 in
//     req.body, stdin.read(), base64.decode and fetch text() becomes U+FFFD.
//   - res methods return res (chainable). res.write refuses undefined, null
//     and plain objects (TypeError); write/print (CGI) print them as String.
//     res.cookie maxAge is in seconds; maxAge: 0 expires the cookie now.
//   - a handler's return value: a string is the body, a plain object or
//     array is JSON, a Uint8Array/ArrayBuffer is raw bytes, res/req or other
//     values are ignored; a Promise is awaited (a rejection is an uncaught
//     error; the request's timers run until it settles (loop.go), and one
//     that never settles is an error).
//   - fetch runs synchronously under the request context and returns a
//     settled Promise of a standard Response (fetchapi.go); errors (not
//     allowed, not configured) reject with a
//     TypeError. kv calls are synchronous too. kv.batch([{op: "set", key,
//     value, ttl}, {op: "delete", key}, …]) applies the list all or nothing
//     (through kv.Batcher; a store without it throws "not configured").
//   - require takes only relative names ("./lib", "../lib/x.js", "./dir/");
//     eval is indirect (global scope).
//
// Each Bundle compiles the entry once (goja *Program) and each module on its
// first require (cached in the Bundle, shared by all its VMs); each VM keeps
// its own module instances. Sources are parsed with source maps disabled, so
// no `//# sourceMappingURL=` comment makes goja read a file.
package js

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/fcgihost/fcgihost/script"
)

// Engine compiles JavaScript sources. It is stateless and safe for
// concurrent use.
type Engine struct{}

var _ script.Engine = (*Engine)(nil)

// New returns the JavaScript engine.
func New() *Engine { return &Engine{} }

// Name is "js".
func (*Engine) Name() string { return "js" }

// Extensions is [".js", ".mjs", ".ts"] (ES modules and TypeScript: see
// loader.go).
func (*Engine) Extensions() []string { return []string{".js", ".mjs", ".ts"} }

// Compile parses and compiles src.Entry (src.Code if given). A syntax error
// is a *script.ScriptError with File, Line and Col.
func (*Engine) Compile(src script.Source, opts script.Options) (script.Bundle, error) {
	code, err := readEntry(src)
	if err != nil {
		return nil, &script.ScriptError{App: src.App, File: src.Entry, Err: fmt.Errorf("read %s: %w", src.Entry, err)}
	}
	opts.Limits = opts.Limits.WithDefaults()
	b := &bundle{
		src:     src,
		opts:    opts,
		modules: map[string]*compiledModule{},
		files:   []string{src.Entry},
	}
	realDir, err := filepath.EvalSymlinks(src.Dir)
	if err != nil {
		return nil, &script.ScriptError{App: src.App, File: src.Entry, Err: fmt.Errorf("app dir %s: %w", src.Dir, err)}
	}
	b.realDir = realDir
	if ext := strings.ToLower(filepath.Ext(src.Entry)); ext == ".mjs" || ext == ".ts" || ext == ".mts" {
		if serr := b.compileModules(src.Code); serr != nil {
			return nil, serr
		}
		return b, nil
	}
	prog, info, serr := compileSource(src.Entry, string(code), 0)
	if serr != nil && needsBundling(src.Entry, string(code), serr) {
		if serr := b.compileModules(src.Code); serr != nil {
			return nil, serr
		}
		return b, nil
	}
	if serr != nil {
		serr.App = src.App
		return nil, serr
	}
	b.prog = prog
	b.style = script.StyleCGI
	if info.mentionsExports {
		b.style = script.StyleHandler
	}
	return b, nil
}

// bundle is one compiled app version; immutable except for the module
// cache, which is guarded by mu.
type bundle struct {
	src     script.Source
	opts    script.Options
	realDir string // src.Dir with symlinks resolved
	prog    *goja.Program
	style   script.Style
	esm     *esmBundle // an ES module / TypeScript app bundled by esbuild (loader.go)

	mu      sync.Mutex
	modules map[string]*compiledModule // absolute path → compiled module
	files   []string                   // every file loaded, entry first
}

type compiledModule struct {
	prog *goja.Program
	err  *script.ScriptError
}

func (b *bundle) Style() script.Style { return b.style }

func (b *bundle) Files() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.files...)
	sort.Strings(out[1:])
	return out
}

// module returns the compiled module at path, compiling it on first use.
func (b *bundle) module(path string) (*goja.Program, *script.ScriptError) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m, ok := b.modules[path]; ok {
		return m.prog, m.err
	}
	m := &compiledModule{}
	code, err := os.ReadFile(path)
	if err != nil {
		m.err = &script.ScriptError{App: b.src.App, File: path, Err: fmt.Errorf("read module %s: %w", path, err)}
	} else {
		var serr *script.ScriptError
		m.prog, _, serr = compileSource(path, moduleWrapperPrefix+string(code)+moduleWrapperSuffix, len(moduleWrapperPrefix))
		if serr != nil {
			serr.App = b.src.App
			m.err = serr
		}
	}
	b.modules[path] = m
	b.files = append(b.files, path)
	return m.prog, m.err
}

// Modules are wrapped in a function on the first line, so line numbers are
// unchanged; columns on line 1 are shifted by len(moduleWrapperPrefix), which
// positions and stacks correct for.
const (
	moduleWrapperPrefix = "(function (exports, require, module, __filename, __dirname) {"
	moduleWrapperSuffix = "\n})"
)

// Limits on the shape of source code: goja's parser and compiler recurse on
// nesting, and a deep enough nesting overflows the Go stack, which no
// recover() catches. Real code stays far below these.
const (
	maxBracketDepth = 1000
	maxASTDepth     = 10000
)

// errNesting is the cause of a compile error for too deeply nested source.
var errNesting = errors.New("source nested too deeply")

type sourceInfo struct {
	mentionsExports bool
}

// compileSource parses and compiles one file or eval string. colShift is
// subtracted from columns on line 1 (module wrapper).
func compileSource(name, code string, colShift int) (*goja.Program, sourceInfo, *script.ScriptError) {
	var info sourceInfo
	if line, col, ok := checkBrackets(code); !ok {
		return nil, info, &script.ScriptError{File: name, Line: line, Col: fixCol(line, col, colShift),
			Err: fmt.Errorf("%w: more than %d nested brackets", errNesting, maxBracketDepth)}
	}
	ast, err := parser.ParseFile(nil, name, code, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, info, syntaxError(name, err, colShift)
	}
	info, inspectErr := inspectAST(ast)
	if inspectErr != nil {
		se := &script.ScriptError{File: name, Err: inspectErr}
		var pe *posError
		if errors.As(inspectErr, &pe) {
			se.Line, se.Col, se.Err = pe.line, fixCol(pe.line, pe.col, colShift), pe.err
		}
		return nil, info, se
	}
	prog, err := goja.CompileAST(ast, false)
	if err != nil {
		return nil, info, syntaxError(name, err, colShift)
	}
	return prog, info, nil
}

func fixCol(line, col, shift int) int {
	if line == 1 && col > shift {
		return col - shift
	}
	return col
}

// syntaxError turns a goja parse or compile error into a ScriptError.
func syntaxError(name string, err error, colShift int) *script.ScriptError {
	se := &script.ScriptError{File: name}
	var list parser.ErrorList
	var one *parser.Error
	var cse *goja.CompilerSyntaxError
	var cre *goja.CompilerReferenceError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		se.Line, se.Col, se.Err = list[0].Position.Line, list[0].Position.Column, errors.New("SyntaxError: "+list[0].Message)
	case errors.As(err, &one):
		se.Line, se.Col, se.Err = one.Position.Line, one.Position.Column, errors.New("SyntaxError: "+one.Message)
	case errors.As(err, &cse):
		if cse.File != nil {
			p := cse.File.Position(cse.Offset)
			se.Line, se.Col = p.Line, p.Column
		}
		se.Err = errors.New("SyntaxError: " + cse.Message)
	case errors.As(err, &cre):
		if cre.File != nil {
			p := cre.File.Position(cre.Offset)
			se.Line, se.Col = p.Line, p.Column
		}
		se.Err = errors.New("ReferenceError: " + cre.Message)
	default:
		se.Err = err
	}
	se.Col = fixCol(se.Line, se.Col, colShift)
	return se
}

// checkBrackets reports the line and column where the bracket nesting of
// code first passes maxBracketDepth. Comments and quoted strings are
// skipped; template literals and regular expressions are not, so the count
// is an upper bound of the real nesting.
func checkBrackets(code string) (line, col int, ok bool) {
	depth := 0
	line, lineStart := 1, 0
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch c {
		case '\n':
			line++
			lineStart = i + 1
		case '/':
			if i+1 < len(code) && code[i+1] == '/' {
				j := strings.IndexByte(code[i:], '\n')
				if j < 0 {
					return 0, 0, true
				}
				i += j - 1
			} else if i+1 < len(code) && code[i+1] == '*' {
				j := strings.Index(code[i+2:], "*/")
				if j < 0 {
					return 0, 0, true
				}
				seg := code[i : i+2+j+2]
				if n := strings.Count(seg, "\n"); n > 0 {
					line += n
					lineStart = i + strings.LastIndexByte(seg, '\n') + 1
				}
				i += 2 + j + 1
			}
		case '\'', '"':
			for i++; i < len(code) && code[i] != c && code[i] != '\n'; i++ {
				if code[i] == '\\' {
					i++
				}
			}
			if i < len(code) && code[i] == '\n' {
				line++
				lineStart = i + 1
			}
		case '(', '[', '{':
			depth++
			if depth > maxBracketDepth {
				return line, i - lineStart + 1, false
			}
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0, 0, true
}
