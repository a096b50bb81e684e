package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// fakeEngine compiles anything; a file containing "SYNTAX" fails.
type fakeEngine struct{ ext string }

func (e fakeEngine) Name() string         { return strings.TrimPrefix(e.ext, ".") }
func (e fakeEngine) Extensions() []string { return []string{e.ext} }
func (e fakeEngine) Compile(src script.Source, o script.Options) (script.Bundle, error) {
	if strings.Contains(string(src.Code), "SYNTAX") {
		return nil, &script.ScriptError{App: src.App, File: src.Entry, Line: 1, Err: errors.New("syntax error")}
	}
	return fakeBundle{entry: src.Entry, code: string(src.Code)}, nil
}

type fakeBundle struct{ entry, code string }

func (b fakeBundle) Style() script.Style                      { return script.StyleHandler }
func (b fakeBundle) Files() []string                          { return []string{b.entry} }
func (b fakeBundle) NewVM(context.Context) (script.VM, error) { return fakeVM{b}, nil }

type fakeVM struct{ b fakeBundle }

func (v fakeVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	res.WriteString(v.b.code)
	return nil
}
func (v fakeVM) Healthy() bool { return true }
func (v fakeVM) Close()        {}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setup(t *testing.T) (*Registry, string, string) {
	t.Helper()
	base, _ := filepath.EvalSymlinks(t.TempDir())
	apps := filepath.Join(base, "apps")
	write(t, filepath.Join(apps, "hello.js"), "hello js")
	write(t, filepath.Join(apps, "lhello.lua"), "hello lua")
	write(t, filepath.Join(apps, "index.js"), "index")
	write(t, filepath.Join(apps, "blog", "index.lua"), "blog")
	write(t, filepath.Join(apps, "blog", "lib.lua"), "module")
	write(t, filepath.Join(apps, "broken.js"), "SYNTAX")
	write(t, filepath.Join(apps, "notes.txt"), "not an app")
	root := filepath.Join(base, "www", "alice", "public_html")
	write(t, filepath.Join(root, "page.js"), "alice page")
	write(t, filepath.Join(root, "upload.png"), "png")
	write(t, filepath.Join(base, "outside.js"), "outside")
	os.Symlink(filepath.Join(base, "outside.js"), filepath.Join(root, "link.js"))
	r, err := New(Options{AppsDir: apps, Roots: []string{filepath.Join(base, "www", "*", "public_html")},
		Engines: []script.Engine{fakeEngine{".js"}, fakeEngine{".lua"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r, apps, root
}

func TestResolve(t *testing.T) {
	r, apps, root := setup(t)
	tests := []struct {
		name     string
		params   map[string]string
		wantApp  string // "" = error expected
		wantPath string
		wantCode int
	}{
		{"path /hello", map[string]string{"SCRIPT_NAME": "/hello"}, "hello", "/", 0},
		{"path /hello/x/y", map[string]string{"SCRIPT_NAME": "/hello/x/y"}, "hello", "/x/y", 0},
		{"path with ext", map[string]string{"SCRIPT_NAME": "/hello.js", "PATH_INFO": "/p"}, "hello", "/p", 0},
		{"wrong ext", map[string]string{"SCRIPT_NAME": "/hello.lua"}, "", "", 404},
		{"lua app", map[string]string{"DOCUMENT_URI": "/lhello/a"}, "lhello", "/a", 0},
		{"folder app", map[string]string{"REQUEST_URI": "/blog/post/1?x=1"}, "blog", "/post/1", 0},
		{"root index", map[string]string{"REQUEST_URI": "/"}, "index", "/", 0},
		{"no app", map[string]string{"SCRIPT_NAME": "/nope"}, "", "", 404},
		{"txt not app", map[string]string{"SCRIPT_NAME": "/notes"}, "", "", 404},
		{"dotdot", map[string]string{"SCRIPT_NAME": "/hello/../blog"}, "", "", 400},
		{"encoded slash", map[string]string{"REQUEST_URI": "/hello%2Fx"}, "", "", 400},
		{"encoded slash with split", map[string]string{"REQUEST_URI": "/hello/a%2fb", "SCRIPT_NAME": "/hello/a/b"}, "", "", 400},
		{"encoded backslash after another escape", map[string]string{"REQUEST_URI": "/hello/%41%5Cx"}, "", "", 400},
		{"encoded NUL at the end", map[string]string{"REQUEST_URI": "/hello/x%00"}, "", "", 400},
		{"other escapes pass", map[string]string{"REQUEST_URI": "/hello/%41%2e"}, "hello", "/A.", 0},
		{"dotdot as the last segment", map[string]string{"SCRIPT_NAME": "/hello/x/.."}, "", "", 400},
		{"NUL", map[string]string{"SCRIPT_NAME": "/hello\x00"}, "", "", 400},
		{"prefix split by SCRIPT_NAME", map[string]string{"SCRIPT_NAME": "/apps/hello.js", "PATH_INFO": "/x"}, "hello", "/x", 0},
		{"prefix split by PATH_INFO", map[string]string{"SCRIPT_NAME": "/apps", "PATH_INFO": "/blog/x"}, "blog", "/x", 0},
		{"SCRIPT_FILENAME entry", map[string]string{"SCRIPT_FILENAME": filepath.Join(apps, "hello.js"), "PATH_INFO": "/pi"}, "hello", "/pi", 0},
		{"SCRIPT_FILENAME folder entry", map[string]string{"SCRIPT_FILENAME": filepath.Join(apps, "blog", "index.lua")}, "blog", "/", 0},
		{"SCRIPT_FILENAME proxy prefix", map[string]string{"SCRIPT_FILENAME": "proxy:fcgi://localhost" + filepath.Join(apps, "hello.js")}, "hello", "/", 0},
		{"mod_proxy_scgi target path", map[string]string{"SCRIPT_FILENAME": "proxy:scgi://127.0.0.1:4000/hello/x", "SCRIPT_NAME": "/s/hello/x"}, "hello", "/x", 0},
		{"mod_proxy_uwsgi target path", map[string]string{"SCRIPT_FILENAME": "proxy:uwsgi://127.0.0.1:4000/blog/p", "SCRIPT_NAME": "/u/blog/p", "REQUEST_URI": "/u/blog/p"}, "blog", "/p", 0},
		{"mod_proxy_scgi target root", map[string]string{"SCRIPT_FILENAME": "proxy:scgi://127.0.0.1:4000", "SCRIPT_NAME": "/s"}, "index", "/", 0},
		{"mod_proxy_scgi escaped target", map[string]string{"SCRIPT_FILENAME": "proxy:scgi://h:1/%68ello"}, "hello", "/", 0},
		{"mod_proxy_scgi file target", map[string]string{"SCRIPT_FILENAME": "proxy:scgi://h:1" + filepath.Join(apps, "hello.js"), "PATH_INFO": "/q"}, "hello", "/q", 0},
		{"mod_proxy_scgi target dotdot", map[string]string{"SCRIPT_FILENAME": "proxy:scgi://h:1/hello/../blog"}, "", "", 400},
		{"mod_proxy_uwsgi target encoded slash", map[string]string{"SCRIPT_FILENAME": "proxy:uwsgi://h:1/hello%2fx"}, "", "", 400},
		{"mod_proxy_scgi no app", map[string]string{"SCRIPT_FILENAME": "proxy:scgi://h:1/nope", "SCRIPT_NAME": "/hello"}, "", "", 404},
		{"SCRIPT_FILENAME module refused", map[string]string{"SCRIPT_FILENAME": filepath.Join(apps, "blog", "lib.lua")}, "", "", 403},
		{"SCRIPT_FILENAME txt in apps refused", map[string]string{"SCRIPT_FILENAME": filepath.Join(apps, "notes.txt")}, "", "", 403},
		{"SCRIPT_FILENAME dotdot resolved", map[string]string{"SCRIPT_FILENAME": filepath.Join(apps, "blog", "..", "hello.js")}, "hello", "/", 0},
		{"SCRIPT_FILENAME root script", map[string]string{"SCRIPT_FILENAME": filepath.Join(root, "page.js")}, filepath.Join(root, "page.js"), "/", 0},
		{"SCRIPT_FILENAME root png refused", map[string]string{"SCRIPT_FILENAME": filepath.Join(root, "upload.png")}, "", "", 403},
		{"SCRIPT_FILENAME symlink out refused", map[string]string{"SCRIPT_FILENAME": filepath.Join(root, "link.js")}, "", "", 403},
		{"SCRIPT_FILENAME outside refused", map[string]string{"SCRIPT_FILENAME": filepath.Join(filepath.Dir(apps), "outside.js")}, "", "", 403},
		{"SCRIPT_FILENAME etc passwd refused", map[string]string{"SCRIPT_FILENAME": "/etc/passwd"}, "", "", 403},
		{"fix_pathinfo hole", map[string]string{"SCRIPT_FILENAME": filepath.Join(root, "upload.png", "x.js"), "SCRIPT_NAME": "/upload.png/x.js"}, "", "", 404},
		{"missing SCRIPT_FILENAME falls back to path", map[string]string{"SCRIPT_FILENAME": "/var/www/html/hello", "SCRIPT_NAME": "/hello"}, "hello", "/", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, p, err := r.Resolve(tt.params)
			if tt.wantApp == "" {
				var re *ResolveError
				if !errors.As(err, &re) || re.Status != tt.wantCode {
					t.Fatalf("Resolve = %v, %q, %v; want error %d", a, p, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve error %v", err)
			}
			if a.Name != tt.wantApp || p != tt.wantPath {
				t.Fatalf("Resolve = %s %q, want %s %q", a.Name, p, tt.wantApp, tt.wantPath)
			}
		})
	}
}

func TestBrokenAppDoesNotStopOthers(t *testing.T) {
	r, apps, _ := setup(t)
	if _, err := r.App("broken").Pool(); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("broken app Pool() = %v, want ErrNoVersion", err)
	}
	if _, err := r.App("hello").Pool(); err != nil {
		t.Fatalf("hello: %v", err)
	}
	// Fix it: it loads.
	write(t, filepath.Join(apps, "broken.js"), "fixed")
	r.Changed([]string{filepath.Join(apps, "broken.js")})
	if _, err := r.App("broken").Pool(); err != nil {
		t.Fatalf("fixed app: %v", err)
	}
}

func TestReloadKeepsOldOnError(t *testing.T) {
	r, apps, _ := setup(t)
	a := r.App("hello")
	v1 := a.Status().Version
	write(t, filepath.Join(apps, "hello.js"), "SYNTAX now")
	r.Changed([]string{filepath.Join(apps, "hello.js")})
	st := a.Status()
	if st.Version != v1 || st.LastError == nil {
		t.Fatalf("after a bad edit: version %s (was %s), error %v", st.Version, v1, st.LastError)
	}
	write(t, filepath.Join(apps, "hello.js"), "hello v2")
	r.Changed([]string{filepath.Join(apps, "hello.js")})
	st = a.Status()
	if st.Version == v1 || st.LastError != nil || st.Reloads != 1 {
		t.Fatalf("after the fix: %+v", st)
	}
}

func TestAppAddedAndRemoved(t *testing.T) {
	r, apps, _ := setup(t)
	write(t, filepath.Join(apps, "fresh.lua"), "fresh")
	r.Changed([]string{filepath.Join(apps, "fresh.lua")})
	if a, _, err := r.Resolve(map[string]string{"SCRIPT_NAME": "/fresh"}); err != nil || a.Name != "fresh" {
		t.Fatalf("new app: %v %v", a, err)
	}
	os.Remove(filepath.Join(apps, "hello.js"))
	r.Changed([]string{filepath.Join(apps, "hello.js")})
	if _, _, err := r.Resolve(map[string]string{"SCRIPT_NAME": "/hello"}); err == nil {
		t.Fatal("removed app still resolves")
	}
}
