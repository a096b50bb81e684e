package lua

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestRequire_Resolution(t *testing.T) {
	files := map[string]string{
		"lib.lua":             `return {name = "lib"}`,
		"lib/util.lua":        `return {name = "lib.util", up = require("../lib").name}`,
		"lib/deep/init.lua":   `return {name = "deep", sib = require("./leaf").name}`,
		"lib/deep/leaf.lua":   `return {name = "leaf"}`,
		"noreturn.lua":        `shared_global = "set by module"`,
		"args.lua":            `return ...`,
		"lib/dotted.name.lua": `return {name = "dotted file"}`,
	}
	tests := []struct {
		name, expr, want string
	}{
		{"relative", `require("./lib").name`, "lib"},
		{"relative with extension", `require("./lib.lua").name`, "lib"},
		{"dotted", `require("lib.util").name`, "lib.util"},
		{"slash path", `require("lib/util").name`, "lib.util"},
		{"parent relative from module", `require("lib.util").up`, "lib"},
		{"init.lua", `require("lib.deep").name`, "deep"},
		{"relative inside init", `require("./lib/deep").sib`, "leaf"},
		{"relative with dots in file name", `require("./lib/dotted.name").name`, "dotted file"},
		{"module without return", `tostring(require("noreturn")) .. "|" .. shared_global`, "true|set by module"},
		{"module gets its name", `require("args")`, "args"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res) res:write("+tt.expr+") end", files)
			s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
			if err != nil || s.body.String() != tt.want {
				t.Fatalf("%s = %q, %v; want %q", tt.expr, s.body.String(), err, tt.want)
			}
		})
	}
}

func TestRequire_Refused(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.lua": `return "leaked"`})
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		mod   string
		msg   string
	}{
		{"missing", nil, "nothere", "module not found"},
		{"parent escape", nil, "../secret", "outside the app folder"},
		{"deep parent escape", nil, "./lib/../../secret", "outside the app folder"},
		{"absolute", nil, "/etc/passwd", "absolute paths"},
		{"absolute outside lua", nil, filepath.Join(outside, "secret"), "absolute paths"},
		{"NUL byte", nil, "lib\x00.lua", "NUL"},
		{"empty", nil, "", "empty module name"},
		{"symlink out", func(t *testing.T, dir string) {
			if err := os.Symlink(filepath.Join(outside, "secret.lua"), filepath.Join(dir, "link.lua")); err != nil {
				t.Skip("symlinks unsupported:", err)
			}
		}, "link", "resolves outside"},
		{"symlinked folder out", func(t *testing.T, dir string) {
			if err := os.Symlink(outside, filepath.Join(dir, "ext")); err != nil {
				t.Skip("symlinks unsupported:", err)
			}
		}, "ext.secret", "resolves outside"},
		{"directory", func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "folder.lua"), 0o755)
		}, "folder", "not a regular file"},
		{"other extension", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"data.txt": "return 1"})
		}, "./data.txt", "module not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The module name comes from the request so that it can hold any byte.
			a := newApp(t, "return function(req, res)\n  res:write(tostring(require(req.body)))\nend", nil)
			if tt.setup != nil {
				tt.setup(t, a.dir)
			}
			s, err := serve(t, a.vm(t), request("POST", "/", tt.mod, nil))
			if err == nil {
				t.Fatalf("require %q succeeded: %q", tt.mod, s.body.String())
			}
			var se *script.ScriptError
			if !errors.As(err, &se) || !strings.Contains(se.Error(), tt.msg) {
				t.Fatalf("error %v, want %q", err, tt.msg)
			}
			if se.File != a.entry || se.Line != 2 {
				t.Errorf("error at %s:%d, want the requiring line %s:2", se.File, se.Line, a.entry)
			}
			if strings.Contains(s.body.String(), "leaked") {
				t.Fatal("module outside the app ran")
			}
		})
	}
}

func TestRequire_CachedPerVMCompiledPerBundle(t *testing.T) {
	a := newApp(t, `local counter = require("counter")
return function(req, res)
  local again = require("counter")
  again.n = again.n + 1
  res:write(tostring(counter == again), ":", counter.n, ":", counter.loads)
end`, map[string]string{"counter.lua": `loads = (loads or 0) + 1
return {n = 0, loads = loads}`})
	v1 := a.vm(t)
	for _, want := range []string{"true:1:1", "true:2:1"} {
		s, err := serve(t, v1, request("GET", "/", "", nil))
		if err != nil || s.body.String() != want {
			t.Fatalf("v1: %q, %v; want %q", s.body.String(), err, want)
		}
	}
	s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	if err != nil || s.body.String() != "true:1:1" {
		t.Fatalf("v2: %q, %v; want its own module instance", s.body.String(), err)
	}
	b := a.bundle.(*bundle)
	if n := len(b.modules); n != 1 {
		t.Errorf("bundle holds %d compiled modules, want 1", n)
	}
	files := a.bundle.Files()
	want := []string{a.entry, filepath.Join(a.dir, "counter.lua")}
	if !slices.Equal(files, want) {
		t.Errorf("Files() = %q, want %q", files, want)
	}
}

func TestRequire_CompiledOnceAcrossVMs(t *testing.T) {
	a := newApp(t, `local m = require("m")
return function(req, res) res:write(m.v) end`, map[string]string{"m.lua": `return {v = "first"}`})
	a.vm(t)
	// A change on disk is not seen by this bundle (a reload makes a new one).
	writeFiles(t, a.dir, map[string]string{"m.lua": `return {v = "second"}`})
	s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	if err != nil || s.body.String() != "first" {
		t.Fatalf("%q, %v; want the module compiled once per bundle", s.body.String(), err)
	}
}

func TestRequire_ErrorsInModules(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		file      string
		line, col int
		msg       string
	}{
		{"syntax error", map[string]string{"bad.lua": "local x = 1\nlocal = 2\nreturn x"}, "bad.lua", 2, 7, "syntax error"},
		{"runtime error at load", map[string]string{"bad.lua": "local x = 1\nerror('module failed')"}, "bad.lua", 2, 0, "module failed"},
		{"runtime error in module function", map[string]string{"bad.lua": "return {f = function()\n  local t\n  return t.x\nend}"}, "bad.lua", 3, 0, "attempt to index"},
		{"circular", map[string]string{"bad.lua": "return require('other')", "other.lua": "return require('bad')"}, "other.lua", 1, 0, "circular require"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res)\n  local m = require('bad')\n  m.f()\nend", tt.files)
			_, err := serve(t, a.vm(t), request("GET", "/", "", nil))
			var se *script.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want *script.ScriptError", err)
			}
			want := filepath.Join(a.dir, tt.file)
			if se.File != want || se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Error(), tt.msg) {
				t.Errorf("got %q at %s:%d:%d, want %q at %s:%d:%d", se.Err, se.File, se.Line, se.Col, tt.msg, want, tt.line, tt.col)
			}
		})
	}
}

func TestRequire_CGIStyleRunsModulesPerRequest(t *testing.T) {
	a := newApp(t, `local m = require("m")
io.write("Content-Type: text/plain\n\n", m.count())`, map[string]string{"m.lua": `local n = 0
return {count = function() n = n + 1; return n end}`})
	v := a.vm(t)
	for i := 0; i < 2; i++ {
		s, err := serve(t, v, request("GET", "/", "", nil))
		if err != nil || s.body.String() != "1" {
			t.Fatalf("request %d: %q, %v; want a fresh module each request", i, s.body.String(), err)
		}
	}
}

func TestRequire_ConcurrentVMs(t *testing.T) {
	a := newApp(t, `local m = require("m")
return function(req, res) res:write(m.v) end`, map[string]string{"m.lua": `return {v = "ok"}`})
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			v, err := a.bundle.NewVM(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer v.Close()
			s, err := serveCtx(context.Background(), v, request("GET", "/", "", nil))
			if err == nil && s.body.String() != "ok" {
				err = errors.New("body " + s.body.String())
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
