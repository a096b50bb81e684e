package host

import (
	"net"
	"net/http"
	"strings"
)

// ServeHTTP makes Host an http.Handler: the development listener and Go
// programs that embed fcgihost use it. The request is translated into the
// params nginx's fastcgi_params would send (with SCRIPT_NAME the decoded
// path, no SCRIPT_FILENAME), then served exactly as a FastCGI request is.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &Exchange{Params: ParamsFromHTTP(r), Body: r.Body, Sink: &httpSink{w: w}}
	h.Serve(r.Context(), x)
}

// ParamsFromHTTP returns the CGI params a front end would send for r.
func ParamsFromHTTP(r *http.Request) map[string]string {
	p := make(map[string]string, 16+len(r.Header))
	p["GATEWAY_INTERFACE"] = "CGI/1.1"
	p["SERVER_SOFTWARE"] = "fcgihost"
	p["REQUEST_METHOD"] = r.Method
	p["REQUEST_URI"] = r.RequestURI
	p["QUERY_STRING"] = r.URL.RawQuery
	p["SCRIPT_NAME"] = r.URL.Path
	p["DOCUMENT_URI"] = r.URL.Path
	p["SERVER_PROTOCOL"] = r.Proto
	if r.TLS != nil {
		p["HTTPS"] = "on"
		p["REQUEST_SCHEME"] = "https"
	} else {
		p["REQUEST_SCHEME"] = "http"
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		p["REMOTE_ADDR"], p["REMOTE_PORT"] = host, port
	} else {
		p["REMOTE_ADDR"] = r.RemoteAddr
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if host, port, err := net.SplitHostPort(la.String()); err == nil {
			p["SERVER_ADDR"], p["SERVER_PORT"] = host, port
		}
	}
	name := r.Host
	if hst, _, err := net.SplitHostPort(name); err == nil {
		name = hst
	}
	p["SERVER_NAME"] = name
	if ct := r.Header.Get("Content-Type"); ct != "" {
		p["CONTENT_TYPE"] = ct
	}
	if r.ContentLength > 0 {
		p["CONTENT_LENGTH"] = itoa(r.ContentLength)
	} else {
		p["CONTENT_LENGTH"] = ""
	}
	for k, vs := range r.Header {
		if k == "Content-Type" || k == "Content-Length" || k == "Proxy" {
			continue // httpoxy
		}
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		sep := ", "
		if k == "Cookie" {
			sep = "; "
		}
		p[name] = strings.Join(vs, sep)
	}
	if r.Host != "" {
		p["HTTP_HOST"] = r.Host
	}
	return p
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
