package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestFormatCheckError(t *testing.T) {
	wd, _ := os.Getwd()
	other := filepath.Join(wd, "lib", "m.js")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"line and column", &script.ScriptError{File: filepath.Join(wd, "a.js"), Line: 3, Col: 7, Err: errors.New("boom")}, "a.js:3:7: boom"},
		{"line only", &script.ScriptError{File: filepath.Join(wd, "a.js"), Line: 3, Err: errors.New("boom")}, "a.js:3: boom"},
		{"error in another file", &script.ScriptError{File: other, Line: 2, Col: 1, Err: errors.New("bad")}, "lib/m.js:2:1: bad"},
		{"no position", errors.New("not a .js or .lua file"), "a.js: not a .js or .lua file"},
	}
	for _, tc := range tests {
		if got := formatCheckError("a.js", tc.err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	for name, code := range map[string]string{
		"ok.lua":  "return function() return 'ok' end\n",
		"ok.js":   "module.exports = () => 1;\n",
		"bad.lua": "return function(\n  x = = 1\nend\n",
		"bad.js":  "let = ;\n",
		"n.txt":   "ignored\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: os.Getenv, Environ: os.Environ}
	err := m.Run(context.Background(), []string{"check", dir})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], filepath.Join(dir, "bad.js")+":1:") || !strings.HasPrefix(lines[1], filepath.Join(dir, "bad.lua")+":2:") {
		t.Errorf("stdout:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "2 of 4 files failed") {
		t.Errorf("stderr: %s", errb.String())
	}
	out.Reset()
	errb.Reset()
	if err := m.Run(context.Background(), []string{"check", filepath.Join(dir, "ok.lua"), filepath.Join(dir, "ok.js")}); err != nil {
		t.Fatalf("good files: %v\n%s", err, out.String())
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "2 files compiled") {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
}

// check loads ES module and TypeScript apps as serve does: a syntax error in
// an imported .ts file and an import escaping the app folder are reported
// at their file and line.
func TestCheckModules(t *testing.T) {
	dir := t.TempDir()
	for name, code := range map[string]string{
		"api/index.ts":  "import { f } from \"./lib\";\nexport default { fetch: () => new Response(f()) };\n",
		"api/lib.ts":    "// helper\nexport function f(): string {\n  return 1 +* 2;\n}\n",
		"esc/index.mjs": "// x\nimport s from \"../secret.js\";\nexport default () => s;\n",
		"good.ts":       "enum E { A = 1 }\nexport default (req: any): number => E.A;\n",
		"secret.js":     "module.exports = 's';\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: os.Getenv, Environ: os.Environ}
	err := m.Run(context.Background(), []string{"check", dir})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit 1\n%s%s", err, out.String(), errb.String())
	}
	for _, want := range []string{filepath.Join(dir, "api", "lib.ts") + ":3:", filepath.Join(dir, "esc", "index.mjs") + ":2:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "good.ts") {
		t.Errorf("good.ts reported:\n%s", out.String())
	}
}
