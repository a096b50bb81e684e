package fcgi

import (
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
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

// FuzzCGIHead checks parseCGIHead against the simpler implementation it
// replaced (one string per name and value, strings.Fields for Status),
// which is kept here as the reference.
func FuzzCGIHead(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain\r\n", "Status: 404 Not Found\nX-A: 1\nX-A: 2\n",
		"HTTP/1.1 201 Created\r\nLocation: /x\r\n", "Location: /y\n", "X-A: 1\n  more\n",
		"variable-Foo: bar\n", "Status:\v500\f\n", "HTTP/1.0\t302\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		st, h, err := parseCGIHead(head)
		rst, rh, rerr := parseCGIHeadRef(head)
		if (err == nil) != (rerr == nil) || st != rst || !reflect.DeepEqual(h, rh) {
			t.Fatalf("%q:\n got %d %v %v\nwant %d %v %v", head, st, h, err, rst, rh, rerr)
		}
	})
}

func parseCGIHeadRef(head []byte) (int, http.Header, error) {
	h := make(http.Header)
	status := 0
	var last string
	for len(head) > 0 {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return 0, nil, serverBroke("CGI header continuation line without a header: %q", line)
			}
			vs := h[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(string(line))
			continue
		}
		if status == 0 && bytes.HasPrefix(line, []byte("HTTP/")) {
			// An NPH-style status line.
			f := strings.Fields(string(line))
			if len(f) < 2 {
				return 0, nil, serverBroke("malformed status line %q", line)
			}
			code, err := parseStatus(f[1])
			if err != nil {
				return 0, nil, err
			}
			status = code
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return 0, nil, serverBroke("malformed CGI header line %q", line)
		}
		raw := string(bytes.TrimSpace(line[:i]))
		name := textproto.CanonicalMIMEHeaderKey(raw)
		if strings.HasPrefix(name, "Variable-") {
			// An Authorizer's Variable-NAME: NAME becomes an environment
			// variable, whose case matters.
			name = "Variable-" + raw[len("Variable-"):]
		}
		value := strings.TrimSpace(string(line[i+1:]))
		if name == "Status" {
			f := strings.Fields(value)
			if len(f) == 0 {
				return 0, nil, serverBroke("empty Status header")
			}
			code, err := parseStatus(f[0])
			if err != nil {
				return 0, nil, err
			}
			status = code
			last = ""
			continue
		}
		h[name] = append(h[name], value)
		last = name
	}
	if status == 0 {
		status = http.StatusOK
		if h.Get("Location") != "" {
			status = http.StatusFound
		}
	}
	return status, h, nil
}
