package registry

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ResolveError is a request that finds no app; Status is what the client
// gets (400, 403 or 404) and the message what the log says.
type ResolveError struct {
	Status int
	Msg    string
}

func (e *ResolveError) Error() string { return e.Msg }

func resolveErr(status int, format string, args ...any) *ResolveError {
	return &ResolveError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// RequestPath is the path a request names, the one status_path, ping_path
// and app dispatch are matched against: SCRIPT_NAME + PATH_INFO when the
// front end sends either, else DOCUMENT_URI, else REQUEST_URI without its
// query. A path with a ".." segment, a NUL byte or an encoded slash is a
// 400 ResolveError.
func RequestPath(params map[string]string) (string, error) {
	raw := params["REQUEST_URI"]
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if hasEncodedSlashOrNUL(raw) {
		return "", resolveErr(400, "request URI %q has an encoded slash or NUL", raw)
	}
	var p string
	switch {
	case params["SCRIPT_NAME"] != "" || params["PATH_INFO"] != "":
		p = params["SCRIPT_NAME"] + params["PATH_INFO"]
	case params["DOCUMENT_URI"] != "":
		p = params["DOCUMENT_URI"]
	default:
		if u, err := url.PathUnescape(raw); err == nil {
			p = u
		} else {
			return "", resolveErr(400, "request URI %q: %v", raw, err)
		}
	}
	if err := checkPath(p); err != nil {
		return "", err
	}
	if err := checkPath(raw); err != nil {
		return "", err
	}
	if p == "" {
		p = "/"
	}
	return p, nil
}

func checkPath(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return resolveErr(400, "path %q has a NUL byte", p)
	}
	if strings.Contains(p, "\\") {
		return resolveErr(400, "path %q has a backslash", p)
	}
	for rest := p; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == ".." {
			return resolveErr(400, "path %q has a '..' segment", p)
		}
	}
	return nil
}

// hasEncodedSlashOrNUL reports whether s has %2f, %5c or %00 (any case).
func hasEncodedSlashOrNUL(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
		switch s[i+1 : i+3] {
		case "2f", "2F", "5c", "5C", "00":
			return true
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// splitFirst returns the first segment of p ("/a/b" → "a", "/b").
func splitFirst(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	seg, rest, found := strings.Cut(p, "/")
	if !found {
		return seg, "/"
	}
	return seg, "/" + rest
}

// stripProxyPrefix removes Apache mod_proxy's "proxy:fcgi://HOST:PORT",
// "proxy:scgi://HOST:PORT" or "proxy:uwsgi://HOST:PORT" prefix from
// SCRIPT_FILENAME. gateway reports an SCGI or uwsgi prefix: for those,
// what remains is the path of the ProxyPass target when it names no file
// (docs/deploy/README.md).
func stripProxyPrefix(sf string) (rest string, gateway bool) {
	for _, p := range [...]string{"proxy:fcgi://", "proxy:scgi://", "proxy:uwsgi://"} {
		if r, ok := strings.CutPrefix(sf, p); ok {
			gw := p != "proxy:fcgi://"
			if i := strings.IndexByte(r, '/'); i >= 0 {
				return r[i:], gw
			}
			if gw {
				return "/", true
			}
			return "", false
		}
	}
	return sf, false
}

// within reports whether path is dir or inside it (both clean, absolute,
// real).
func within(path, dir string) bool {
	if dir == "" {
		return false
	}
	if path == dir {
		return true
	}
	return strings.HasPrefix(path, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

var errNotFile = errors.New("not a regular file")

// realFile returns the real path of an existing regular file, or an error.
func realFile(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("NUL byte in path")
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", errNotFile
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(r)
}
