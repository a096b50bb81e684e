package main

// This file holds `fcgihost run FILE` by hand (no GATEWAY_INTERFACE): the
// classic CGI classroom demo, `echo a=1 | REQUEST_METHOD=POST fcgihost run
// apps/cgi-env.js`. The request is what the environment gives, the rest
// filled in; the host's other environment variables never reach the
// script (README.md, "CGI style").

import (
	"io"
	"os"
	"strconv"
	"strings"
)

// cgiMetaVars are the request variables of CGI (RFC 3875 §4.1) and the
// usual extras taken from the environment by hand; HTTP_* are taken too.
var cgiMetaVars = []string{
	"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "DOCUMENT_ROOT", "HTTPS", "PATH_INFO",
	"PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT",
	"REMOTE_USER", "REQUEST_METHOD", "REQUEST_SCHEME", "REQUEST_URI", "SCRIPT_NAME",
	"SERVER_ADDR", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
}

// byHandParams returns the request of `fcgihost run` by hand: a GET of /
// from 127.0.0.1 unless the environment's CGI variables say otherwise.
// Without CONTENT_LENGTH, a method other than GET and HEAD reads its body
// from stdin when stdin is not a terminal (at most maxBody+1 bytes: one
// more than allowed is how the caller sees a body too large), and a body
// without CONTENT_TYPE is a form (application/x-www-form-urlencoded, as
// curl -d sends).
func (m *Main) byHandParams(maxBody int64) (map[string]string, []byte, error) {
	p := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/", "QUERY_STRING": "",
		"SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
		"SERVER_SOFTWARE": "fcgihost", "REMOTE_ADDR": "127.0.0.1",
	}
	for _, kv := range m.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if strings.HasPrefix(k, "HTTP_") {
			p[k] = v
		}
	}
	for _, k := range cgiMetaVars {
		if v := m.Getenv(k); v != "" {
			p[k] = v
		}
	}
	p["REQUEST_METHOD"] = strings.ToUpper(p["REQUEST_METHOD"])
	if p["REQUEST_URI"] == "" {
		uri := p["PATH_INFO"]
		if uri == "" {
			uri = "/"
		}
		if q := p["QUERY_STRING"]; q != "" {
			uri += "?" + q
		}
		p["REQUEST_URI"] = uri
	}
	var body []byte
	if _, given := p["CONTENT_LENGTH"]; !given && p["REQUEST_METHOD"] != "GET" && p["REQUEST_METHOD"] != "HEAD" && !isTerminal(m.Stdin) {
		b, err := io.ReadAll(io.LimitReader(m.Stdin, maxBody+1))
		if err != nil {
			return nil, nil, err
		}
		body = b
		p["CONTENT_LENGTH"] = strconv.Itoa(len(b))
		if p["CONTENT_TYPE"] == "" && len(b) > 0 {
			p["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
		}
	}
	return p, body, nil
}

// isTerminal reports whether r is a terminal (nobody typed a body).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
