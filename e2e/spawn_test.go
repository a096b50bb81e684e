package e2e

// This file checks the three ways fcgihost starts on a listening socket
// passed on fd 0 (docs/reference.md §1), with spawn-fcgi doing what mod_fcgid and
// lighttpd's bin-path do: "fcgihost" alone (scripts of the DOCUMENT_ROOT),
// "fcgihost serve --apps DIR", and "fcgihost FILE" (one script for every
// request, as an authorizer is run).

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

func TestSpawnOnFD0(t *testing.T) {
	t.Parallel()
	spawn := testutil.Need(t, "spawn-fcgi")
	bin := testutil.Binary(t)
	docroot := frontApps(t)
	auth := authScript(t, t.TempDir(), "lua", false)
	tests := []struct {
		name    string
		argv    []string
		params  map[string]string
		wantIn  []string
		wantOut []string // in the process's output (its log)
	}{
		{"no arguments: scripts under DOCUMENT_ROOT", []string{bin},
			map[string]string{"SCRIPT_FILENAME": filepath.Join(docroot, "env.lua"), "DOCUMENT_ROOT": docroot, "SCRIPT_NAME": "/env.lua", "PATH_INFO": "/a"},
			[]string{`"engine":"lua"`, `"path":"/a"`}, nil},
		{"no arguments: a script outside DOCUMENT_ROOT is refused", []string{bin},
			map[string]string{"SCRIPT_FILENAME": filepath.Join(docroot, "env.lua"), "DOCUMENT_ROOT": t.TempDir(), "SCRIPT_NAME": "/env.lua"},
			[]string{"Forbidden"}, []string{"is outside the apps dir and every root"}},
		{"serve --apps", []string{bin, "serve", "--apps", docroot},
			map[string]string{"SCRIPT_NAME": "/env.js/b"},
			[]string{`"engine":"js"`, `"path":"/b"`}, []string{`msg="FastCGI listening"`}},
		{"FILE serves that script for every request", []string{bin, auth},
			map[string]string{"SCRIPT_FILENAME": "/srv/www/private/secret.txt", "SCRIPT_NAME": "/private/secret.txt", "HTTP_X_TOKEN": "open-sesame"},
			[]string{"Variable-AUTH_VIA: auth.lua:token"}, []string{"fcgihost serving one script"}},
		{"FILE denies", []string{bin, auth},
			map[string]string{"SCRIPT_FILENAME": "/srv/www/private/secret.txt", "SCRIPT_NAME": "/private/secret.txt"},
			[]string{"denied by auth.lua"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "fd0.sock")
			p := testutil.Start(t, dir, []string{"FCGIHOST_CONFIG="}, spawn, append([]string{"-n", "-s", sock, "--"}, tc.argv...)...)
			testutil.WaitDial(t, "unix:"+sock, 15*time.Second, p)
			args := []string{"request", "--connect", "unix:" + sock, "-i"}
			for k, v := range tc.params {
				args = append(args, "--param", k+"="+v)
			}
			out, errOut, code := runBin(t, dir, "", append(args, "/")...)
			if code != 0 {
				t.Fatalf("request: exit %d\n%s%s", code, out, errOut)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(out, w) {
					t.Errorf("response lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantOut {
				testutil.Eventually(t, 5*time.Second, "log has "+w, func() bool { return strings.Contains(p.Output(), w) })
			}
		})
	}
}
