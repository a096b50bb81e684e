package fcgi

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func TestParseCGIHead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		head   string
		status int
		header http.Header
		bad    bool
	}{
		{"default 200", "Content-Type: text/plain\r\n", 200, http.Header{"Content-Type": {"text/plain"}}, false},
		{"status", "Status: 404 Not Found\r\nX-A: 1\r\n", 404, http.Header{"X-A": {"1"}}, false},
		{"status code only", "Status: 201\n", 201, http.Header{}, false},
		{"location", "Location: /x\n", 302, http.Header{"Location": {"/x"}}, false},
		{"location with status", "Status: 301 Moved\nLocation: http://a/\n", 301, http.Header{"Location": {"http://a/"}}, false},
		{"repeated and canonical", "set-cookie: a=1\nSet-Cookie: b=2\n", 200, http.Header{"Set-Cookie": {"a=1", "b=2"}}, false},
		{"continuation", "X-Long: a\n  b\n", 200, http.Header{"X-Long": {"a b"}}, false},
		{"authorizer variable keeps its case", "Variable-AUTH_via: x\nvariable-user: y\n", 200, http.Header{"Variable-AUTH_via": {"x"}, "Variable-user": {"y"}}, false},
		{"nph status line", "HTTP/1.1 418 Teapot\nX: y\n", 418, http.Header{"X": {"y"}}, false},
		{"bad status", "Status: abc\n", 0, nil, true},
		{"status out of range", "Status: 42\n", 0, nil, true},
		{"no colon", "garbage line\n", 0, nil, true},
		{"continuation first", " x\n", 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, err := parseCGIHead([]byte(tt.head))
			if tt.bad {
				var pe *ProtocolError
				if !errors.As(err, &pe) || pe.Side != "server" {
					t.Fatalf("want a ProtocolError by the server, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || !reflect.DeepEqual(h, tt.header) {
				t.Errorf("got %d %v, want %d %v", status, h, tt.status, tt.header)
			}
		})
	}
}

func TestHeadEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		end, sep int
	}{
		{"A: b\r\n\r\nbody", 6, 2},
		{"A: b\n\nbody", 5, 1},
		{"\r\nbody", 0, 2},
		{"\nbody", 0, 1},
		{"A: b\r\n", -1, 0},
		{"A: b\n\r\nx", 5, 2},
		{"", -1, 0},
	}
	for _, tt := range tests {
		end, sep := headEnd([]byte(tt.in))
		if end != tt.end || (end >= 0 && sep != tt.sep) {
			t.Errorf("%q: got %d,%d want %d,%d", tt.in, end, sep, tt.end, tt.sep)
		}
	}
}
