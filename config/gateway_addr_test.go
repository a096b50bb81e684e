package config

import "testing"

func TestSplitProto(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:9000":         {"fcgi", "127.0.0.1:9000"},
		"fcgi:127.0.0.1:9000":    {"fcgi", "127.0.0.1:9000"},
		"scgi:[::1]:4000":        {"scgi", "[::1]:4000"},
		"uwsgi:unix:/run/u.sock": {"uwsgi", "unix:/run/u.sock"},
		"unix:/run/f.sock":       {"fcgi", "unix:/run/f.sock"},
	} {
		p, a := SplitProto(in)
		if p != want[0] || a != want[1] {
			t.Errorf("SplitProto(%q) = %q, %q; want %q, %q", in, p, a, want[0], want[1])
		}
	}
	for _, bad := range []string{"scgi:", "uwsgi:nope", "scgi:unix:", "http:127.0.0.1:1", "scgi:fd:", "fd:1", "uwsgi:fd:2", "fd:-1", "fd:x", "fd:3x"} {
		if checkGatewayAddr(bad) == nil {
			t.Errorf("listen %q accepted", bad)
		}
	}
	for _, good := range []string{"scgi:127.0.0.1:4000", "uwsgi:unix:/x.sock", "fcgi:[::1]:9000", "scgi:fd:0", "uwsgi:fd:0", "fd:0", "fcgi:fd:3", "uwsgi:fd:4"} {
		if err := checkGatewayAddr(good); err != nil {
			t.Errorf("listen %q refused: %v", good, err)
		}
	}
	for in, want := range map[string]int{"fd:0": 0, "fd:3": 3, "fd:17": 17} {
		if n, ok, err := ParseFD(in); !ok || err != nil || n != want {
			t.Errorf("ParseFD(%q) = %d, %v, %v; want %d", in, n, ok, err, want)
		}
	}
	if _, ok, err := ParseFD("127.0.0.1:9000"); ok || err != nil {
		t.Errorf("ParseFD of a TCP address: %v, %v", ok, err)
	}
	// A pool's sockets are FastCGI only, and opened by fcgihost.
	if checkPoolAddr("fd:0") == nil {
		t.Error("a pool listen accepts fd:0")
	}
	if checkAddr("scgi:127.0.0.1:4000") == nil {
		t.Error("a pool listen accepts scgi:")
	}
}
