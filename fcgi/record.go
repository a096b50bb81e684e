// This file holds the record layer of FastCGI 1.0 (specification §3.3 and
// §8): the 8-byte header, the record types, the protocol statuses, and the
// helpers that append well-formed, 8-byte-aligned records to a buffer.

package fcgi

import (
	"encoding/binary"
	"strconv"
)

// Record types (FastCGI 1.0 §8).
const (
	typeBeginRequest    uint8 = 1
	typeAbortRequest    uint8 = 2
	typeEndRequest      uint8 = 3
	typeParams          uint8 = 4
	typeStdin           uint8 = 5
	typeStdout          uint8 = 6
	typeStderr          uint8 = 7
	typeData            uint8 = 8
	typeGetValues       uint8 = 9
	typeGetValuesResult uint8 = 10
	typeUnknownType     uint8 = 11
)

// Protocol statuses carried by FCGI_END_REQUEST (FastCGI 1.0 §5.5).
const (
	StatusRequestComplete uint8 = 0 // FCGI_REQUEST_COMPLETE
	StatusCantMpxConn     uint8 = 1 // FCGI_CANT_MPX_CONN
	StatusOverloaded      uint8 = 2 // FCGI_OVERLOADED
	StatusUnknownRole     uint8 = 3 // FCGI_UNKNOWN_ROLE
)

// ListenSockFileno is FCGI_LISTENSOCK_FILENO: the file descriptor on which a
// web server that spawns the application passes the listening socket.
const ListenSockFileno = 0

const (
	version1   = 1
	headerLen  = 8
	maxContent = 65535 // largest content of one record
	flagKeep   = 1     // FCGI_KEEP_CONN
)

// zeros is the source of padding bytes; a record never needs more than 7.
var zeros [8]byte

// header is a decoded record header.
type header struct {
	Version       uint8
	Type          uint8
	ID            uint16
	ContentLength uint16
	PaddingLength uint8
}

func parseHeader(b []byte) header {
	_ = b[7]
	return header{
		Version:       b[0],
		Type:          b[1],
		ID:            binary.BigEndian.Uint16(b[2:4]),
		ContentLength: binary.BigEndian.Uint16(b[4:6]),
		PaddingLength: b[6],
	}
}

// padLen is the padding that aligns n content bytes to 8.
func padLen(n int) int { return -n & 7 }

// putHeader writes a version-1 header for n content bytes followed by
// padLen(n) padding bytes into b[:8].
func putHeader(b []byte, typ uint8, id uint16, n int) {
	_ = b[7]
	b[0] = version1
	b[1] = typ
	binary.BigEndian.PutUint16(b[2:4], id)
	binary.BigEndian.PutUint16(b[4:6], uint16(n))
	b[6] = uint8(padLen(n))
	b[7] = 0
}

// appendHeader appends a header for n content bytes.
func appendHeader(dst []byte, typ uint8, id uint16, n int) []byte {
	var h [headerLen]byte
	putHeader(h[:], typ, id, n)
	return append(dst, h[:]...)
}

// appendRecord appends one record; len(content) must be at most maxContent.
func appendRecord(dst []byte, typ uint8, id uint16, content []byte) []byte {
	dst = appendHeader(dst, typ, id, len(content))
	dst = append(dst, content...)
	return append(dst, zeros[:padLen(len(content))]...)
}

// appendStream appends data as records of at most maxContent bytes each,
// without the empty record that ends a stream. Empty data appends nothing.
func appendStream(dst []byte, typ uint8, id uint16, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), maxContent)
		dst = appendRecord(dst, typ, id, data[:n])
		data = data[n:]
	}
	return dst
}

// appendBeginRequest appends an FCGI_BEGIN_REQUEST record.
func appendBeginRequest(dst []byte, id uint16, role Role, keep bool) []byte {
	var body [8]byte
	binary.BigEndian.PutUint16(body[0:2], uint16(role))
	if keep {
		body[2] = flagKeep
	}
	return appendRecord(dst, typeBeginRequest, id, body[:])
}

// appendEndRequest appends an FCGI_END_REQUEST record.
func appendEndRequest(dst []byte, id uint16, appStatus uint32, protoStatus uint8) []byte {
	var body [8]byte
	binary.BigEndian.PutUint32(body[0:4], appStatus)
	body[4] = protoStatus
	return appendRecord(dst, typeEndRequest, id, body[:])
}

// appendUnknownType appends the FCGI_UNKNOWN_TYPE answer for typ.
func appendUnknownType(dst []byte, typ uint8) []byte {
	var body [8]byte
	body[0] = typ
	return appendRecord(dst, typeUnknownType, 0, body[:])
}

// typeName names a record type for log lines and errors.
func typeName(t uint8) string {
	switch t {
	case typeBeginRequest:
		return "FCGI_BEGIN_REQUEST"
	case typeAbortRequest:
		return "FCGI_ABORT_REQUEST"
	case typeEndRequest:
		return "FCGI_END_REQUEST"
	case typeParams:
		return "FCGI_PARAMS"
	case typeStdin:
		return "FCGI_STDIN"
	case typeStdout:
		return "FCGI_STDOUT"
	case typeStderr:
		return "FCGI_STDERR"
	case typeData:
		return "FCGI_DATA"
	case typeGetValues:
		return "FCGI_GET_VALUES"
	case typeGetValuesResult:
		return "FCGI_GET_VALUES_RESULT"
	case typeUnknownType:
		return "FCGI_UNKNOWN_TYPE"
	}
	return "type " + strconv.Itoa(int(t))
}

// StatusName names a protocol status ("FCGI_OVERLOADED").
func StatusName(s uint8) string {
	switch s {
	case StatusRequestComplete:
		return "FCGI_REQUEST_COMPLETE"
	case StatusCantMpxConn:
		return "FCGI_CANT_MPX_CONN"
	case StatusOverloaded:
		return "FCGI_OVERLOADED"
	case StatusUnknownRole:
		return "FCGI_UNKNOWN_ROLE"
	}
	return "protocol status " + strconv.Itoa(int(s))
}
