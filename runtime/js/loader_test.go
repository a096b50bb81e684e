package js

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestESModulesAcrossFiles(t *testing.T) {
	a := newApp(t, map[string]string{
		"main.js": `import { greet } from "./lib/greet.js";
import * as util from "./lib/util.mjs";
import data from "./data.json";
export default function (req, res) {
  return greet(req.query.name ?? "world") + " " + util.twice(data.n);
}`,
		"lib/greet.js":  "export const greet = (n) => `hello ${n}`;\n",
		"lib/util.mjs":  "export function twice(x) { return x * 2; }\nexport default 1;\n",
		"data.json":     `{"n": 21}`,
		"index.mjs":     `import { greet } from "./lib/greet.js"; export default (req) => greet("mjs");`,
		"cjs-plain.js":  `module.exports = () => "plain";`,
		"handle-obj.ts": `export default { handle(req: any, res: any): string { return "handle"; } };`,
	})
	b := a.mustCompile("main.js")
	if got := serve(a.mustVM("main.js"), get("/main?name=ann")); got.err != nil || got.body != "hello ann 42" {
		t.Fatalf("main.js: %q %v", got.body, got.err)
	}
	files := b.Files()
	for _, want := range []string{"main.js", "lib/greet.js", "lib/util.mjs", "data.json"} {
		if !slices.Contains(files, a.path(want)) {
			t.Errorf("Files() = %v, missing %s", files, want)
		}
	}
	if files[0] != a.path("main.js") {
		t.Errorf("Files()[0] = %s, want the entry", files[0])
	}
	if got := serve(a.mustVM("index.mjs"), get("/")); got.body != "hello mjs" {
		t.Errorf("index.mjs: %q %v", got.body, got.err)
	}
	if got := serve(a.mustVM("handle-obj.ts"), get("/")); got.body != "handle" {
		t.Errorf("handle-obj.ts: %q %v", got.body, got.err)
	}
	// A plain CommonJS file is not bundled: one file, no source map.
	pb := a.mustCompile("cjs-plain.js").(*bundle)
	if pb.esm != nil || len(pb.Files()) != 1 {
		t.Errorf("plain CommonJS went through the bundler: %v", pb.Files())
	}
}

func TestTypeScript(t *testing.T) {
	a := newApp(t, map[string]string{
		"app.ts": `import { Stack } from "./stack";
enum Color { Red = "red", Green = "green" }
interface Named { name: string }
type Pair<A, B> = [A, B];
function first<T extends Named>(xs: T[]): T | undefined { return xs[0]; }
export default function (req: any, res: any): string {
  const s = new Stack<number>();
  s.push(1); s.push(2);
  const p: Pair<string, number> = ["x", s.pop()!];
  return [Color.Green, first([{ name: "n1" }])?.name, p.join(":"), s.size].join(" ");
}`,
		"stack.ts": `export class Stack<T> {
  private items: T[] = [];
  push(x: T): void { this.items.push(x); }
  pop(): T | undefined { return this.items.pop(); }
  get size(): number { return this.items.length; }
}`,
	})
	if got := serve(a.mustVM("app.ts"), get("/")); got.err != nil || got.body != "green n1 x:2 1" {
		t.Fatalf("app.ts: %q %v", got.body, got.err)
	}
}

func TestBareImportFromNodeModules(t *testing.T) {
	a := newApp(t, map[string]string{
		"index.ts": `import slugify from "tiny-slug"; import { v } from "esm-pkg";
export default () => slugify("Hello World") + " " + v;`,
		"node_modules/tiny-slug/package.json": `{"name": "tiny-slug", "main": "lib/index.js"}`,
		"node_modules/tiny-slug/lib/index.js": `module.exports = function (s) { return s.toLowerCase().replace(/\s+/g, "-"); };`,
		"node_modules/esm-pkg/package.json":   `{"name": "esm-pkg", "type": "module", "exports": {".": {"import": "./m.js", "require": "./c.cjs"}}}`,
		"node_modules/esm-pkg/m.js":           `export const v = "esm";`,
		"node_modules/esm-pkg/c.cjs":          `exports.v = "cjs";`,
	})
	if got := serve(a.mustVM("index.ts"), get("/")); got.err != nil || got.body != "hello-world esm" {
		t.Fatalf("got %q %v", got.body, got.err)
	}
}

func TestImportOutsideAppRefused(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.js"), []byte(`export const s = "secret";`), 0o644); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	if err := os.MkdirAll(filepath.Join(parent, "node_modules", "up"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "node_modules", "up", "index.js"), []byte(`export const u = 1;`), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Join(parent, "app"), filepath.Join(outside, "secret.js"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"relative": "import { s } from \"" + filepath.ToSlash(rel) + "\";\nexport default () => s;\n",
		"absolute": "import { s } from \"" + filepath.ToSlash(filepath.Join(outside, "secret.js")) + "\";\nexport default () => s;\n",
		"symlink":  "import { s } from \"./link.js\";\nexport default () => s;\n",
		"parentnm": "import { u } from \"up\";\nexport default () => u;\n",
		"builtin":  "import fs from \"node:fs\";\nexport default () => fs;\n",
		"fs":       "import fs from \"fs\";\nexport default () => fs;\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(parent, "app")
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, "secret.js"), filepath.Join(dir, "link.js")); err != nil {
				t.Fatal(err)
			}
			entry := filepath.Join(dir, "index.mjs")
			if err := os.WriteFile(entry, []byte("// first line\n"+src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := New().Compile(script.Source{App: "t", Dir: dir, Entry: entry}, script.Options{})
			var se *script.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("compile: %v, want a ScriptError", err)
			}
			if se.File != entry || se.Line != 2 || se.Col < 1 {
				t.Errorf("error at %s:%d:%d, want %s:2: %v", se.File, se.Line, se.Col, entry, err)
			}
			if strings.Contains(err.Error(), "secret\"") {
				t.Errorf("error leaks the file: %v", err)
			}
		})
	}
}

func TestTypeScriptErrorsNameOriginalPosition(t *testing.T) {
	a := newApp(t, map[string]string{
		"bad.ts": `interface A { x: number }
export default function (req: any): string {
  const a: A = { x: 1 };
  return a.x +* 2;
}`,
		"throws.ts": `import { fail } from "./lib/fail";
type T = { n: number };
export default function (req: any): string {
  const t: T = { n: 1 };
  return fail(t.n);
}`,
		"lib/fail.ts": `// helper
export function fail(n: number): string {
  const msg: string = "boom " + n;
  throw new Error(msg);
}`,
	})
	_, err := a.compile("bad.ts")
	var se *script.ScriptError
	if !errors.As(err, &se) || se.File != a.path("bad.ts") || se.Line != 4 {
		t.Fatalf("bad.ts: %v (%+v), want %s:4", err, se, a.path("bad.ts"))
	}
	if !strings.Contains(err.Error(), "SyntaxError") {
		t.Errorf("bad.ts: %v, want a SyntaxError", err)
	}
	got := serve(a.mustVM("throws.ts"), get("/"))
	if !errors.As(got.err, &se) {
		t.Fatalf("throws.ts: %v, want a ScriptError", got.err)
	}
	if se.File != a.path("lib/fail.ts") || se.Line != 4 || se.Col != 9 {
		t.Errorf("error at %s:%d:%d, want lib/fail.ts:4:9", se.File, se.Line, se.Col)
	}
	if !strings.Contains(se.Stack, a.path("throws.ts")+":5:") {
		t.Errorf("stack does not name throws.ts:5: %s", se.Stack)
	}
	if !strings.Contains(got.err.Error(), "boom 1") {
		t.Errorf("error %v, want the message", got.err)
	}
}

func TestESModuleNotAHandler(t *testing.T) {
	a := newApp(t, map[string]string{"n.mjs": `export const x = 1;`})
	b := a.mustCompile("n.mjs")
	if _, err := b.NewVM(t.Context()); err == nil || !strings.Contains(err.Error(), "not a handler") {
		t.Errorf("NewVM: %v, want not a handler", err)
	}
}

// The registry passes the entry's source in Source.Code: positions and
// Files() are the same as when the engine reads the file.
func TestESModuleFromSourceCode(t *testing.T) {
	a := newApp(t, map[string]string{
		"lib.ts": "export const f = (n: number): string => {\n  throw new Error(\"x\" + n);\n};\n",
	})
	code := "import { f } from \"./lib\";\n\nexport default (req: any) => f(1);\n"
	b, err := New().Compile(script.Source{App: "t", Dir: a.dir, Entry: a.path("e.ts"), Code: []byte(code)}, a.opts)
	if err != nil {
		t.Fatal(err)
	}
	if files := b.Files(); len(files) != 2 || files[0] != a.path("e.ts") || files[1] != a.path("lib.ts") {
		t.Errorf("Files() = %v", files)
	}
	vm, err := b.NewVM(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	got := serve(vm, get("/"))
	var se *script.ScriptError
	if !errors.As(got.err, &se) || se.File != a.path("lib.ts") || se.Line != 2 {
		t.Fatalf("error %v (%+v), want lib.ts:2", got.err, se)
	}
	if !strings.Contains(se.Stack, a.path("e.ts")+":3:") {
		t.Errorf("stack %s, want e.ts:3", se.Stack)
	}
	_, err = New().Compile(script.Source{App: "t", Dir: a.dir, Entry: a.path("e.ts"), Code: []byte("\n\nlet x: = 1;\nexport default 1;")}, a.opts)
	if !errors.As(err, &se) || se.File != a.path("e.ts") || se.Line != 3 {
		t.Errorf("syntax error %v (%+v), want e.ts:3", err, se)
	}
}
