package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Request is what a script sees of one request. The host fills it from the
// FastCGI params (or the dev HTTP listener's translation into the same
// params); engines only read it. The host reuses a Request (and its Params)
// once VM.Serve has returned: an engine must not read it after that (a req
// object a script kept must fail). Params the front end did not send read as
// "".
type Request struct {
	// Params is every FastCGI param as sent (the CGI environment).
	Params map[string]string
	// Method is REQUEST_METHOD ("GET" if absent).
	Method string
	// URI is REQUEST_URI as sent.
	URI string
	// Path is the path within the app, always starting "/".
	Path string
	// Base is the URL path the app is mounted at, without a trailing
	// slash: "/blog" for /blog/post/1, "/app/blog" under a prefix, "" for
	// an app at the root. Base + Path is the request's path; links and
	// Location headers built on it stay inside the app.
	Base string
	// RawQuery is QUERY_STRING.
	RawQuery string
	// RemoteAddr is REMOTE_ADDR.
	RemoteAddr string
	// Body is the request body, read in full (bounded by max_body).
	Body []byte

	qonce, honce, conce sync.Once
	query               url.Values
	qorder              []string
	headers             map[string]string
	cookies             map[string]string
}

// Param returns the named param or "".
func (r *Request) Param(name string) string { return r.Params[name] }

// parseQuery, parseHeaders and parseCookies fill the parsed views on first
// use: a handler that reads only the query does not pay for the headers.
func (r *Request) parseQuery() {
	r.qonce.Do(func() {
		if r.RawQuery != "" {
			r.query, r.qorder = parseQueryOrdered(r.RawQuery)
		}
	})
}

func (r *Request) parseHeaders() {
	r.honce.Do(func() {
		r.headers = make(map[string]string)
		// Two params may give one header (CONTENT_TYPE and
		// HTTP_CONTENT_TYPE): the smaller param name wins, whatever the
		// map's order, as in both engines.
		from := make(map[string]string)
		put := func(param, name, v string) {
			if prev, ok := from[name]; ok && prev < param {
				return
			}
			from[name] = param
			r.headers[name] = v
		}
		for k, v := range r.Params {
			switch {
			case strings.HasPrefix(k, "HTTP_"):
				put(k, strings.ToLower(strings.ReplaceAll(k[5:], "_", "-")), v)
			case k == "CONTENT_TYPE":
				if v != "" {
					put(k, "content-type", v)
				}
			case k == "CONTENT_LENGTH":
				if v != "" {
					put(k, "content-length", v)
				}
			}
		}
	})
}

func (r *Request) parseCookies() {
	r.parseHeaders()
	r.conce.Do(func() {
		r.cookies = make(map[string]string)
		if c := r.headers["cookie"]; c != "" {
			for _, ck := range parseCookies(c) {
				if _, dup := r.cookies[ck.Name]; !dup {
					r.cookies[ck.Name] = ck.Value
				}
			}
		}
	})
}

// Query returns name → first value of the query string.
func (r *Request) Query() map[string]string {
	r.parseQuery()
	m := make(map[string]string, len(r.query))
	for k, v := range r.query {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

// QueryAll returns every value of name in the query string, in order.
func (r *Request) QueryAll(name string) []string {
	r.parseQuery()
	return append([]string(nil), r.query[name]...)
}

// Headers returns lower-case header name → value, from HTTP_* params plus
// content-type and content-length.
func (r *Request) Headers() map[string]string {
	r.parseHeaders()
	return r.headers
}

// Cookies returns cookie name → value (the first of duplicates).
func (r *Request) Cookies() map[string]string {
	r.parseCookies()
	return r.cookies
}

// ContentType is the media type of the body, lower-case, without params.
func (r *Request) ContentType() string {
	mt, _, _ := mime.ParseMediaType(r.Params["CONTENT_TYPE"])
	return strings.ToLower(mt)
}

// ErrBadRequest marks an error caused by the client's input (bad JSON, a
// malformed form); uncaught, it answers 400.
var ErrBadRequest = errors.New("bad request")

// JSON decodes the body as JSON into a generic Go value (map[string]any,
// []any, string, float64, bool, nil). An error wraps ErrBadRequest.
func (r *Request) JSON() (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("request body is not JSON: %v: %w", err, ErrBadRequest)
	}
	if dec.More() {
		return nil, fmt.Errorf("request body has data after the JSON value: %w", ErrBadRequest)
	}
	return v, nil
}

// File is one uploaded multipart file.
type File struct {
	Filename string
	Type     string
	Data     []byte
}

// Form returns the fields of an urlencoded or multipart body (name → first
// value) and, for multipart, the files (field name → first file). A body of
// another type gives empty maps. A malformed body wraps ErrBadRequest.
func (r *Request) Form() (fields map[string]string, files map[string]*File, err error) {
	fields = map[string]string{}
	files = map[string]*File{}
	mt, params, _ := mime.ParseMediaType(r.Params["CONTENT_TYPE"])
	switch strings.ToLower(mt) {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(r.Body))
		if err != nil {
			return fields, files, fmt.Errorf("urlencoded body: %v: %w", err, ErrBadRequest)
		}
		for k, v := range vals {
			if len(v) > 0 {
				fields[k] = v[0]
			}
		}
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return fields, files, fmt.Errorf("multipart body without boundary: %w", ErrBadRequest)
		}
		mr := multipart.NewReader(bytes.NewReader(r.Body), boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fields, files, fmt.Errorf("multipart body: %v: %w", err, ErrBadRequest)
			}
			data, err := io.ReadAll(p)
			if err != nil {
				return fields, files, fmt.Errorf("multipart body: %v: %w", err, ErrBadRequest)
			}
			name := p.FormName()
			if p.FileName() != "" {
				if _, dup := files[name]; !dup {
					ct := p.Header.Get("Content-Type")
					if ct == "" {
						ct = "application/octet-stream"
					}
					files[name] = &File{Filename: p.FileName(), Type: ct, Data: data}
				}
				continue
			}
			if _, dup := fields[name]; !dup {
				fields[name] = string(data)
			}
		}
	}
	return fields, files, nil
}

// parseQueryOrdered parses a query string leniently (bad escapes are kept
// as written, ';' is not a separator).
func parseQueryOrdered(q string) (url.Values, []string) {
	vals := url.Values{}
	var order []string
	QueryParts(q, func(k, v string) bool {
		k, v = QueryUnescape(k), QueryUnescape(v)
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = append(vals[k], v)
		return true
	})
	return vals, order
}

func parseCookies(h string) []*http.Cookie {
	req := http.Request{Header: http.Header{"Cookie": {h}}}
	return req.Cookies()
}
