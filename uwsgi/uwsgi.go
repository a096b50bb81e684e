// Package uwsgi reads requests of the uwsgi protocol (a 4-byte header —
// modifier1 0, the vars block's size as a little-endian u16, modifier2 0 —
// then the vars as u16-length-prefixed names and values, then the body)
// and serves them one per connection through internal/oneconn. The answer
// a handler writes is an HTTP/1.1 response: status line, headers, blank
// line, body; the connection is closed after it (docs/reference.md,
// "Gateways"). It knows nothing of scripts.
package uwsgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/fcgihost/fcgihost/internal/oneconn"
)

// Limits bound a request header. The vars block of uwsgi is at most
// 65535 bytes by its format.
type Limits struct {
	MaxPairs int // 0 = oneconn.DefaultMaxParams (4096)
}

// ReadHeader reads a request's header and vars from r and returns the
// params and the body length (CONTENT_LENGTH, 0 when absent or empty). A
// connection closed before its first byte is io.EOF.
// A modifier other than 0, a var whose length runs past the block, an
// empty or repeated name, a CONTENT_LENGTH that is not a number or a
// block with more pairs than the limit is an error.
func ReadHeader(r *bufio.Reader, lim Limits) (map[string]string, int64, error) {
	maxPairs := lim.MaxPairs
	if maxPairs <= 0 {
		maxPairs = oneconn.DefaultMaxParams
	}
	var h [4]byte
	if n, err := io.ReadFull(r, h[:]); err == io.EOF && n == 0 {
		return nil, 0, io.EOF // closed before a request: not an error
	} else if err != nil {
		return nil, 0, fmt.Errorf("uwsgi: header: %w", eof(err))
	}
	if h[0] != 0 || h[3] != 0 {
		return nil, 0, fmt.Errorf("uwsgi: modifiers %d/%d (only 0/0, a request, is served)", h[0], h[3])
	}
	size := int(binary.LittleEndian.Uint16(h[1:3]))
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, fmt.Errorf("uwsgi: vars block shorter than its size %d: %w", size, eof(err))
	}
	params := make(map[string]string, 32)
	b := buf
	for len(b) > 0 {
		if len(params) >= maxPairs {
			return nil, 0, fmt.Errorf("uwsgi: more than %d vars", maxPairs)
		}
		name, rest, err := cut16(b)
		if err != nil {
			return nil, 0, fmt.Errorf("uwsgi: var name: %w", err)
		}
		value, rest, err := cut16(rest)
		if err != nil {
			return nil, 0, fmt.Errorf("uwsgi: value of %.64q: %w", name, err)
		}
		if len(name) == 0 {
			return nil, 0, errors.New("uwsgi: empty var name")
		}
		k := string(name)
		if _, dup := params[k]; dup {
			return nil, 0, fmt.Errorf("uwsgi: var %.64q repeated", k)
		}
		params[k] = string(value)
		b = rest
	}
	var cl int64
	if s := params["CONTENT_LENGTH"]; s != "" {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return nil, 0, fmt.Errorf("uwsgi: CONTENT_LENGTH %.32q is not a number", s)
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("uwsgi: CONTENT_LENGTH %.32q: %w", s, err)
		}
		cl = n
	}
	return params, cl, nil
}

func cut16(b []byte) ([]byte, []byte, error) {
	if len(b) < 2 {
		return nil, nil, errors.New("length runs past the vars block")
	}
	n := int(binary.LittleEndian.Uint16(b))
	if 2+n > len(b) {
		return nil, nil, fmt.Errorf("length %d runs past the vars block", n)
	}
	return b[2 : 2+n], b[2+n:], nil
}

func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// NewServer returns a server for uwsgi: h answers each request with an
// HTTP/1.1 response written to w.
func NewServer(h oneconn.Handler, lim Limits) *oneconn.Server {
	return &oneconn.Server{
		Proto: "uwsgi",
		ReadHead: func(r *bufio.Reader) (map[string]string, int64, error) {
			return ReadHeader(r, lim)
		},
		Handler: h,
	}
}
