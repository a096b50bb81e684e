package script

import (
	"bytes"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
)

// maxCGIHead bounds the header block of CGI-style output.
const maxCGIHead = 64 << 10

// ErrNoCGIHead marks CGI-style output that never produced a valid header
// block; its message says what was missing.
var ErrNoCGIHead = errors.New("invalid CGI response")

// CGIWriter takes what a CGI-style script prints (header lines, a blank
// line, the body) and turns it into a Response: the Status, Location and
// other header lines set the head, the rest is the body. Engines give their
// print/write/io.write functions a CGIWriter; the host calls Close after
// the script ends.
type CGIWriter struct {
	res     *Response
	head    []byte
	inBody  bool
	headErr error
}

// NewCGIWriter makes a CGIWriter writing to res.
func NewCGIWriter(res *Response) *CGIWriter { return &CGIWriter{res: res} }

// Write accepts script output.
func (w *CGIWriter) Write(p []byte) (int, error) {
	if w.headErr != nil {
		return 0, w.headErr
	}
	if w.inBody {
		return w.res.Write(p)
	}
	n := len(p)
	w.head = append(w.head, p...)
	end, sep := headEnd(w.head)
	if end < 0 {
		if len(w.head) > maxCGIHead {
			w.headErr = fmt.Errorf("%w: no blank line after the first %d bytes of output (header block too long or missing)", ErrNoCGIHead, maxCGIHead)
			return 0, w.headErr
		}
		return n, nil
	}
	if err := w.parseHead(w.head[:end]); err != nil {
		w.headErr = err
		return 0, err
	}
	body := w.head[end+sep:]
	w.head = nil
	w.inBody = true
	if len(body) > 0 {
		if _, err := w.res.Write(body); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Close checks that a header block was seen.
func (w *CGIWriter) Close() error {
	if w.headErr != nil {
		return w.headErr
	}
	if !w.inBody {
		if len(w.head) == 0 {
			return fmt.Errorf("%w: the script printed nothing (a CGI script must print headers, a blank line, then the body)", ErrNoCGIHead)
		}
		// Headers with no blank line at the very end: accept if every line
		// is a header (like Apache does at EOF).
		if err := w.parseHead(bytes.TrimRight(w.head, "\r\n")); err != nil {
			return err
		}
		w.inBody = true
	}
	return nil
}

func headEnd(b []byte) (int, int) {
	i := bytes.Index(b, []byte("\n\n"))
	j := bytes.Index(b, []byte("\r\n\r\n"))
	switch {
	case i < 0 && j < 0:
		return -1, 0
	case j >= 0 && (i < 0 || j < i):
		return j, 4
	default:
		return i, 2
	}
}

func (w *CGIWriter) parseHead(h []byte) error {
	lines := strings.Split(strings.ReplaceAll(string(h), "\r\n", "\n"), "\n")
	sawType, sawStatus, sawLocation := false, false, false
	for i, line := range lines {
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("%w: line %d of the output is not a header (%q); print headers, a blank line, then the body", ErrNoCGIHead, i+1, truncate(line, 60))
		}
		value = strings.TrimSpace(value)
		switch textproto.CanonicalMIMEHeaderKey(name) {
		case "Status":
			code, _, _ := strings.Cut(value, " ")
			n, err := strconv.Atoi(code)
			if err != nil || n < 100 || n > 999 {
				return fmt.Errorf("%w: bad Status header %q", ErrNoCGIHead, value)
			}
			w.res.SetStatus(n)
			sawStatus = true
		case "Location":
			sawLocation = true
			w.res.SetHeader("Location", value)
		case "Content-Type":
			sawType = true
			w.res.SetHeader(name, value)
		default:
			if err := w.res.AddHeader(name, value); err != nil {
				return fmt.Errorf("%w: %v", ErrNoCGIHead, err)
			}
		}
	}
	if !sawType && !sawStatus && !sawLocation {
		return fmt.Errorf("%w: the header block has no Content-Type, Status or Location", ErrNoCGIHead)
	}
	if sawLocation && !sawStatus {
		w.res.SetStatus(302)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
