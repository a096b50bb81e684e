package builtin

// The WHATWG URL standard's parser, behind the small API both engines use:
// JS `URL`/`URLSearchParams` and Lua `url.parse` (README.md, "Built-ins" and
// "Coming from Workers / Node"; docs/url.md). The parser is fcgihost's copy
// of github.com/nlnwa/whatwg-url in third_party/whatwgurl, patched so that
// no input costs more than linear time (third_party/whatwgurl/PATCH.md).

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	whatwgurl "github.com/fcgihost/fcgihost/third_party/whatwgurl"
)

// MaxURLBytes is the longest input the URL parser takes (and the longest
// value a URL setter takes): 2 MiB, as Chromium's limit for a URL. A
// longer input is an invalid URL.
const MaxURLBytes = 2 << 20

// ErrInvalidURL is wrapped by every parse failure of ParseWebURL.
var ErrInvalidURL = errors.New("invalid URL")

var webParser = whatwgurl.NewParser()

// WebURL is one parsed URL; its setters follow the URL standard's API (an
// invalid value leaves the URL as it was, with no error).
type WebURL struct {
	u *whatwgurl.Url
}

// ParseWebURL parses s, against base when base is not nil, as `new URL(s,
// base)` does.
func ParseWebURL(s string, base *string) (*WebURL, error) {
	if len(s) > MaxURLBytes || (base != nil && len(*base) > MaxURLBytes) {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLBytes)
	}
	var b *whatwgurl.Url
	if base != nil {
		var err error
		if b, err = webParser.Parse(*base); err != nil {
			return nil, fmt.Errorf("%w: base: %v", ErrInvalidURL, err)
		}
	}
	u, err := webParser.BasicParser(s, b, nil, whatwgurl.NoState)
	if err != nil || u == nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	return &WebURL{u: u}, nil
}

// Href is the whole URL, serialised.
func (w *WebURL) Href() string { return w.u.Href(false) }

// SetHref replaces the URL by s parsed alone; on failure the URL is kept
// and the error returned (JS throws a TypeError).
func (w *WebURL) SetHref(s string) error {
	n, err := ParseWebURL(s, nil)
	if err != nil {
		return err
	}
	w.u = n.u
	return nil
}

// Origin is the URL's origin serialised: scheme://host[:port] for the
// special schemes but file, the inner URL's origin for blob: URLs of http
// or https, "null" otherwise.
func (w *WebURL) Origin() string {
	switch w.u.Scheme() {
	case "http", "https", "ws", "wss", "ftp":
		return w.u.Scheme() + "://" + w.u.Host()
	case "blob":
		if inner, err := webParser.Parse(w.u.Pathname()); err == nil && (inner.Scheme() == "http" || inner.Scheme() == "https") {
			return inner.Scheme() + "://" + inner.Host()
		}
	}
	return "null"
}

// Protocol is the scheme followed by ':'.
func (w *WebURL) Protocol() string { return w.u.Protocol() }

// Scheme is the scheme without ':'.
func (w *WebURL) Scheme() string { return w.u.Scheme() }

// Username is the percent-encoded user name.
func (w *WebURL) Username() string { return w.u.Username() }

// Password is the percent-encoded password.
func (w *WebURL) Password() string { return w.u.Password() }

// Host is the host and, when not the default, ":port".
func (w *WebURL) Host() string { return w.u.Host() }

// Hostname is the host alone.
func (w *WebURL) Hostname() string { return w.u.Hostname() }

// Port is the port as written (without the default port), or "".
func (w *WebURL) Port() string { return w.u.Port() }

// Pathname is the path, serialised.
func (w *WebURL) Pathname() string { return w.u.Pathname() }

// Search is "?query", or "" when the query is null or empty.
func (w *WebURL) Search() string { return w.u.Search() }

// Query is the query without '?' ("" when null or empty).
func (w *WebURL) Query() string { return w.u.Query() }

// Hash is "#fragment", or "" when the fragment is null or empty.
func (w *WebURL) Hash() string { return w.u.Hash() }

// Fragment is the fragment without '#'.
func (w *WebURL) Fragment() string { return w.u.Fragment() }

// The setters ignore a value longer than MaxURLBytes, as they ignore any
// other value the standard's setter would not take.

func setter(s string, set func(string)) {
	if len(s) <= MaxURLBytes {
		set(s)
	}
}

// SetProtocol is the protocol setter.
func (w *WebURL) SetProtocol(s string) { setter(s, w.u.SetProtocol) }

// SetUsername is the username setter.
func (w *WebURL) SetUsername(s string) { setter(s, w.u.SetUsername) }

// SetPassword is the password setter.
func (w *WebURL) SetPassword(s string) { setter(s, w.u.SetPassword) }

// SetHost is the host setter.
func (w *WebURL) SetHost(s string) { setter(s, w.u.SetHost) }

// SetHostname is the hostname setter.
func (w *WebURL) SetHostname(s string) { setter(s, w.u.SetHostname) }

// SetPort is the port setter.
func (w *WebURL) SetPort(s string) { setter(s, w.u.SetPort) }

// SetPathname is the pathname setter.
func (w *WebURL) SetPathname(s string) { setter(s, w.u.SetPathname) }

// SetSearch is the search setter.
func (w *WebURL) SetSearch(s string) { setter(s, w.u.SetSearch) }

// SetQuery sets the query to q, already application/x-www-form-urlencoded
// (URLSearchParams' update steps): "" makes the query null.
func (w *WebURL) SetQuery(q string) { w.u.SetSearch(q) }

// SetHash is the hash setter.
func (w *WebURL) SetHash(s string) { setter(s, w.u.SetHash) }

// FormPair is one name/value pair of an application/x-www-form-urlencoded
// list.
type FormPair struct{ Name, Value string }

// ParseForm parses an application/x-www-form-urlencoded string as the URL
// standard does: '&'-separated, the first '=' splits name and value, '+'
// is a space, then percent-decoding, invalid UTF-8 becomes U+FFFD.
func ParseForm(q string) []FormPair {
	var out []FormPair
	for len(q) > 0 {
		part := q
		if i := strings.IndexByte(q, '&'); i >= 0 {
			part, q = q[:i], q[i+1:]
		} else {
			q = ""
		}
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out = append(out, FormPair{formDecode(k), formDecode(v)})
	}
	return out
}

func formDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return decodeUTF8(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0:
			b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return decodeUTF8(string(b))
}

// decodeUTF8 is the Encoding standard's UTF-8 decode: each maximal
// subpart of an invalid sequence becomes one U+FFFD ("\xFF\xFE" is two,
// "\xE2\x82" one).
func decodeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += maximalSubpart(s[i:])
	}
	return b.String()
}

// maximalSubpart is the length of the invalid sequence at the start of s
// that decodes as one U+FFFD.
func maximalSubpart(s string) int {
	c := s[0]
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(s); n++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}

// SerializeForm is the application/x-www-form-urlencoded serializer (UTF-8).
func SerializeForm(pairs []FormPair) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		formEncode(&b, p.Name)
		b.WriteByte('=')
		formEncode(&b, p.Value)
	}
	return b.String()
}

func formEncode(b *strings.Builder, s string) {
	const hexd = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('+')
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
}
