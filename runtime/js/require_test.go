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

func TestRequire(t *testing.T) {
	files := map[string]string{
		"index.js": `module.exports = (req) => {
  const m = req.query.m;
  try { return JSON.stringify(require(m)); } catch (e) { return "ERR " + e.message; }
};`,
		"lib.js":           `exports.name = "lib"; exports.dir = __dirname.length > 0;`,
		"lib/index.js":     `module.exports = {name: "lib/index"};`,
		"pkg/index.js":     `module.exports = {name: "pkg", sub: require("./sub").name};`,
		"pkg/sub.js":       `exports.name = "pkg/sub";`,
		"pkg/up.js":        `module.exports = require("../lib");`,
		"deep/a/b/c.js":    `module.exports = require("../../../lib.js").name + "@c";`,
		"cycle/a.js":       `exports.early = "a-early"; const b = require("./b"); exports.late = "a-late"; exports.b = b.seen;`,
		"cycle/b.js":       `const a = require("./a"); exports.seen = a.early + "/" + a.late;`,
		"counter.js":       `globalThis.loads = (globalThis.loads || 0) + 1; module.exports = {loads: globalThis.loads};`,
		"data.json":        `{"a": 1}`,
		"throws.js":        `throw new Error("module threw");`,
		"jquery.min.js":    `module.exports = "min";`,
		"notjs.txt":        `module.exports = 1;`,
		"link-inside.js":   ``, // replaced by a symlink below
		"sub/dir/.keep.js": ``,
	}
	a := newApp(t, files)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.js"), []byte(`module.exports = "secret";`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, filepath.Join(outside, "secret.js"), a.path("escape.js"))
	mustSymlink(t, outside, a.path("escdir"))
	os.Remove(a.path("link-inside.js"))
	mustSymlink(t, a.path("lib.js"), a.path("link-inside.js"))
	mustSymlink(t, a.path("notjs.txt"), a.path("txtlink.js"))

	vm := a.mustVM("index.js")
	tests := []struct {
		m, want string
	}{
		{"./lib", `{"name":"lib","dir":true}`},
		{"./lib.js", `{"name":"lib","dir":true}`},
		{"./lib/", `{"name":"lib/index"}`},
		{"./lib/index", `{"name":"lib/index"}`},
		{"./pkg", `{"name":"pkg","sub":"pkg/sub"}`},
		{"./pkg/up", `{"name":"lib","dir":true}`},
		{"./deep/a/b/c", `"lib@c"`},
		{"./cycle/a", `{"early":"a-early","late":"a-late","b":"a-early/undefined"}`},
		{"./jquery.min", `"min"`},
		{"./link-inside", `{"name":"lib","dir":true}`},
		{"./missing", "ERR require(\"./missing\") in " + a.path("index.js") + ":3: cannot load module: no file"},
		{"../x", "ERR require(\"../x\") in " + a.path("index.js") + ":3: cannot load module: " + filepath.Dir(a.dir) + "/x is outside the app folder"},
		{"./pkg/../../x", "outside the app folder"},
		{"/etc/passwd", "absolute paths are not allowed"},
		{"fs", `"fs" is not a relative path`},
		{"./lib\x00.js", "NUL byte"},
		{"./escape", "outside the app folder"},
		{"./escdir/secret", "outside the app folder"},
		{"./txtlink", "is not a .js file"},
		{"./data.json", "no file"},
		{"./throws", "ERR module threw"},
		{"", "empty module name"},
	}
	for _, tt := range tests {
		t.Run(tt.m, func(t *testing.T) {
			r := serve(vm, get("/?m="+urlEscape(tt.m)))
			if r.err != nil {
				t.Fatalf("Serve: %v", r.err)
			}
			if !strings.Contains(r.body, tt.want) {
				t.Errorf("body = %q, want it to contain %q", r.body, tt.want)
			}
		})
	}
	t.Run("cached per VM", func(t *testing.T) {
		r1 := serve(vm, get("/?m=./counter"))
		r2 := serve(vm, get("/?m=./counter"))
		if r1.body != `{"loads":1}` || r2.body != `{"loads":1}` {
			t.Errorf("loads: %q then %q, want the module to run once", r1.body, r2.body)
		}
		vm2 := a.mustVM("index.js")
		if r := serve(vm2, get("/?m=./counter")); r.body != `{"loads":1}` {
			t.Errorf("second VM: %q, want its own instance", r.body)
		}
	})
}

func TestRequireCompiledOncePerBundle(t *testing.T) {
	a := newApp(t, map[string]string{
		"index.js": `const m = require("./m"); module.exports = () => m.v;`,
		"m.js":     `exports.v = "one";`,
	})
	b := a.mustCompile("index.js")
	if _, err := b.NewVM(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Changing the file does not change this Bundle: the module was
	// compiled once and is shared by the Bundle's VMs.
	if err := os.WriteFile(a.path("m.js"), []byte(`exports.v = "two";`), 0o644); err != nil {
		t.Fatal(err)
	}
	vm, err := b.NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := serve(vm, get("/")); r.body != "one" {
		t.Errorf("second VM of the bundle got %q, want the cached compile (one)", r.body)
	}
	// A new Bundle (a reload) sees the change.
	vm2, err := a.mustCompile("index.js").NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := serve(vm2, get("/")); r.body != "two" {
		t.Errorf("new bundle got %q, want two", r.body)
	}
}

func TestRequireUncaughtNamesModule(t *testing.T) {
	a := newApp(t, map[string]string{"index.js": "\nconst x = require('./nope');\nmodule.exports = () => 'x';"})
	_, err := a.mustCompile("index.js").NewVM(context.Background())
	var se *script.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.File != a.path("index.js") || se.Line != 2 || !strings.Contains(se.Error(), `require("./nope")`) {
		t.Errorf("err = %v, want at index.js:2 naming ./nope", se)
	}
	if !errors.Is(err, errModule) {
		t.Errorf("err does not wrap errModule")
	}
}

func mustSymlink(t *testing.T, oldname, newname string) {
	t.Helper()
	if err := os.Symlink(oldname, newname); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '/' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}
