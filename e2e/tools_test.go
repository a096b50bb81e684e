package e2e

// This file tests the debugging tools of the binary (docs/reference.md §1):
// "fcgihost check" and "fcgihost request".

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// runBin runs the fcgihost binary and returns stdout, stderr and the exit
// code.
func runBin(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "FCGIHOST_CONFIG="}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"apps/good.lua":          "return function() return 'ok' end\n",
		"apps/good.js":           "module.exports = () => 'ok';\n",
		"apps/badjs.js":          "module.exports = function (req, res) {\n  let x = ;\n};\n",
		"apps/badlua.lua":        "return function(req, res)\n  local x = = 1\nend\n",
		"apps/folder/index.js":   "module.exports = require('./lib/m');\n",
		"apps/folder/lib/m.js":   "module.exports = function () {\n  return 1 +;\n};\n",
		"apps/folder/README.txt": "not a script\n",
	}
	for name, content := range files {
		testutil.WriteFile(t, filepath.Join(dir, name), content, 0o644)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^apps/badjs\.js:2:\d+: .+`),
		regexp.MustCompile(`^apps/badlua\.lua:2:\d+: .+`),
		regexp.MustCompile(`^apps/folder/lib/m\.js:2:\d+: .+`),
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []*regexp.Regexp
	}{
		{"default ./apps", []string{"check"}, 1, want},
		{"named dir", []string{"check", "apps"}, 1, want},
		{"good files only", []string{"check", "apps/good.lua", "apps/good.js"}, 0, nil},
		{"one bad file", []string{"check", "apps/badlua.lua"}, 1, want[1:2]},
		{"missing path", []string{"check", "nope"}, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runBin(t, dir, "", tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if out == "" {
				lines = nil
			}
			if len(lines) != len(tc.wantOut) {
				t.Fatalf("%d error lines, want %d:\n%s", len(lines), len(tc.wantOut), out)
			}
			for i, re := range tc.wantOut {
				if !re.MatchString(lines[i]) {
					t.Errorf("line %d = %q, want %s", i, lines[i], re)
				}
			}
		})
	}
}

func TestRequest(t *testing.T) {
	t.Parallel()
	apps := frontApps(t)
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: "workers = 1\n"})
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "body.txt"), "from a file", 0o644)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{"GET with query", []string{"/env.lua/a/b?x=1"}, "", 0,
			[]string{`"method":"GET"`, `"path":"/a/b"`, `"x":"1"`, `"script_name":"/env.lua/a/b"`}, ""},
		{"-i prints status and headers", []string{"-i", "/env.js/"}, "", 0,
			[]string{"HTTP/1.1 200 OK\r\n", "X-Engine: js\r\n", "\r\n\r\n{"}, ""},
		{"-d posts the data", []string{"-d", "a=1&b=2", "/env.js/p"}, "", 0,
			[]string{`"method":"POST"`, `"body":"a=1&b=2"`}, ""},
		{"-d @FILE", []string{"-d", "@body.txt", "/env.lua/p"}, "", 0, []string{`"body":"from a file"`}, ""},
		{"-d @- reads stdin", []string{"-X", "PUT", "-d", "@-", "/env.lua/p"}, "from stdin", 0,
			[]string{`"method":"PUT"`, `"body":"from stdin"`}, ""},
		{"--param", []string{"--param", "REMOTE_USER=carol", "/env.lua/"}, "", 0, []string{`"remote_user":"carol"`}, ""},
		{"--root sets SCRIPT_FILENAME and splits PATH_INFO", []string{"--root", apps, "/env.lua/a/b"}, "", 0,
			[]string{`"script_filename":"` + filepath.Join(apps, "env.lua") + `"`, `"script_name":"/env.lua"`, `"path_info":"/a/b"`, `"path":"/a/b"`}, ""},
		{"script error: 500, stderr record shown", []string{"-i", "/env.lua/throw?token=tok42"}, "", 0,
			[]string{"HTTP/1.1 500 Internal Server Error"}, "deliberate failure tok42"},
		{"-f fails on 404", []string{"-f", "/nope"}, "", 22, []string{"Not Found"}, "status 404"},
		{"--authorizer", []string{"--authorizer", "-i", "/env.lua/x"}, "", 0, []string{`"role":"AUTHORIZER"`}, ""},
		{"nothing listening", []string{"--connect", "unix:" + filepath.Join(dir, "none.sock"), "/env.lua/"}, "", 1, nil, "request to unix:"},
		{"bad header", []string{"-H", "NoColon", "/env.lua/"}, "", 2, nil, "bad header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"request"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--connect") {
				args = append([]string{"request", "--connect", h.FCGI}, tc.args...)
			}
			out, errOut, code := runBin(t, dir, tc.stdin, args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errOut)
			}
		})
	}
}
