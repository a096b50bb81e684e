// This file parses the head of a CGI response (RFC 3875 §6): header lines
// up to a blank line, with Status and Location deciding the HTTP status.

package fcgi

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// headEnd finds the blank line that ends a CGI head: it returns the length
// of the head and of the separator, or -1.
func headEnd(b []byte) (end, sep int) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 1, 1
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 1, 2
		}
	}
	if len(b) >= 2 && b[0] == '\r' && b[1] == '\n' {
		return 0, 2
	}
	if len(b) >= 1 && b[0] == '\n' {
		return 0, 1
	}
	return -1, 0
}

// parseCGIHead parses header lines into a status and headers. Without a
// Status line the status is 302 when Location is set, else 200.
func parseCGIHead(head []byte) (int, http.Header, error) {
	h := make(http.Header)
	status := 0
	var last string
	for len(head) > 0 {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return 0, nil, serverBroke("CGI header continuation line without a header: %q", line)
			}
			vs := h[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(string(line))
			continue
		}
		if status == 0 && bytes.HasPrefix(line, []byte("HTTP/")) {
			// An NPH-style status line.
			f := strings.Fields(string(line))
			if len(f) < 2 {
				return 0, nil, serverBroke("malformed status line %q", line)
			}
			code, err := parseStatus(f[1])
			if err != nil {
				return 0, nil, err
			}
			status = code
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return 0, nil, serverBroke("malformed CGI header line %q", line)
		}
		raw := string(bytes.TrimSpace(line[:i]))
		name := textproto.CanonicalMIMEHeaderKey(raw)
		if strings.HasPrefix(name, "Variable-") {
			// An Authorizer's Variable-NAME: NAME becomes an environment
			// variable, whose case matters.
			name = "Variable-" + raw[len("Variable-"):]
		}
		value := strings.TrimSpace(string(line[i+1:]))
		if name == "Status" {
			f := strings.Fields(value)
			if len(f) == 0 {
				return 0, nil, serverBroke("empty Status header")
			}
			code, err := parseStatus(f[0])
			if err != nil {
				return 0, nil, err
			}
			status = code
			last = ""
			continue
		}
		h[name] = append(h[name], value)
		last = name
	}
	if status == 0 {
		status = http.StatusOK
		if h.Get("Location") != "" {
			status = http.StatusFound
		}
	}
	return status, h, nil
}

func parseStatus(s string) (int, error) {
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 999 {
		return 0, serverBroke("malformed status %q", s)
	}
	return code, nil
}
