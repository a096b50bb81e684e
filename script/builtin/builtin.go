// Package builtin holds the engine-neutral implementations of the script
// built-ins that both languages share (secure random, URL and HTML
// escaping, forgiving base64, argument checks such as a ttl in seconds).
// Each engine binds these functions under its own spelling (see README.md,
// "Built-ins"); the checks and the limits live here once, so the two
// languages cannot disagree.
package builtin

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxRandomBytes is the most bytes one call of crypto.random_bytes (Lua) or
// crypto.getRandomValues (JS) returns, as the Web Crypto API allows.
const MaxRandomBytes = 65536

// MaxTTL is the longest ttl a script may give (kv.set and kv.batch): ten
// years, well inside time.Duration.
const MaxTTL = 10 * 365 * 24 * time.Hour

// ErrArgument is wrapped by every argument error of this package.
var ErrArgument = errors.New("bad argument")

// ErrQuota is wrapped when a call asks for more than a per-call quota
// (JS reports it as a QuotaExceededError).
var ErrQuota = errors.New("quota exceeded")

// RandomBytes returns n bytes from crypto/rand; 0 ≤ n ≤ MaxRandomBytes.
func RandomBytes(what string, n float64) ([]byte, error) {
	if math.IsNaN(n) || n < 0 || n != math.Trunc(n) {
		return nil, fmt.Errorf("%s: the length must be a whole number ≥ 0, got %v: %w", what, n, ErrArgument)
	}
	if n > MaxRandomBytes {
		return nil, fmt.Errorf("%s: %v bytes asked, at most %d per call: %w", what, n, MaxRandomBytes, ErrQuota)
	}
	b := make([]byte, int(n))
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24 crashes instead)
	return b, nil
}

// RandomUUID returns a random (version 4) UUID in its lower-case text form.
func RandomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// TTL converts a ttl in seconds to a duration: a finite number, 0 ≤ secs ≤
// MaxTTL. (A bare float conversion turns 1e10 s, 1e300 or NaN into a
// negative duration.)
func TTL(what string, secs float64) (time.Duration, error) {
	if math.IsNaN(secs) || math.IsInf(secs, 0) || secs < 0 || secs > MaxTTL.Seconds() {
		return 0, fmt.Errorf("%s: ttl must be a number of seconds from 0 to %d, got %v: %w",
			what, int64(MaxTTL.Seconds()), secs, ErrArgument)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// urlKeep reports the bytes encodeURIComponent leaves as they are.
func urlKeep(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}

// URLEncode percent-encodes s as JS encodeURIComponent does (s is taken as
// bytes, each byte not kept becomes %XX). The result is at most max bytes.
func URLEncode(what, s string, max int64) (string, error) {
	n := int64(0)
	for i := 0; i < len(s); i++ {
		if urlKeep(s[i]) {
			n++
		} else {
			n += 3
		}
	}
	if n > max {
		return "", fmt.Errorf("%s: result of %d bytes exceeds the limit of %d: %w", what, n, max, ErrQuota)
	}
	if n == int64(len(s)) {
		return s, nil
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlKeep(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b), nil
}

// URLDecode undoes percent-encoding as decodeURIComponent does, except that
// the bytes are not required to be UTF-8 (Lua strings are bytes): '+' stays
// '+'; a '%' not followed by two hex digits is an error.
func URLDecode(what, s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", fmt.Errorf("%s: bad escape at byte %d: %w", what, i+1, ErrArgument)
		}
		b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// URL is the result of ParseURL. Port is 0 when the URL names none (or
// its scheme's default port); Query and Fragment are without their '?' and
// '#', percent-encoded as the URL standard leaves them.
type URL struct {
	Href, Scheme, User, Host string
	Port                     int
	Path, Query              string
	Fragment                 string
}

// ParseURL parses an absolute URL (against base when base is not nil) with
// the WHATWG URL parser, as JS `new URL(s, base)` does (docs/url.md). A
// relative reference without a base ("/a?b", "x/y") is not a URL for the
// standard; it is split into path, query and fragment as written.
func ParseURL(what, s string, base *string) (URL, error) {
	w, err := ParseWebURL(s, base)
	if err == nil {
		out := URL{Href: w.Href(), Scheme: w.Scheme(), User: w.Username(), Host: w.Hostname(),
			Path: w.Pathname(), Query: w.Query(), Fragment: w.Fragment()}
		if p := w.Port(); p != "" {
			out.Port, _ = strconv.Atoi(p) // the parser allows 0-65535 only
		}
		return out, nil
	}
	if base != nil || hasScheme(s) || strings.HasPrefix(s, "//") || strings.HasPrefix(s, `\\`) {
		return URL{}, fmt.Errorf("%s: %v: %w", what, err, ErrArgument)
	}
	rest, frag, hasFrag := strings.Cut(s, "#")
	path, query, _ := strings.Cut(rest, "?")
	out := URL{Href: s, Path: path, Query: query}
	if hasFrag {
		out.Fragment = frag
	}
	return out, nil
}

// hasScheme reports whether s starts with a URL scheme and ':'.
func hasScheme(s string) bool {
	s = strings.TrimLeft(s, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// HTMLEscape replaces & < > " ' by entities; the result is at most max
// bytes.
func HTMLEscape(what, s string, max int64) (string, error) {
	n := int64(len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '&':
			n += 4
		case '<', '>':
			n += 3
		case '"', '\'':
			n += 4
		}
	}
	if n > max {
		return "", fmt.Errorf("%s: result of %d bytes exceeds the limit of %d: %w", what, n, max, ErrQuota)
	}
	if n == int64(len(s)) {
		return s, nil
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}
