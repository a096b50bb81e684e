// Package logsafe escapes text that a script or a client controls before
// it reaches a log: the web server's error log (FCGI_STDERR, a CGI
// program's stderr) or the host's own log. A log line must stay one line
// that says what it says: no CR or LF to start a forged line, no escape
// sequence for the terminal that shows it, no bidirectional override to
// make it read backwards. docs/sandbox.md ("Logs") lists what is escaped.
package logsafe

import (
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every control character, DEL, C1 control,
// bidirectional formatting character, line or paragraph separator and
// invalid UTF-8 byte written as an escape: \r, \n, \t, \xNN (bytes and
// ASCII controls) or \uNNNN. Everything else, backslashes included, is
// kept as it is. s is returned unchanged (not copied) when it needs no
// escape.
func Escape(s string) string { return escape(s, false) }

// EscapeJSON is Escape for text that a JSON encoder will escape next: the
// characters encoding/json and log/slog's JSON handler already escape
// (ASCII controls, U+2028, U+2029, invalid UTF-8) are left to it, so that a
// multi-line value (a stack) still decodes to its lines, and the rest
// (DEL, C1 controls, bidirectional formatting) is written as \xNN or
// \uNNNN text.
func EscapeJSON(s string) string { return escape(s, true) }

func escape(s string, json bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if needs(r, n, json) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	const hex = "0123456789abcdef"
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !needs(r, n, json) {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case n == 1: // an ASCII control, DEL or an invalid byte
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		default:
			b.WriteString(`\u`)
			for sh := 12; sh >= 0; sh -= 4 {
				b.WriteByte(hex[(r>>sh)&15])
			}
		}
		i += n
	}
	return b.String()
}

// needs reports whether rune r (n bytes long) must be escaped.
func needs(r rune, n int, json bool) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return !json
	case r < 0x20:
		return !json
	case r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return !json
	}
	return false
}

// ReplaceAttrJSON is a slog.HandlerOptions.ReplaceAttr for a JSON handler:
// string values (the message included) and errors get EscapeJSON. (The
// text handler needs none: it quotes and escapes every value with a
// control or non-printable character.)
func ReplaceAttrJSON(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		if e := EscapeJSON(s); e != s {
			a.Value = slog.StringValue(e)
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			s := err.Error()
			if e := EscapeJSON(s); e != s {
				a.Value = slog.StringValue(e)
			}
		}
	}
	return a
}
