package builtin

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ForgivingBase64 decodes s as the WHATWG "forgiving-base64 decode" does
// (atob): ASCII whitespace is skipped, padding is optional but must be
// right when present, and the bits after the last full byte are ignored.
func ForgivingBase64(what, s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\n\f\r") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\n', '\f', '\r':
				return -1
			}
			return r
		}, s)
	}
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(s, "=")
		s = strings.TrimSuffix(s, "=")
	}
	if len(s)%4 == 1 {
		return nil, fmt.Errorf("%s: the string is not correctly encoded: %w", what, ErrArgument)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("%s: the string is not correctly encoded: %w", what, ErrArgument)
		}
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: the string is not correctly encoded: %w", what, ErrArgument)
	}
	return b, nil
}
