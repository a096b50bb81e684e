// This file holds what the deployment tests share: rendering a config of
// docs/deploy with its {{PLACEHOLDERS}}, directories and files the web
// server's worker user (www-data) can reach, and a front end started from
// its own full config file, in its own session, stopped by PID.

package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DeployDir is the folder of the deployment configs (docs/deploy).
func DeployDir() string { return filepath.Join(RepoRoot(), "docs", "deploy") }

var placeholder = regexp.MustCompile(`\{\{[A-Z_]+\}\}`)

// Render returns docs/deploy/NAME with every {{KEY}} replaced by vars[KEY].
// A placeholder left without a value fails the test: the configs are used
// verbatim, templated only for paths and ports.
func Render(t testing.TB, name string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(DeployDir(), name))
	if err != nil {
		t.Fatalf("read deployment config: %v", err)
	}
	out := placeholder.ReplaceAllStringFunc(string(b), func(m string) string {
		if v, ok := vars[strings.Trim(m, "{}")]; ok {
			return v
		}
		return m
	})
	if left := placeholder.FindAllString(out, -1); len(left) > 0 {
		t.Fatalf("%s: no value for %v", name, left)
	}
	return out
}

// OpenDir returns a new temp dir that the web server's worker user
// (www-data) can enter and read: the dir and its parent (t.TempDir makes
// the parent 0700) get mode 0755.
func OpenDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	Open(t, dir)
	return dir
}

// Open gives path and its parent directories up to the system temp dir
// mode 0755 (files 0644 are left alone), so another user can reach it.
func Open(t testing.TB, path string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for p := filepath.Clean(path); p != tmp && p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
			break
		}
	}
}

// PublicBinary is the fcgihost binary, made executable by other users (a
// web server that spawns it runs it as www-data).
func PublicBinary(t testing.TB) string {
	t.Helper()
	bin := Binary(t)
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// CopyDir copies the files of src into dst (created), directories 0755
// and files 0644, so that www-data can read them.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// WriteFile writes content to path with mode, failing the test on error.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// FrontEnd is a web server started from a full config file.
type FrontEnd struct {
	*Proc
	Name     string
	Dir      string
	Port     int
	URL      string // http://127.0.0.1:PORT
	errorLog string
}

// ErrorLog is the server's error log so far.
func (f *FrontEnd) ErrorLog() string {
	b, _ := os.ReadFile(f.errorLog)
	return string(b)
}

// StartFrontEnd runs program (looked up with Need) with args in dir, in a
// session of its own, waits until it listens on 127.0.0.1:port, and at
// cleanup stops it with SIGTERM (so it stops what it spawned), then kills
// its process group. errorLog is the file the server logs errors to; it is
// shown when the test fails.
func StartFrontEnd(t testing.TB, name, program, dir string, port int, errorLog string, env []string, args ...string) *FrontEnd {
	t.Helper()
	bin := Need(t, program)
	p := Start(t, dir, env, bin, args...)
	f := &FrontEnd{Proc: p, Name: name, Dir: dir, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port), errorLog: errorLog}
	t.Cleanup(func() {
		if p.Cmd.ProcessState == nil {
			p.Signal(syscall.SIGTERM)
			if p.Wait(15*time.Second) < 0 {
				t.Logf("%s did not stop on SIGTERM within 15s; killed", name)
			}
		}
		if t.Failed() {
			t.Logf("%s error log:\n%s", name, Tail(f.ErrorLog(), 4000))
		}
	})
	WaitDial(t, fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second, p)
	return f
}

// StartApache writes conf (a full httpd config) to DIR/httpd.conf and runs
// "apache2 -f DIR/httpd.conf -DFOREGROUND". The config must log errors to
// DIR/error.log.
func StartApache(t testing.TB, dir string, port int, conf string) *FrontEnd {
	t.Helper()
	Need(t, "apache2")
	cf := filepath.Join(dir, "httpd.conf")
	WriteFile(t, cf, conf, 0o644)
	if out, err := exec.Command(Need(t, "apache2"), "-t", "-f", cf).CombinedOutput(); err != nil {
		t.Fatalf("apache2 -t: %v\n%s", err, out)
	}
	return StartFrontEnd(t, "apache2", "apache2", dir, port, filepath.Join(dir, "error.log"), nil, "-f", cf, "-DFOREGROUND")
}

// StartLighttpd writes conf to DIR/lighttpd.conf and runs "lighttpd -D -f
// DIR/lighttpd.conf". The config must log errors to DIR/error.log.
func StartLighttpd(t testing.TB, dir string, port int, conf string) *FrontEnd {
	t.Helper()
	bin := Need(t, "lighttpd")
	cf := filepath.Join(dir, "lighttpd.conf")
	WriteFile(t, cf, conf, 0o644)
	if out, err := exec.Command(bin, "-tt", "-f", cf).CombinedOutput(); err != nil {
		t.Fatalf("lighttpd -tt: %v\n%s", err, out)
	}
	return StartFrontEnd(t, "lighttpd", "lighttpd", dir, port, filepath.Join(dir, "error.log"), nil, "-D", "-f", cf)
}

// StartCaddy writes conf to DIR/Caddyfile and runs "caddy run" with HOME
// and the XDG dirs in DIR. The config must log to DIR/error.log.
func StartCaddy(t testing.TB, dir string, port int, conf string) *FrontEnd {
	t.Helper()
	cf := filepath.Join(dir, "Caddyfile")
	WriteFile(t, cf, conf, 0o644)
	env := []string{"HOME=" + filepath.Join(dir, "home"), "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	return StartFrontEnd(t, "caddy", "caddy", dir, port, filepath.Join(dir, "error.log"), env, "run", "--config", cf, "--adapter", "caddyfile")
}

// StartNginxConf writes conf (a full nginx.conf) to DIR/nginx.conf and runs
// "nginx -p DIR -c DIR/nginx.conf -e DIR/error.log".
func StartNginxConf(t testing.TB, dir string, port int, conf string) *FrontEnd {
	t.Helper()
	bin := Need(t, "nginx")
	cf := filepath.Join(dir, "nginx.conf")
	WriteFile(t, cf, conf, 0o644)
	el := filepath.Join(dir, "error.log")
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", cf, "-e", el).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	return StartFrontEnd(t, "nginx", "nginx", dir, port, el, nil, "-p", dir, "-c", cf, "-e", el)
}
