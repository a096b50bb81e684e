// This file holds the name-value pair encoding of FastCGI 1.0 §3.4, used by
// FCGI_PARAMS, FCGI_GET_VALUES and FCGI_GET_VALUES_RESULT: each length is one
// byte when below 128, else four bytes with the high bit set.

package fcgi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var errShortPair = errors.New("name-value pair runs past the end of the stream")

// appendPairLen appends n in the one- or four-byte form.
func appendPairLen(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)|1<<31)
}

// appendPair appends one name-value pair.
func appendPair(dst []byte, name, value string) []byte {
	dst = appendPairLen(dst, len(name))
	dst = appendPairLen(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

// readPairLen decodes a length at b[0:], returning it and its size in bytes.
func readPairLen(b []byte) (n, size int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, true
	}
	if len(b) < 4 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(b) &^ (1 << 31)), 4, true
}

// nextPair locates the pair at b[off:]: it returns the offsets of its name
// and value and the offset just past it.
func nextPair(b []byte, off int) (nameAt, nameLen, valueAt, valueLen, next int, err error) {
	nl, s1, ok := readPairLen(b[off:])
	if !ok {
		return 0, 0, 0, 0, 0, errShortPair
	}
	vl, s2, ok := readPairLen(b[off+s1:])
	if !ok {
		return 0, 0, 0, 0, 0, errShortPair
	}
	nameAt = off + s1 + s2
	if nl > len(b)-nameAt || vl > len(b)-nameAt-nl {
		return 0, 0, 0, 0, 0, errShortPair
	}
	return nameAt, nl, nameAt + nl, vl, nameAt + nl + vl, nil
}

// countPairs checks that b is a whole sequence of pairs and counts them.
func countPairs(b []byte) (int, error) {
	n := 0
	for off := 0; off < len(b); n++ {
		_, _, _, _, next, err := nextPair(b, off)
		if err != nil {
			return n, fmt.Errorf("pair %d at byte %d: %w", n+1, off, err)
		}
		off = next
	}
	return n, nil
}

// decodePairs adds every pair of b to m (a later duplicate name wins). All
// names and values share one string allocation. b must have passed
// countPairs.
func decodePairs(b []byte, m map[string]string) error {
	s := string(b)
	for off := 0; off < len(b); {
		na, nl, va, vl, next, err := nextPair(b, off)
		if err != nil {
			return err
		}
		m[s[na:na+nl]] = s[va : va+vl]
		off = next
	}
	return nil
}

// DecodeParams decodes a complete FastCGI name-value pair stream.
func DecodeParams(b []byte) (map[string]string, error) {
	n, err := countPairs(b)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, n)
	if err := decodePairs(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// EncodeParams appends params to dst as a FastCGI name-value pair stream
// (in map order).
func EncodeParams(dst []byte, params map[string]string) []byte {
	for k, v := range params {
		dst = appendPair(dst, k, v)
	}
	return dst
}
