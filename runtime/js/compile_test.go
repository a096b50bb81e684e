package js

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestEngineIdentity(t *testing.T) {
	e := New()
	if e.Name() != "js" {
		t.Errorf("Name = %q", e.Name())
	}
	if got := strings.Join(e.Extensions(), ","); got != ".js,.mjs,.ts" {
		t.Errorf("Extensions = %q", got)
	}
}

func TestStyleDetection(t *testing.T) {
	tests := []struct {
		name string
		code string
		want script.Style
	}{
		{"module.exports", `module.exports = () => "x";`, script.StyleHandler},
		{"exports.handle", `exports.handle = () => "x";`, script.StyleHandler},
		{"module bracket", `module["exports"] = () => "x";`, script.StyleHandler},
		{"exports in function", `function f() { return exports; } f().handle = () => "x";`, script.StyleHandler},
		{"plain print", `print("Content-Type: text/plain\n"); write("x");`, script.StyleCGI},
		{"exports in string", `print("Content-Type: text/plain\n"); write("module.exports = 1");`, script.StyleCGI},
		{"exports in comment", "// module.exports = f\n/* exports.handle */ print('Status: 204\\n');", script.StyleCGI},
		{"exports as property", `const o = {exports: 1}; o.exports = 2; print("Status: 204\n");`, script.StyleCGI},
		{"exports as label", "exports: for (;;) { break exports; } print('Status: 204\\n');", script.StyleCGI},
		{"exports in template text", "write(`exports`);", script.StyleCGI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			b := a.mustCompile("app.js")
			if b.Style() != tt.want {
				t.Errorf("Style = %v, want %v", b.Style(), tt.want)
			}
		})
	}
}

func TestNotAHandler(t *testing.T) {
	tests := []struct{ name, code string }{
		{"number", `module.exports = 42;`},
		{"empty object", `exports.other = 1;`},
		{"handle not function", `module.exports = {handle: "x"};`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			_, err := a.mustCompile("app.js").NewVM(context.Background())
			var se *script.ScriptError
			if !errors.As(err, &se) || !strings.Contains(se.Error(), "module.exports is not a handler") {
				t.Fatalf("err = %v, want 'module.exports is not a handler'", err)
			}
			if se.File != a.path("app.js") {
				t.Errorf("File = %q", se.File)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name      string
		code      string
		line, col int
		msg       string
	}{
		{"unexpected token", "let a = 1;\nlet b = ;\n", 2, 9, "SyntaxError"},
		{"unterminated", "module.exports = function () {\n  return 1;\n", 3, 1, "SyntaxError"},
		{"redeclared", "let x = 1;\nlet x = 2;\n", 2, 5, "already been declared"},
		{"bigint literal", "module.exports = () => {\n  return String(10n);\n};", 2, 17, "BigInt is disabled"},
		{"nested brackets", "x = " + strings.Repeat("(", 1500) + "1" + strings.Repeat(")", 1500), 1, 1005, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			_, err := a.compile("app.js")
			var se *script.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a ScriptError", err)
			}
			if se.File != a.path("app.js") || se.Line != tt.line || se.Col != tt.col {
				t.Errorf("location = %s:%d:%d, want app.js:%d:%d", se.File, se.Line, se.Col, tt.line, tt.col)
			}
			if !strings.Contains(se.Error(), tt.msg) || se.App != "test" {
				t.Errorf("error = %q (app %q), want it to contain %q", se.Error(), se.App, tt.msg)
			}
		})
	}
}

func TestDeepSourceDoesNotCrash(t *testing.T) {
	// At a million levels each of these overflows the Go stack inside
	// goja's parser (parens) or compiler (assignments), a fatal error no
	// recover catches; the bounds refuse them long before.
	tests := []struct{ name, code string }{
		{"parens", strings.Repeat("(", 1_000_000) + "1" + strings.Repeat(")", 1_000_000)},
		{"assignment chain", strings.Repeat("a=", 100_000) + "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			_, err := a.compile("app.js")
			if !errors.Is(err, errNesting) {
				t.Fatalf("err = %v, want a nesting error", err)
			}
		})
	}
}

func TestCodeFromSourceField(t *testing.T) {
	// Source.Code wins over the file on disk.
	a := newApp(t, map[string]string{"app.js": `module.exports = () => "disk";`})
	b, err := New().Compile(script.Source{App: "t", Dir: a.dir, Entry: a.path("app.js"), Code: []byte(`module.exports = () => "code";`)}, a.opts)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := b.NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := serve(vm, get("/")); r.body != "code" {
		t.Errorf("body = %q, want code", r.body)
	}
	_, err = New().Compile(script.Source{App: "t", Dir: a.dir, Entry: a.path("missing.js")}, a.opts)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing entry: err = %v", err)
	}
}

func TestRuntimeErrorLocation(t *testing.T) {
	a := newApp(t, map[string]string{
		"app.js": `const lib = require("./lib/util");
module.exports = (req, res) => {
  if (req.query.where === "module") return lib.fail();
  if (req.query.where === "type") return null.x;
  throw new Error("top " + req.query.where);
};`,
		"lib/util.js": `exports.fail = function fail() {
  throw new TypeError("in module");
};`,
	})
	vm := a.mustVM("app.js")
	tests := []struct {
		query     string
		file      string
		line, col int
		msg       string
		stack     []string
	}{
		{"where=handler", "app.js", 5, 9, "Error: top handler", nil},
		{"where=type", "app.js", 4, 47, "TypeError", nil},
		{"where=module", "lib/util.js", 2, 9, "TypeError: in module", []string{"at fail (" + a.path("lib/util.js") + ":2:9)", a.path("app.js") + ":3:"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := serve(vm, get("/?"+tt.query))
			var se *script.ScriptError
			if !errors.As(r.err, &se) {
				t.Fatalf("err = %v", r.err)
			}
			if se.File != a.path(tt.file) || se.Line != tt.line || se.Col != tt.col {
				t.Errorf("location = %s, want %s:%d:%d", se.Location(), tt.file, tt.line, tt.col)
			}
			if !strings.Contains(se.Err.Error(), tt.msg) {
				t.Errorf("message = %q, want %q", se.Err, tt.msg)
			}
			for _, s := range tt.stack {
				if !strings.Contains(se.Stack, s) {
					t.Errorf("stack %q lacks %q", se.Stack, s)
				}
			}
			if !vm.Healthy() {
				t.Errorf("VM unhealthy after an ordinary script error")
			}
		})
	}
}

func TestTopLevelErrorInNewVM(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": "const x = 1;\nundefinedFunction();\nmodule.exports = () => 'x';"})
	_, err := a.mustCompile("app.js").NewVM(context.Background())
	var se *script.ScriptError
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(se.Error(), "ReferenceError") {
		t.Fatalf("err = %v, want ReferenceError at line 2", err)
	}
}

func TestModuleSyntaxError(t *testing.T) {
	a := newApp(t, map[string]string{
		"app.js": "const m = require('./bad');\nmodule.exports = () => 'x';",
		"bad.js": "exports.a = ;",
	})
	_, err := a.mustCompile("app.js").NewVM(context.Background())
	var se *script.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.File != a.path("bad.js") || se.Line != 1 || se.Col != 13 {
		t.Errorf("location = %s, want bad.js:1:13", se.Location())
	}
}

func TestFilesListsLoadedModules(t *testing.T) {
	a := newApp(t, map[string]string{
		"index.js":      "require('./a'); module.exports = (req) => { if (req.query.late) require('./late'); return 'x'; };",
		"a.js":          "require('./sub/b');",
		"sub/b.js":      "exports.b = 1;",
		"late.js":       "",
		"not-loaded.js": "",
	})
	b := a.mustCompile("index.js")
	if got := b.Files(); len(got) != 1 || got[0] != a.path("index.js") {
		t.Errorf("before NewVM: Files = %v", got)
	}
	vm, err := b.NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a.path("index.js"), a.path("a.js"), a.path("sub/b.js")}
	if got := b.Files(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Files = %v, want %v", got, want)
	}
	serve(vm, get("/?late=1"))
	want = []string{a.path("index.js"), a.path("a.js"), a.path("late.js"), a.path("sub/b.js")}
	if got := b.Files(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Files = %v, want %v", got, want)
	}
}

func TestSourceMapCommentIgnored(t *testing.T) {
	// goja would read the map file from disk unless source maps are off;
	// a map pointing at a file that is not a map must not matter.
	a := newApp(t, map[string]string{
		"app.js":  "module.exports = () => { throw new Error('x'); };\n//# sourceMappingURL=app.js.map\n",
		"app.map": "not json",
	})
	if err := os.WriteFile(filepath.Join(a.dir, "app.js.map"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := serve(a.mustVM("app.js"), get("/"))
	var se *script.ScriptError
	if !errors.As(r.err, &se) || se.File != a.path("app.js") || se.Line != 1 {
		t.Errorf("err = %v, want app.js:1", r.err)
	}
	// eval'd code too.
	a2 := newApp(t, map[string]string{"app.js": "module.exports = () => String(eval('1+1\\n//# sourceMappingURL=/etc/passwd'));"})
	if r := serve(a2.mustVM("app.js"), get("/")); r.body != "2" || r.err != nil {
		t.Errorf("eval with source map comment: %q %v", r.body, r.err)
	}
}
