package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cgiMain is a Main whose environment is env and whose stdin is body.
func cgiMain(env map[string]string, body string) (*Main, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	m := &Main{
		Stdin: strings.NewReader(body), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		Environ: func() []string {
			var l []string
			for k, v := range env {
				l = append(l, k+"="+v)
			}
			return l
		},
	}
	return m, &out, &errb
}

func writeScript(t *testing.T, name, code string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCGI(t *testing.T) {
	handlerJS := "module.exports = function (req, res) {\n" +
		"  res.header('X-Path', req.path);\n" +
		"  return req.method + ' ' + (req.query.q || '') + ' ' + req.body;\n};\n"
	cgiLua := "#!/usr/bin/fcgihost\n" +
		"local body = io.read('a')\n" +
		"print('Status: 201 Created')\nprint('Content-Type: text/plain')\nprint('')\n" +
		"io.write(os.getenv('REQUEST_METHOD'), ' ', os.getenv('QUERY_STRING'), ' ', body)\n"
	tests := []struct {
		name, file, code string
		env              map[string]string
		body             string
		wantHead         []string
		wantBody         string
		wantErr          bool
		wantStderr       string
	}{
		{"handler under CGI", "h.js", handlerJS,
			map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "QUERY_STRING": "q=1",
				"PATH_INFO": "/a/b", "CONTENT_LENGTH": "4"}, "data",
			[]string{"Status: 200 OK", "X-Path: /a/b"}, "POST 1 data", false, ""},
		{"CGI style with #! line", "c.lua", cgiLua,
			map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "PUT", "QUERY_STRING": "x=2",
				"CONTENT_LENGTH": "3"}, "abcEXTRA",
			[]string{"Status: 201 Created", "Content-Type: text/plain"}, "PUT x=2 abc", false, ""},
		{"by hand: GET / without a CGI environment", "h.js", handlerJS, map[string]string{}, "",
			[]string{"Status: 200 OK", "X-Path: /"}, "GET  ", false, ""},
		{"compile error: 500 and file:line on stderr", "bad.lua", "return function(\n  x = = 1\nend\n", map[string]string{}, "",
			[]string{"Status: 500 Internal Server Error"}, "internal server error\n", true, "bad.lua:2"},
		{"not a script", "notes.txt", "hello\n", map[string]string{}, "",
			[]string{"Status: 500 Internal Server Error"}, "internal server error\n", true, "not a .js or .lua file"},
		{"body over max_body: 413", "h.js", handlerJS,
			map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "999999999999"}, "",
			[]string{"Status: 413 Request Entity Too Large"}, "request body too large\n", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeScript(t, tc.file, tc.code)
			m, out, errb := cgiMain(tc.env, tc.body)
			err := m.Run(context.Background(), []string{"run", file})
			var ee *exitError
			if tc.wantErr != (err != nil) || err != nil && !errors.As(err, &ee) {
				t.Fatalf("err = %v, want error %v\nstderr: %s", err, tc.wantErr, errb)
			}
			head, body, ok := strings.Cut(out.String(), "\r\n\r\n")
			if !ok {
				t.Fatalf("no CGI header block in %q", out)
			}
			for _, h := range tc.wantHead {
				if !strings.Contains(head+"\r\n", h+"\r\n") {
					t.Errorf("head lacks %q:\n%s", h, head)
				}
			}
			if body != tc.wantBody {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			if !strings.Contains(errb.String(), tc.wantStderr) {
				t.Errorf("stderr lacks %q: %s", tc.wantStderr, errb)
			}
		})
	}
}

// TestRunFileDispatch: "fcgihost FILE" is CGI mode when fd 0 is not a
// listening socket (the test's stdin is not one).
func TestRunFileDispatch(t *testing.T) {
	file := writeScript(t, "h.lua", "return function() return 'hi' end\n")
	m, out, _ := cgiMain(map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET"}, "")
	if err := m.Run(context.Background(), []string{file}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "\r\n\r\nhi") {
		t.Fatalf("output %q", out)
	}
}

// TestRunCGIHostile: in CGI mode too a script's error reaches stderr (the
// web server's error log) as one line with its control characters escaped,
// and the headers that order the web server to serve something else never
// reach it.
func TestRunCGIHostile(t *testing.T) {
	env := map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET"}
	file := writeScript(t, "boom.js", `module.exports = function () { throw new Error("boom\r[crit] forged \u001b[2J\nline two"); };`)
	m, out, errb := cgiMain(env, "")
	if err := m.Run(context.Background(), []string{"run", file}); err == nil {
		t.Fatal("no error")
	}
	if !strings.HasPrefix(out.String(), "Status: 500") {
		t.Errorf("stdout %q", out)
	}
	line := errb.String()
	if strings.Count(line, "\n") != 1 || strings.ContainsAny(strings.TrimSuffix(line, "\n"), "\r\n\x1b") || !strings.Contains(line, `boom\r[crit] forged \x1b[2J`) {
		t.Errorf("stderr %q", line)
	}

	file = writeScript(t, "x.lua", `print("Content-Type: text/plain")
print("X-Sendfile: /etc/passwd")
print("X-Accel-Redirect: /internal/x")
print("")
print("body")`)
	m, out, errb = cgiMain(env, "")
	if err := m.Run(context.Background(), []string{"run", file}); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(out.String(), "\r\n\r\n")
	if strings.Contains(strings.ToLower(head), "x-sendfile") || strings.Contains(strings.ToLower(head), "x-accel") {
		t.Errorf("head %q", head)
	}
	if !strings.Contains(errb.String(), "dropped a response header the script may not send") {
		t.Errorf("no log line: %s", errb)
	}
}

// The master names the apps of an apps dir as the registry does: a folder
// app by its folder, NAME.js as NAME and a NAME.lua beside it by its file
// name (the master prints them, and a pool's default workers serve the
// apps no pool claims by these names).
func TestListAppsNamesAsTheRegistry(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"hello.js", "hello.lua", "solo.lua", "site/index.js", "empty/readme.txt", ".hidden.js", "notes.txt"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(listApps(dir), " ")
	if want := "hello hello.lua site solo"; got != want {
		t.Errorf("listApps = %q, want %q", got, want)
	}
}
