package host

import "testing"

func TestBasePath(t *testing.T) {
	for _, tc := range []struct {
		params  map[string]string
		appPath string
		want    string
	}{
		{map[string]string{"SCRIPT_NAME": "/blog/post/1"}, "/post/1", "/blog"},
		{map[string]string{"SCRIPT_NAME": "/blog/"}, "/", "/blog"},
		{map[string]string{"SCRIPT_NAME": "/blog"}, "/", "/blog"},
		{map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/blog/x"}, "/x", "/app/blog"},
		{map[string]string{"SCRIPT_NAME": "/app/env.js", "PATH_INFO": "/a/b"}, "/a/b", "/app/env.js"},
		{map[string]string{"REQUEST_URI": "/"}, "/", ""},
		{map[string]string{"REQUEST_URI": "/hello.lua?x=1"}, "/", "/hello.lua"},
		{map[string]string{"SCRIPT_NAME": "/env.js", "PATH_INFO": "/a", "SCRIPT_FILENAME": "/srv/env.js"}, "/a", "/env.js"},
		{map[string]string{"SCRIPT_NAME": "/x/../y"}, "/", ""},
	} {
		if got := BasePath(tc.params, tc.appPath); got != tc.want {
			t.Errorf("BasePath(%v, %q) = %q, want %q", tc.params, tc.appPath, got, tc.want)
		}
	}
}
