// Package scgi reads SCGI requests (a netstring of NUL-separated
// name/value pairs, CONTENT_LENGTH first, then the body) and serves them
// one per connection through internal/oneconn. The answer a handler
// writes is a CGI response: a "Status:" line, header lines, a blank line,
// the body; the connection is closed after it (docs/reference.md,
// "Gateways"). It knows nothing of scripts.
package scgi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/fcgihost/fcgihost/internal/oneconn"
)

// Limits bound a request header.
type Limits struct {
	MaxBytes int // the netstring's length; 0 = oneconn.DefaultMaxParamsBytes (1 MiB)
	MaxPairs int // name/value pairs; 0 = oneconn.DefaultMaxParams (4096)
}

// maxDigits is the most length digits read: 1 MiB has 7, leading zeros
// aside; a sender writing more is lying or hostile.
const maxDigits = 10

// ReadHeader reads the netstring from r and returns the params and the
// body length (CONTENT_LENGTH). A connection closed before its first byte
// is io.EOF. Any other deviation — a length that is not
// decimal or exceeds the limit, a missing ",", a pair without its NUL, an
// empty or repeated name, CONTENT_LENGTH missing, not first or not a
// number — is an error.
func ReadHeader(r *bufio.Reader, lim Limits) (map[string]string, int64, error) {
	maxBytes, maxPairs := lim.MaxBytes, lim.MaxPairs
	if maxBytes <= 0 {
		maxBytes = oneconn.DefaultMaxParamsBytes
	}
	if maxPairs <= 0 {
		maxPairs = oneconn.DefaultMaxParams
	}
	n := 0
	digits := 0
	for {
		c, err := r.ReadByte()
		if err == io.EOF && digits == 0 {
			return nil, 0, io.EOF // closed before a request: not an error
		}
		if err != nil {
			return nil, 0, fmt.Errorf("scgi: netstring length: %w", eof(err))
		}
		if c == ':' {
			break
		}
		if c < '0' || c > '9' {
			return nil, 0, fmt.Errorf("scgi: netstring length: unexpected byte %q", c)
		}
		digits++
		if digits > maxDigits {
			return nil, 0, errors.New("scgi: netstring length: too many digits")
		}
		n = n*10 + int(c-'0')
		if n > maxBytes {
			return nil, 0, fmt.Errorf("scgi: header of more than %d bytes", maxBytes)
		}
	}
	if digits == 0 {
		return nil, 0, errors.New("scgi: netstring length: no digits")
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, fmt.Errorf("scgi: header shorter than its length %d: %w", n, eof(err))
	}
	if buf[n] != ',' {
		return nil, 0, fmt.Errorf("scgi: header does not end with ',' after %d bytes", n)
	}
	params, err := parsePairs(buf[:n], maxPairs)
	if err != nil {
		return nil, 0, err
	}
	cl, err := contentLength(params["CONTENT_LENGTH"])
	if err != nil {
		return nil, 0, err
	}
	return params, cl, nil
}

func parsePairs(b []byte, maxPairs int) (map[string]string, error) {
	params := make(map[string]string, 32)
	first := true
	for len(b) > 0 {
		if len(params) >= maxPairs {
			return nil, fmt.Errorf("scgi: more than %d params", maxPairs)
		}
		name, rest, ok := cutNUL(b)
		if !ok {
			return nil, errors.New("scgi: param name without its NUL")
		}
		value, rest, ok := cutNUL(rest)
		if !ok {
			return nil, fmt.Errorf("scgi: param %.64q without its value's NUL", name)
		}
		if len(name) == 0 {
			return nil, errors.New("scgi: empty param name")
		}
		if first && string(name) != "CONTENT_LENGTH" {
			return nil, fmt.Errorf("scgi: first param is %.64q, not CONTENT_LENGTH", name)
		}
		first = false
		k := string(name)
		if _, dup := params[k]; dup {
			return nil, fmt.Errorf("scgi: param %.64q repeated", k)
		}
		params[k] = string(value)
		b = rest
	}
	if first {
		return nil, errors.New("scgi: empty header (no CONTENT_LENGTH)")
	}
	return params, nil
}

func cutNUL(b []byte) ([]byte, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return nil, nil, false
}

// contentLength parses CONTENT_LENGTH: decimal digits only.
func contentLength(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("scgi: empty CONTENT_LENGTH")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("scgi: CONTENT_LENGTH %.32q is not a number", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("scgi: CONTENT_LENGTH %.32q: %w", s, err)
	}
	return n, nil
}

func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// NewServer returns a server for SCGI: h answers each request with a CGI
// response written to w.
func NewServer(h oneconn.Handler, lim Limits) *oneconn.Server {
	return &oneconn.Server{
		Proto: "scgi",
		ReadHead: func(r *bufio.Reader) (map[string]string, int64, error) {
			return ReadHeader(r, lim)
		},
		Handler: h,
	}
}
