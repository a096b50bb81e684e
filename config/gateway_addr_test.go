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
	for _, bad := range []string{"scgi:", "uwsgi:nope", "scgi:unix:", "http:127.0.0.1:1"} {
		if checkGatewayAddr(bad) == nil {
			t.Errorf("listen %q accepted", bad)
		}
	}
	for _, good := range []string{"scgi:127.0.0.1:4000", "uwsgi:unix:/x.sock", "fcgi:[::1]:9000"} {
		if err := checkGatewayAddr(good); err != nil {
			t.Errorf("listen %q refused: %v", good, err)
		}
	}
	// A pool's sockets are FastCGI only.
	if checkAddr("scgi:127.0.0.1:4000") == nil {
		t.Error("a pool listen accepts scgi:")
	}
}
