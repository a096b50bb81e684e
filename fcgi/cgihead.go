// This file parses the head of a CGI response (RFC 3875 §6): header lines
// up to a blank line, with Status and Location deciding the HTTP status.

package fcgi

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"unicode"
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
//
// The head is converted to a string once and every name and value is a
// substring of it; the values of single-valued headers share one backing
// slice (as net/textproto does), so a typical head costs a few allocations
// whatever its number of lines.
func parseCGIHead(head []byte) (int, http.Header, error) {
	s := string(head)
	lines := strings.Count(s, "\n") + 1
	h := make(http.Header, lines)
	vals := make([]string, 0, lines)
	status := 0
	var last string
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		line = strings.TrimSuffix(line, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return 0, nil, serverBroke("CGI header continuation line without a header: %q", line)
			}
			vs := h[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(line)
			continue
		}
		if status == 0 && strings.HasPrefix(line, "HTTP/") {
			// An NPH-style status line.
			code := firstField(restFields(line))
			if code == "" {
				return 0, nil, serverBroke("malformed status line %q", line)
			}
			c, err := parseStatus(code)
			if err != nil {
				return 0, nil, err
			}
			status = c
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			return 0, nil, serverBroke("malformed CGI header line %q", line)
		}
		raw := strings.TrimSpace(line[:i])
		name := textproto.CanonicalMIMEHeaderKey(raw) // raw itself when canonical
		if strings.HasPrefix(name, "Variable-") {
			// An Authorizer's Variable-NAME: NAME becomes an environment
			// variable, whose case matters.
			name = "Variable-" + raw[len("Variable-"):]
		}
		value := strings.TrimSpace(line[i+1:])
		if name == "Status" {
			code := firstField(value)
			if code == "" {
				return 0, nil, serverBroke("empty Status header")
			}
			c, err := parseStatus(code)
			if err != nil {
				return 0, nil, err
			}
			status = c
			last = ""
			continue
		}
		if vs, ok := h[name]; ok {
			h[name] = append(vs[:len(vs):len(vs)], value) // never into the shared slice
		} else {
			vals = append(vals, value)
			h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
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

// firstField is strings.Fields(s)[0] (or "") without the slice.
func firstField(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i]
	}
	return s
}

// restFields is s after its first field.
func restFields(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[i:]
	}
	return ""
}

func parseStatus(s string) (int, error) {
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 999 {
		return 0, serverBroke("malformed status %q", s)
	}
	return code, nil
}
