package registry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// TestSymlinks: an entry file or folder that is a symlink is followed only
// while its real path stays inside the apps dir or a root; otherwise path
// dispatch refuses it with 403 exactly as SCRIPT_FILENAME does, logs it,
// and never compiles it, also when the link changes after the start.
func TestSymlinks(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	real := filepath.Join(base, "apps")
	out := filepath.Join(base, "outside")
	root := filepath.Join(base, "www", "alice")
	write(t, filepath.Join(real, "hello.js"), "hello js")
	write(t, filepath.Join(out, "evil.js"), "evil")
	write(t, filepath.Join(out, "dir", "index.js"), "evil folder")
	write(t, filepath.Join(root, "page.js"), "alice page")
	write(t, filepath.Join(root, "dir", "index.js"), "alice folder")
	write(t, filepath.Join(real, "half", "lib.js"), "lib")
	links := map[string]string{
		"link.js":       filepath.Join(out, "evil.js"),   // a file app linked out
		"dirlink":       filepath.Join(out, "dir"),       // a folder app linked out
		"half/index.js": filepath.Join(out, "evil.js"),   // index.js of a folder app linked out
		"same.js":       filepath.Join(real, "hello.js"), // inside the apps dir
		"rootlink.js":   filepath.Join(root, "page.js"),  // into a root
		"rootdir":       filepath.Join(root, "dir"),      // a folder into a root
		"flip.js":       filepath.Join(real, "hello.js"), // re-pointed out below
		"relative.js":   filepath.Join("..", "outside", "evil.js"),
		"dangling.js":   filepath.Join(out, "nothing.js"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(real, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The apps dir itself is a symlink: it keeps working.
	appsLink := filepath.Join(base, "apps-link")
	os.Symlink(real, appsLink)
	var logs bytes.Buffer
	r, err := New(Options{AppsDir: appsLink, Roots: []string{filepath.Join(base, "www", "*")},
		Engines: []script.Engine{fakeEngine{".js"}, fakeEngine{".lua"}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })

	status := func(params map[string]string) (string, int) {
		a, _, err := r.Resolve(params)
		var re *ResolveError
		switch {
		case err == nil:
			return a.Name, 200
		case errors.As(err, &re):
			return re.Msg, re.Status
		}
		return err.Error(), 0
	}
	for _, c := range []struct {
		path string
		app  string // "" = refused
	}{
		{"/hello", "hello"},
		{"/link", ""}, {"/link.js", ""}, {"/link/x", ""},
		{"/dirlink", ""}, {"/dirlink/x", ""},
		{"/half", ""},
		{"/relative", ""},
		{"/same", "same"},
		{"/rootlink", "rootlink"},
		{"/rootdir", "rootdir"},
		{"/flip", "flip"},
	} {
		got, code := status(map[string]string{"SCRIPT_NAME": c.path})
		switch {
		case c.app == "" && code != 403:
			t.Errorf("path %s: %d %s, want 403", c.path, code, got)
		case c.app != "" && (code != 200 || got != c.app):
			t.Errorf("path %s: %d %s, want app %s", c.path, code, got, c.app)
		}
	}
	// The same files by SCRIPT_FILENAME: refused alike.
	for _, f := range []string{"link.js", "dirlink/index.js", "half/index.js", "relative.js"} {
		if got, code := status(map[string]string{"SCRIPT_FILENAME": filepath.Join(real, f)}); code != 403 {
			t.Errorf("SCRIPT_FILENAME %s: %d %s, want 403", f, code, got)
		}
	}
	if got, code := status(map[string]string{"SCRIPT_NAME": "/dangling"}); code != 404 {
		t.Errorf("dangling link: %d %s, want 404", code, got)
	}
	for _, name := range []string{"link", "dirlink", "half", "relative"} {
		if !strings.Contains(logs.String(), `msg="app refused: its file or folder is a symlink out of the apps dir" app=`+name+" ") {
			t.Errorf("no log line for %s:\n%s", name, logs.String())
		}
	}
	for _, a := range r.Apps() {
		if code := a.Status(); strings.Contains(a.Entry, "outside") || a.Name == "link" || a.Name == "dirlink" || a.Name == "half" {
			t.Errorf("app %s (%s) registered: %+v", a.Name, a.Entry, code)
		}
	}

	// Re-pointed out after the start: a direct reload (the watcher's
	// path for a file an app uses) refuses to compile it and keeps the
	// old version; the rescan refuses the name.
	flip := r.App("flip")
	v1 := flip.Status().Version
	os.Remove(filepath.Join(real, "flip.js"))
	os.Symlink(filepath.Join(out, "evil.js"), filepath.Join(real, "flip.js"))
	flip.Reload()
	if st := flip.Status(); st.Version != v1 || st.LastError == nil || !strings.Contains(st.LastError.Error(), "outside the apps dir") {
		t.Errorf("flip after re-pointing: version %s (was %s), error %v", st.Version, v1, st.LastError)
	}
	r.Changed([]string{filepath.Join(real, "flip.js")})
	if got, code := status(map[string]string{"SCRIPT_NAME": "/flip"}); code != 403 {
		t.Errorf("flip after rescan: %d %s, want 403", code, got)
	}
	// And back inside: served again.
	os.Remove(filepath.Join(real, "flip.js"))
	os.Symlink(filepath.Join(real, "hello.js"), filepath.Join(real, "flip.js"))
	r.Changed([]string{filepath.Join(real, "flip.js")})
	if got, code := status(map[string]string{"SCRIPT_NAME": "/flip"}); code != 200 {
		t.Errorf("flip pointed back: %d %s", code, got)
	}
}
