package lua

import (
	"github.com/fcgihost/fcgihost/sandbox"
	"strings"
	"testing"
)

// TestGround checks the Lua ground built-ins against known results (the
// utf8 cases are those of Lua 5.3's manual and test suite).
func TestGround(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`#crypto.random_bytes(16)`, "16"},
		{`#crypto.random_bytes(0)`, "0"},
		{`crypto.random_bytes(8) ~= crypto.random_bytes(8)`, "true"},
		{`(crypto.random_uuid():match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil)`, "true"},
		{`url.encode("a b&c=d/é~*'()!-_.")`, "a%20b%26c%3Dd%2F%C3%A9~*'()!-_."},
		{`url.decode("a%20b+c%C3%A9")`, "a b+cé"},
		{`select(2, pcall(url.decode, "%zz"))`, "~url.decode: bad escape at byte 1"},
		{`(function() local u = url.parse("https://h.example:8443/p%20q?x=1#f") return u.scheme..'|'..u.host..'|'..u.port..'|'..u.path..'|'..u.query..'|'..u.fragment end)()`,
			"https|h.example|8443|/p%20q|x=1|f"},
		{`tostring(url.parse("/a?b").host)`, "nil"},
		{`url.parse("../c?x", "HTTP://H.example:80/a/b").href`, "http://h.example/c?x"},
		{`url.parse("http://xn--nxasmq6b.example/x\\y/../b").href`, "http://xn--nxasmq6b.example/x/b"},
		{`tostring(url.parse("https://h:443/").port)`, "nil"},
		{`html.escape([[<a href="x">'&'</a>]])`, "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"},
		{`utf8.char(72, 228, 8364, 128512)`, "Hä€😀"},
		{`utf8.charpattern`, "[\x00-\x7F\xC2-\xF4][\x80-\xBF]*"},
		{`table.concat({utf8.codepoint("Hä€", 1, -1)}, ",")`, "72,228,8364"},
		{`utf8.codepoint("Hä€", 2)`, "228"},
		{`utf8.len("Hä€😀")`, "4"},
		{`utf8.len("Hä€", 3)`, "nil"}, // from a continuation byte
		{`table.concat({tostring(utf8.len("a\255b"))}, ",") .. "," .. select(2, utf8.len("a\255b"))`, "nil,2"},
		{`utf8.offset("Hä€x", 3)`, "4"},
		{`utf8.offset("Hä€x", -1)`, "7"},
		{`utf8.offset("Hä€x", 0, 3)`, "2"},
		{`tostring(utf8.offset("abc", 5))`, "nil"},
		{`(function() local t = {} for p, c in utf8.codes("aä€") do t[#t+1] = p..":"..c end return table.concat(t, " ") end)()`,
			"1:97 2:228 4:8364"},
		{`select(2, pcall(function() for _ in utf8.codes("a\255") do end end))`, "~invalid UTF-8 code"},
		{`select(2, pcall(utf8.codepoint, "\237\160\128"))`, "~invalid UTF-8 code"},
		{`(("héllo"):gsub(utf8.charpattern, "."))`, "....."},
	}
	for _, tt := range tests {
		s, err := run(t, "return function(req, res) res:write(tostring("+tt.expr+")) end")
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		got := s.body.String()
		if sub, ok := strings.CutPrefix(tt.want, "~"); ok && strings.Contains(got, sub) || got == tt.want {
			continue
		}
		t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
	}
}

// TestGround_Hostile: each ground built-in stays inside its bound (a
// script error, not a huge allocation or a crash).
func TestGround_Hostile(t *testing.T) {
	tests := []struct{ code, want string }{
		{`crypto.random_bytes(65537)`, "at most 65536"},
		{`crypto.random_bytes(1e300)`, "at most 65536"},
		{`crypto.random_bytes(-1)`, "whole number"},
		{`crypto.random_bytes(0/0)`, "whole number"},
		{`url.encode(string.rep(" ", 2^20))`, "exceeds the limit"},
		{`html.escape(string.rep("&", 2^20))`, "exceeds the limit"},
		{`utf8.codepoint(string.rep("a", 2^20), 1, -1)`, "string slice too long"},
		{`utf8.char(0x110000)`, "value out of range"},
		{`utf8.char(-1)`, "value out of range"},
		{`utf8.len("abc", 5)`, "initial position out of string"},
		{`utf8.offset("\164", 1)`, "continuation byte"},
		{`url.parse("http://[::1")`, "url.parse"},
	}
	for _, tt := range tests {
		_, err := runLimited(t, "return function(req, res) res:write("+tt.code+") end")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.code, err, tt.want)
		}
	}
}

// runLimited serves one GET / with MaxStringSize at 1 MiB.
func runLimited(t *testing.T, code string) (*sink, error) {
	t.Helper()
	a := newApp(t, code, nil, withLimits(sandbox.Limits{MaxStringSize: 1 << 20}))
	return serve(t, a.vm(t), request("GET", "/", "", nil))
}
