package host

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/fcgihost/fcgihost/script"
)

// This file keeps a script from sending the response headers that are
// orders to the web server rather than answers to the client
// (docs/sandbox.md, "Response headers a script may not send"):
//
//   - X-Accel-* (nginx: X-Accel-Redirect serves any internal location,
//     another tenant's included), X-Sendfile, X-Sendfile2 and
//     X-LIGHTTPD-send-file / X-LIGHTTPD-send-tempfile (Apache mod_xsendfile,
//     lighttpd: serve any file the web server can read), unless the app's
//     config says allow_internal_redirect = true;
//   - Status (the CGI status line is the host's: a second one would let the
//     script pick the status the web server sees past the one it logs);
//   - a name that is not an HTTP token, or a value with a control
//     character (CR, LF and NUL are refused where the header is set; the
//     rest of C0 and DEL are dropped here).
//
// Every way a script sets a header (res.header, res.addHeader, res.cookie,
// a CGI-style printed head, a returned Response) ends in the Sink, so this
// is where they are dropped, each with a warning in the app's log.

// headerGuard drops the headers a script may not send.
type headerGuard struct {
	allowInternal bool
	log           *slog.Logger
	uri           string
}

// internalRedirect reports whether name (any case) is a header with which
// the web server serves a file or a location in the script's place.
func internalRedirect(name string) bool {
	if len(name) >= 8 && strings.EqualFold(name[:8], "x-accel-") {
		return true
	}
	switch strings.ToLower(name) {
	case "x-sendfile", "x-sendfile2", "x-lighttpd-send-file", "x-lighttpd-send-tempfile":
		return true
	}
	return false
}

// refuse returns why the header may not be sent ("" = it may).
func (g *headerGuard) refuse(name, value string) string {
	if !validName(name) {
		return "not a valid header name"
	}
	if strings.EqualFold(name, "Status") {
		return "the status is set with the response's status, not a header"
	}
	if !g.allowInternal && internalRedirect(name) {
		return "it makes the web server serve a file or an internal location (allow_internal_redirect is off)"
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "its value has a control character"
		}
	}
	return ""
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func (g *headerGuard) dropped(name, why string) {
	if g.log != nil {
		g.log.Warn("dropped a response header the script may not send", "header", name, "reason", why, "uri", g.uri)
	}
}

// fields returns f without the refused headers (f itself if none is).
func (g *headerGuard) fields(f []script.Field) []script.Field {
	for i, x := range f {
		if g.refuse(x.Name, x.Value) == "" {
			continue
		}
		out := append([]script.Field(nil), f[:i]...)
		for _, y := range f[i:] {
			if why := g.refuse(y.Name, y.Value); why != "" {
				g.dropped(y.Name, why)
				continue
			}
			out = append(out, y)
		}
		return out
	}
	return f
}

// header returns h without the refused headers (h itself if none is).
func (g *headerGuard) header(h http.Header) http.Header {
	var out http.Header
	for k, vs := range h {
		for _, v := range vs {
			if why := g.refuse(k, v); why != "" {
				if out == nil {
					out = h.Clone()
				}
				g.dropped(k, why)
				out[k] = remove(out[k], v)
				if len(out[k]) == 0 {
					delete(out, k)
				}
			}
		}
	}
	if out == nil {
		return h
	}
	return out
}

func remove(vs []string, v string) []string {
	for i, x := range vs {
		if x == v {
			return append(vs[:i:i], vs[i+1:]...)
		}
	}
	return vs
}

// GuardSink wraps a Sink so that the response headers a script may not
// send are dropped with a warning on log (allowInternal: the app's
// allow_internal_redirect). `fcgihost run` (CGI mode) uses it; requests
// through a Host get it from Serve.
func GuardSink(s script.Sink, allowInternal bool, log *slog.Logger, uri string) script.Sink {
	return &guardSink{Sink: s, g: headerGuard{allowInternal: allowInternal, log: log, uri: uri}}
}

type guardSink struct {
	script.Sink
	g headerGuard
}

// Flush flushes the wrapped sink when it can.
func (s *guardSink) Flush() error {
	if f, ok := s.Sink.(script.Flusher); ok {
		return f.Flush()
	}
	return nil
}

func (s *guardSink) WriteHeader(status int, h http.Header) error {
	return s.Sink.WriteHeader(status, s.g.header(h))
}

func (s *guardSink) WriteFields(status int, f []script.Field) error {
	f = s.g.fields(f)
	if fs, ok := s.Sink.(script.FieldSink); ok {
		return fs.WriteFields(status, f)
	}
	return s.Sink.WriteHeader(status, script.FieldsHeader(f))
}
