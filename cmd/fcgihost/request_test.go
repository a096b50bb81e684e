package main

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitScript(t *testing.T) {
	tests := []struct{ in, script, info string }{
		{"/env.js/a/b", "/env.js", "/a/b"},
		{"/env.lua/", "/env.lua", "/"},
		{"/dir/x.lua/y.js/z", "/dir/x.lua", "/y.js/z"},
		{"/env.js", "/env.js", ""},
		{"/hello/x", "/hello/x", ""},
		{"/a.json/x", "/a.json/x", ""},
		{"/", "/", ""},
	}
	for _, tc := range tests {
		s, i := splitScript(tc.in)
		if s != tc.script || i != tc.info {
			t.Errorf("splitScript(%q) = %q, %q; want %q, %q", tc.in, s, i, tc.script, tc.info)
		}
	}
}

func TestRequestParams(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		args []string
		path string
		want map[string]string
		body string
	}{
		{"GET", nil, "/hello?name=Ada",
			map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/hello?name=Ada", "QUERY_STRING": "name=Ada",
				"SCRIPT_NAME": "/hello", "CONTENT_LENGTH": "", "SCRIPT_FILENAME": "", "PATH_INFO": ""}, ""},
		{"path without slash", nil, "hello", map[string]string{"REQUEST_URI": "/hello", "SCRIPT_NAME": "/hello"}, ""},
		{"-d makes a POST", []string{"-d", "a=1"}, "/f",
			map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3", "CONTENT_TYPE": "application/x-www-form-urlencoded"}, "a=1"},
		{"-X and -H", []string{"-X", "DELETE", "-H", "X-Thing: yes", "-H", "Content-Type: text/plain"}, "/f",
			map[string]string{"REQUEST_METHOD": "DELETE", "HTTP_X_THING": "yes", "CONTENT_TYPE": "text/plain"}, ""},
		{"--root splits after the script", []string{"--root", root}, "/app.js/a/b?q=1",
			map[string]string{"DOCUMENT_ROOT": root, "SCRIPT_FILENAME": filepath.Join(root, "app.js"), "SCRIPT_NAME": "/app.js", "PATH_INFO": "/a/b"}, ""},
		{"--root without a script segment", []string{"--root", root}, "/hello/x",
			map[string]string{"SCRIPT_FILENAME": filepath.Join(root, "hello/x"), "SCRIPT_NAME": "/hello/x", "PATH_INFO": ""}, ""},
		{"--param wins", []string{"--param", "REMOTE_ADDR=10.0.0.9", "--param", "SCRIPT_NAME=/x"}, "/y",
			map[string]string{"REMOTE_ADDR": "10.0.0.9", "SCRIPT_NAME": "/x"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("request", flag.ContinueOnError)
			var rf requestFlags
			rf.bind(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			p, body, err := rf.build(tc.path, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if p[k] != v {
					t.Errorf("%s = %q, want %q", k, p[k], v)
				}
			}
			if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
	t.Run("bad input", func(t *testing.T) {
		for _, args := range [][]string{{"-H", "NoColon"}, {"--param", "NOEQUALS"}, {"-d", "@/nonexistent/file"}} {
			fs := flag.NewFlagSet("request", flag.ContinueOnError)
			var rf requestFlags
			rf.bind(fs)
			fs.Parse(args)
			if _, _, err := rf.build("/x", strings.NewReader("")); err == nil {
				t.Errorf("%v: no error", args)
			}
		}
	})
}
