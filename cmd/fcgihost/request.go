package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// requestFlags are shared by request and bench.
type requestFlags struct {
	connect string
	method  string
	data    string
	headers multiFlag
	params  multiFlag
	root    string
	timeout time.Duration
}

func (f *requestFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.connect, "connect", "127.0.0.1:9000", "FastCGI server `ADDR` (host:port, [::1]:port or unix:/path)")
	fs.StringVar(&f.method, "X", "", "request `METHOD` (default GET, or POST with -d)")
	fs.StringVar(&f.data, "d", "", "request body `DATA`, or @FILE to read it from FILE (@- = stdin)")
	fs.Var(&f.headers, "H", "request header `'Name: value'` (repeatable)")
	fs.Var(&f.params, "param", "extra FastCGI param `NAME=VALUE` (repeatable; wins over the computed ones)")
	fs.StringVar(&f.root, "root", "", "document root `DIR`: sets DOCUMENT_ROOT and SCRIPT_FILENAME=DIR+path as nginx's fastcgi.conf does")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "give up after this long")
}

// build returns the params and body a front end would send for target
// (a path with an optional query string).
func (f *requestFlags) build(target string, stdin io.Reader) (map[string]string, []byte, error) {
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, nil, fmt.Errorf("bad path %q: %w", target, err)
	}
	var body []byte
	if f.data != "" {
		if name, ok := strings.CutPrefix(f.data, "@"); ok {
			if name == "-" {
				body, err = io.ReadAll(stdin)
			} else {
				body, err = os.ReadFile(name)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("read body: %w", err)
			}
		} else {
			body = []byte(f.data)
		}
	}
	method := f.method
	if method == "" {
		method = "GET"
		if f.data != "" {
			method = "POST"
		}
	}
	p := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "fcgihost-request",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_NAME":       "localhost",
		"SERVER_ADDR":       "127.0.0.1",
		"SERVER_PORT":       "80",
		"REMOTE_ADDR":       "127.0.0.1",
		"REMOTE_PORT":       "50000",
		"REQUEST_SCHEME":    "http",
		"REQUEST_METHOD":    method,
		"REQUEST_URI":       u.RequestURI(),
		"QUERY_STRING":      u.RawQuery,
		"SCRIPT_NAME":       u.Path,
		"DOCUMENT_URI":      u.Path,
		"CONTENT_LENGTH":    "",
		"CONTENT_TYPE":      "",
		"HTTP_HOST":         "localhost",
	}
	if len(body) > 0 || f.data != "" {
		p["CONTENT_LENGTH"] = strconv.Itoa(len(body))
		p["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
	}
	if f.root != "" {
		root, err := filepath.Abs(f.root)
		if err != nil {
			return nil, nil, err
		}
		script, info := splitScript(path.Clean(u.Path))
		p["DOCUMENT_ROOT"] = root
		p["SCRIPT_FILENAME"] = root + script
		if info != "" {
			p["SCRIPT_NAME"], p["PATH_INFO"] = script, info
		}
	}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, nil, fmt.Errorf("bad header %q: want 'Name: value'", h)
		}
		name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		switch name {
		case "Content-Type":
			p["CONTENT_TYPE"] = value
		case "Content-Length":
			p["CONTENT_LENGTH"] = value
		default:
			p["HTTP_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = value
		}
	}
	for _, kv := range f.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, nil, fmt.Errorf("bad --param %q: want NAME=VALUE", kv)
		}
		p[k] = v
	}
	return p, body, nil
}

// splitScript splits a path after its first segment ending in .js or .lua,
// as nginx's "fastcgi_split_path_info ^(.+?\.(?:js|lua))(/.*)$" does:
// "/app.js/a/b" → ("/app.js", "/a/b"). A path without such a segment is
// all script.
func splitScript(p string) (script, info string) {
	for i := 1; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if seg := p[:i]; strings.HasSuffix(seg, ".js") || strings.HasSuffix(seg, ".lua") {
			return seg, p[i:]
		}
	}
	return p, ""
}

// request sends one FastCGI request and prints the body (-i: the status
// line and headers first; the script's stderr goes to stderr). Exit 1 on a
// transport or protocol error, 2 on bad usage, 22 with -f when the status
// is 400 or more (as curl -f does).
func (m *Main) request(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("request", flag.ContinueOnError)
	var rf requestFlags
	rf.bind(fs)
	include := fs.Bool("i", false, "print the status line and headers before the body")
	fail := fs.Bool("f", false, "exit 22 when the status is 400 or more")
	authorizer := fs.Bool("authorizer", false, "send the request in the FastCGI Authorizer role (no body)")
	if err := m.parseFlags(fs, requestUsage, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return m.usageError("request", "expected one PATH")
	}
	params, body, err := rf.build(fs.Arg(0), m.Stdin)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	role := fcgi.RoleResponder
	if *authorizer {
		role, body = fcgi.RoleAuthorizer, nil
		delete(params, "CONTENT_LENGTH")
	}
	ctx, cancel := context.WithTimeout(ctx, rf.timeout)
	defer cancel()
	c := &fcgi.Client{Addr: rf.connect}
	defer c.Close()
	resp, err := c.Do(ctx, &fcgi.ClientRequest{Role: role, Params: params, Body: bytes.NewReader(body)})
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("request to %s: %w", rf.connect, err)}
	}
	defer resp.Body.Close()
	if *include {
		fmt.Fprintf(m.Stdout, "HTTP/1.1 %d %s\r\n", resp.Status, statusText(resp.Status))
		keys := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(m.Stdout, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprint(m.Stdout, "\r\n")
	}
	_, err = io.Copy(m.Stdout, resp.Body)
	if len(resp.Stderr) > 0 {
		m.Stderr.Write(resp.Stderr)
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("read response from %s: %w", rf.connect, err)}
	}
	if *fail && resp.Status >= 400 {
		return &exitError{code: 22, err: fmt.Errorf("%s: status %d", fs.Arg(0), resp.Status)}
	}
	return nil
}
