package builtin

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRandom(t *testing.T) {
	b, err := RandomBytes("r", 32)
	if err != nil || len(b) != 32 {
		t.Fatalf("RandomBytes(32) = %d bytes, %v", len(b), err)
	}
	c, _ := RandomBytes("r", 32)
	if string(b) == string(c) {
		t.Fatal("two random draws are equal")
	}
	for _, n := range []float64{-1, 1.5, math.NaN(), MaxRandomBytes + 1, math.Inf(1)} {
		if _, err := RandomBytes("r", n); err == nil {
			t.Errorf("RandomBytes(%v) did not fail", n)
		}
	}
	if _, err := RandomBytes("r", MaxRandomBytes+1); !errors.Is(err, ErrQuota) {
		t.Errorf("over the quota: %v, want ErrQuota", err)
	}
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if u := RandomUUID(); !re.MatchString(u) {
		t.Errorf("RandomUUID() = %q", u)
	}
}

func TestTTL(t *testing.T) {
	if d, err := TTL("kv.set", 1.5); err != nil || d != 1500*time.Millisecond {
		t.Errorf("TTL(1.5) = %v, %v", d, err)
	}
	if d, err := TTL("kv.set", MaxTTL.Seconds()); err != nil || d != MaxTTL {
		t.Errorf("TTL(max) = %v, %v", d, err)
	}
	for _, s := range []float64{1e10, 1e300, math.NaN(), -1, math.Inf(1)} {
		if d, err := TTL("kv.set", s); err == nil || !errors.Is(err, ErrArgument) {
			t.Errorf("TTL(%v) = %v, %v; want an argument error", s, d, err)
		}
	}
}

func TestURL(t *testing.T) {
	enc, err := URLEncode("u", "a b&c=d/é~*'()!-_.", 1<<20)
	if want := "a%20b%26c%3Dd%2F%C3%A9~*'()!-_."; err != nil || enc != want {
		t.Errorf("URLEncode = %q, %v; want %q", enc, err, want)
	}
	if _, err := URLEncode("u", strings.Repeat(" ", 100), 299); !errors.Is(err, ErrQuota) {
		t.Errorf("URLEncode over the limit: %v", err)
	}
	dec, err := URLDecode("u", "a%20b+c%C3%A9%2f")
	if err != nil || dec != "a b+cé/" {
		t.Errorf("URLDecode = %q, %v", dec, err)
	}
	for _, bad := range []string{"%", "%2", "%zz", "a%g1"} {
		if _, err := URLDecode("u", bad); err == nil {
			t.Errorf("URLDecode(%q) did not fail", bad)
		}
	}
	u, err := ParseURL("u", "HTTPS://bob@Example.COM:8443/a b/./c/../c?x=1&y=%20#frag", nil)
	if err != nil || u.Scheme != "https" || u.User != "bob" || u.Host != "example.com" || u.Port != 8443 ||
		u.Path != "/a%20b/c" || u.Query != "x=1&y=%20" || u.Fragment != "frag" || u.Href != "https://bob@example.com:8443/a%20b/c?x=1&y=%20#frag" {
		t.Errorf("ParseURL = %+v, %v", u, err)
	}
	if _, err := ParseURL("u", "http://h:99999/", nil); err == nil {
		t.Error("a port past 65535 parsed")
	}
	if _, err := ParseURL("u", "http://[::1", nil); err == nil {
		t.Error("a bad host parsed")
	}
	base := "http://h/a/b?q"
	if u, err := ParseURL("u", "../c?x#y", &base); err != nil || u.Href != "http://h/c?x#y" {
		t.Errorf("relative to a base: %+v, %v", u, err)
	}
	// Without a base, a relative reference is split as written; one with a
	// scheme or an authority must parse.
	if u, err := ParseURL("u", "/a b?c#d", nil); err != nil || u.Path != "/a b" || u.Query != "c" || u.Fragment != "d" || u.Host != "" {
		t.Errorf("relative reference: %+v, %v", u, err)
	}
	for _, bad := range []string{"//h/x", "http://", "http://h:1x/"} {
		if u, err := ParseURL("u", bad, nil); err == nil {
			t.Errorf("%q parsed: %+v", bad, u)
		}
	}
}

func TestHTMLEscape(t *testing.T) {
	got, err := HTMLEscape("h", `<a href="x">'&'</a>`, 1<<20)
	if want := "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"; err != nil || got != want {
		t.Errorf("HTMLEscape = %q, %v; want %q", got, err, want)
	}
	if _, err := HTMLEscape("h", strings.Repeat("&", 100), 499); !errors.Is(err, ErrQuota) {
		t.Errorf("HTMLEscape over the limit: %v", err)
	}
}

// RFC 4648 §10 vectors and the WHATWG forgiving-base64 edge cases.
func TestForgivingBase64(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "Zg==": "f", "Zm8=": "fo", "Zm9v": "foo", "Zm9vYg==": "foob",
		"Zm9vYmE=": "fooba", "Zm9vYmFy": "foobar", "Zg": "f", "Zm8": "fo",
		" Zm 9v\nYg= =": "foob", "YR==": "a", // ignored trailing bits
	} {
		got, err := ForgivingBase64("atob", in)
		if err != nil || string(got) != want {
			t.Errorf("ForgivingBase64(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Z", "Zg=", "Zg===", "Zm9v=", "Z===", "Zm-v", "Zm_v", "Zm9v\x00", "é"} {
		if got, err := ForgivingBase64("atob", bad); err == nil {
			t.Errorf("ForgivingBase64(%q) = %q, want an error", bad, got)
		}
	}
}

// WHATWG Encoding: one U+FFFD per maximal subpart (the cases of the
// standard's and Unicode's "U+FFFD substitution of maximal subparts").
func TestDecodeUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"abc":              "abc",
		"\xEF\xBB\xBFabc":  "abc",
		"\xF0\x9F\x98":     "\uFFFD",
		"\xF0\x9F\x98x":    "\uFFFDx",
		"\xC0\x80":         "\uFFFD\uFFFD",
		"\xED\xA0\x80":     "\uFFFD\uFFFD\uFFFD",
		"\xE0\x80\x80":     "\uFFFD\uFFFD\uFFFD",
		"\xF4\x90\x80\x80": "\uFFFD\uFFFD\uFFFD\uFFFD",
		"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64": "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd",
		"\xFF": "\uFFFD",
	} {
		got, ok := DecodeUTF8([]byte(in), false, false)
		if !ok || got != want {
			t.Errorf("DecodeUTF8(%q) = %q, want %q", in, got, want)
		}
	}
	if got, _ := DecodeUTF8([]byte("\xEF\xBB\xBFa"), false, true); got != "\uFEFFa" {
		t.Errorf("keepBOM: %q", got)
	}
	if _, ok := DecodeUTF8([]byte("a\xFF"), true, false); ok {
		t.Error("fatal decode of invalid input succeeded")
	}
}
