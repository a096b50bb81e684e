package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// goModVersion reads the version go.mod requires for module path.
func goModVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(path) + `\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s not in go.mod", path)
	}
	return string(m[1])
}

// TestVersion builds the binary with a version and commit stamped in and
// checks every line of `fcgihost version`.
func TestVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fcgihost")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.Version=1.2.3 -X main.Commit=abc1234", "./cmd/fcgihost")
	build.Dir = testutil.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"fcgihost":   "1.2.3",
		"commit":     "abc1234",
		"go":         runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"goja":       goModVersion(t, "github.com/dop251/goja"),
		"gopher-lua": goModVersion(t, "github.com/yuin/gopher-lua"),
	}
	// gopher-lua is built from its patched copy (docs/sandbox.md, "The
	// gopher-lua patch"); the line says so.
	if w := want["gopher-lua"] + " (patched copy in third_party/gopher-lua)"; !strings.Contains(string(out), "gopher-lua "+w+"\n") {
		t.Errorf("no line %q in:\n%s", "gopher-lua "+w, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, " ")
		if w, ok := want[k]; !ok || strings.TrimSpace(v) != w && !strings.HasPrefix(strings.TrimSpace(v), w+" (") {
			t.Errorf("line %q: want %s %s", l, k, w)
		}
	}
}
