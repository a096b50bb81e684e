package js

// URL and URLSearchParams (README.md "Coming from Workers / Node"), in Go
// behind goja objects, built with the Fetch types on first use. Parsing is
// Go's net/url with the WHATWG URL standard's normalisations for the
// special schemes (lower-case scheme and host, default port dropped, "/"
// as the empty path, backslashes as slashes, dot segments removed); it is
// not a full WHATWG parser (no IDNA, no IPv4 number forms): the pass rate on
// the web-platform-tests data is in TestWPTURL.

import (
	"errors"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

type urlState struct {
	u      *url.URL
	params *goja.Object // searchParams, made on first read
}

type searchParams struct {
	names, values []string
	owner         *urlState // the URL whose query this is, if any
}

var specialPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21", "file": ""}

// parseURL parses s against base (may be "") as the URL constructor does.
func parseURL(s, base string) (*url.URL, error) {
	s = strings.Trim(s, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	fix := func(s string) string {
		// Backslashes are slashes in special URLs (before the query).
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			return strings.ReplaceAll(s[:i], "\\", "/") + s[i:]
		}
		return strings.ReplaceAll(s, "\\", "/")
	}
	u, err := url.Parse(fix(s))
	if err != nil {
		return nil, err
	}
	if base != "" {
		b, err := parseURL(base, "")
		if err != nil {
			return nil, err
		}
		if u.Scheme == "" || (strings.EqualFold(u.Scheme, b.Scheme) && u.Host == "" && u.Opaque != "" && isSpecial(b.Scheme)) {
			if u.Scheme != "" {
				u, _ = url.Parse(fix(s[len(u.Scheme)+1:]))
			}
			if b.Opaque != "" && !strings.HasPrefix(s, "#") {
				return nil, errors.New("relative URL against an opaque base")
			}
			u = b.ResolveReference(u)
		}
	}
	if u.Scheme == "" {
		return nil, errors.New("no scheme")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if isSpecial(u.Scheme) {
		if u.Opaque != "" {
			// "http:example.com/" is "http://example.com/".
			v, err := url.Parse(u.Scheme + "://" + strings.TrimLeft(u.Opaque, "/") + queryFrag(u))
			if err != nil {
				return nil, err
			}
			u = v
		}
		if u.Host == "" && u.Scheme != "file" {
			return nil, errors.New("empty host")
		}
		u.Host = strings.ToLower(u.Host)
		if h, p := splitHostPort(u.Host); p != "" && p == specialPorts[u.Scheme] {
			u.Host = h
		} else if strings.HasSuffix(u.Host, ":") {
			u.Host = strings.TrimSuffix(u.Host, ":")
		}
		if strings.ContainsAny(u.Hostname(), " <>^|%") {
			return nil, errors.New("invalid host")
		}
		if u.Path == "" {
			u.Path = "/"
		} else {
			clean := path.Clean(u.Path)
			if strings.HasSuffix(u.Path, "/") || strings.HasSuffix(u.Path, "/.") || strings.HasSuffix(u.Path, "/..") {
				if clean != "/" {
					clean += "/"
				}
			}
			u.Path, u.RawPath = clean, ""
		}
	}
	return u, nil
}

func queryFrag(u *url.URL) string {
	s := ""
	if u.RawQuery != "" || u.ForceQuery {
		s += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		s += "#" + u.EscapedFragment()
	}
	return s
}

func isSpecial(scheme string) bool {
	_, ok := specialPorts[strings.ToLower(scheme)]
	return ok
}

func splitHostPort(h string) (string, string) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.Contains(h[i:], "]") {
		return h, ""
	}
	return h[:i], h[i+1:]
}

func href(u *url.URL) string {
	return u.String()
}

func (v *jsVM) urlState(this goja.Value) *urlState {
	s, ok := v.state(this).(*urlState)
	if !ok {
		v.typeError("Illegal invocation: not a URL object")
	}
	return s
}

func (v *jsVM) paramsState(this goja.Value) *searchParams {
	s, ok := v.state(this).(*searchParams)
	if !ok {
		v.typeError("Illegal invocation: not a URLSearchParams object")
	}
	return s
}

// installURL adds URL and URLSearchParams to t.
func (v *jsVM) installURL(t *fetchTypes) {
	rt := v.rt
	t.urlCtor, t.urlProto = v.makeClass("URL", func(c goja.ConstructorCall) *goja.Object {
		base := ""
		if b := c.Argument(1); !goja.IsUndefined(b) {
			base = b.String()
		}
		u, err := parseURL(c.Argument(0).String(), base)
		if err != nil {
			v.typeError("Invalid URL: %q", c.Argument(0).String())
		}
		o := rt.NewObject()
		o.SetPrototype(t.urlProto)
		v.attach(o, &urlState{u: u})
		return o
	}, map[string]func(goja.FunctionCall) goja.Value{
		"toString": func(c goja.FunctionCall) goja.Value { return rt.ToValue(href(v.urlState(c.This).u)) },
		"toJSON":   func(c goja.FunctionCall) goja.Value { return rt.ToValue(href(v.urlState(c.This).u)) },
	})
	_ = t.urlCtor.Set("canParse", func(c goja.FunctionCall) goja.Value {
		base := ""
		if b := c.Argument(1); !goja.IsUndefined(b) {
			base = b.String()
		}
		_, err := parseURL(c.Argument(0).String(), base)
		return rt.ToValue(err == nil)
	})
	type prop struct {
		get func(*url.URL) string
		set func(*url.URL, string)
	}
	props := map[string]prop{
		"href":     {get: href},
		"origin":   {get: func(u *url.URL) string { return origin(u) }},
		"protocol": {get: func(u *url.URL) string { return u.Scheme + ":" }},
		"username": {get: func(u *url.URL) string { return u.User.Username() }},
		"password": {get: func(u *url.URL) string { p, _ := u.User.Password(); return p }},
		"host":     {get: func(u *url.URL) string { return u.Host }},
		"hostname": {get: func(u *url.URL) string { h, _ := splitHostPort(u.Host); return h }},
		"port":     {get: func(u *url.URL) string { _, p := splitHostPort(u.Host); return p }},
		"pathname": {get: func(u *url.URL) string {
			if u.Opaque != "" {
				return u.Opaque
			}
			return u.EscapedPath()
		}, set: func(u *url.URL, s string) {
			if !strings.HasPrefix(s, "/") && isSpecial(u.Scheme) {
				s = "/" + s
			}
			u.Path, u.RawPath = s, ""
		}},
		"search": {get: func(u *url.URL) string {
			if u.RawQuery == "" {
				return ""
			}
			return "?" + u.RawQuery
		}, set: func(u *url.URL, s string) { u.RawQuery = strings.TrimPrefix(s, "?"); u.ForceQuery = false }},
		"hash": {get: func(u *url.URL) string {
			if u.Fragment == "" {
				return ""
			}
			return "#" + u.EscapedFragment()
		}, set: func(u *url.URL, s string) { u.Fragment = strings.TrimPrefix(s, "#"); u.RawFragment = "" }},
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := props[n]
		getter := rt.ToValue(func(c goja.FunctionCall) goja.Value { return rt.ToValue(p.get(v.urlState(c.This).u)) })
		var setter goja.Value
		if p.set != nil {
			setter = rt.ToValue(func(c goja.FunctionCall) goja.Value {
				s := v.urlState(c.This)
				p.set(s.u, c.Argument(0).String())
				if s.params != nil {
					v.paramsState(s.params).load(s.u.RawQuery)
				}
				return goja.Undefined()
			})
		}
		_ = t.urlProto.DefineAccessorProperty(n, getter, setter, goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
	_ = t.urlProto.DefineAccessorProperty("searchParams", rt.ToValue(func(c goja.FunctionCall) goja.Value {
		s := v.urlState(c.This)
		if s.params == nil {
			sp := &searchParams{owner: s}
			sp.load(s.u.RawQuery)
			s.params = v.newParams(sp)
		}
		return s.params
	}), nil, goja.FLAG_TRUE, goja.FLAG_TRUE)

	t.uspCtor, t.uspProto = v.makeClass("URLSearchParams", func(c goja.ConstructorCall) *goja.Object {
		sp := &searchParams{}
		init := c.Argument(0)
		switch x := init.(type) {
		case *goja.Object:
			if other, ok := v.state(x).(*searchParams); ok {
				sp.names, sp.values = append([]string(nil), other.names...), append([]string(nil), other.values...)
			} else if it := x.GetSymbol(goja.SymIterator); it != nil && !goja.IsUndefined(it) {
				from, _ := goja.AssertFunction(rt.Get("Array").ToObject(rt).Get("from"))
				arr, err := from(goja.Undefined(), x)
				if err != nil {
					panic(err)
				}
				ao := arr.ToObject(rt)
				n := int(ao.Get("length").ToInteger())
				for i := 0; i < n; i++ {
					po, ok := ao.Get(strconv.Itoa(i)).(*goja.Object)
					if !ok || po.Get("length").ToInteger() != 2 {
						v.typeError("URLSearchParams: each entry must be a [name, value] pair")
					}
					sp.add(po.Get("0").String(), po.Get("1").String())
				}
			} else {
				for _, k := range x.Keys() {
					sp.add(k, x.Get(k).String())
				}
			}
		default:
			if init != nil && !goja.IsUndefined(init) && !goja.IsNull(init) {
				sp.load(strings.TrimPrefix(init.String(), "?"))
			}
		}
		return v.newParams(sp)
	}, map[string]func(goja.FunctionCall) goja.Value{
		"append": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			sp.add(c.Argument(0).String(), c.Argument(1).String())
			sp.sync()
			return goja.Undefined()
		},
		"set": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name, val := c.Argument(0).String(), c.Argument(1).String()
			found := false
			j := 0
			for i, n := range sp.names {
				if n == name {
					if found {
						continue
					}
					found = true
					sp.values[i] = val
				}
				sp.names[j], sp.values[j] = n, sp.values[i]
				j++
			}
			sp.names, sp.values = sp.names[:j], sp.values[:j]
			if !found {
				sp.add(name, val)
			}
			sp.sync()
			return goja.Undefined()
		},
		"delete": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name := c.Argument(0).String()
			val, hasVal := "", !goja.IsUndefined(c.Argument(1))
			if hasVal {
				val = c.Argument(1).String()
			}
			j := 0
			for i, n := range sp.names {
				if n == name && (!hasVal || sp.values[i] == val) {
					continue
				}
				sp.names[j], sp.values[j] = n, sp.values[i]
				j++
			}
			sp.names, sp.values = sp.names[:j], sp.values[:j]
			sp.sync()
			return goja.Undefined()
		},
		"get": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			for i, n := range sp.names {
				if n == c.Argument(0).String() {
					return rt.ToValue(sp.values[i])
				}
			}
			return goja.Null()
		},
		"getAll": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			out := []any{}
			for i, n := range sp.names {
				if n == c.Argument(0).String() {
					out = append(out, sp.values[i])
				}
			}
			return rt.NewArray(out...)
		},
		"has": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			for i, n := range sp.names {
				if n == c.Argument(0).String() && (goja.IsUndefined(c.Argument(1)) || sp.values[i] == c.Argument(1).String()) {
					return rt.ToValue(true)
				}
			}
			return rt.ToValue(false)
		},
		"sort": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			idx := make([]int, len(sp.names))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return utf16Less(sp.names[idx[a]], sp.names[idx[b]]) })
			n, vals := make([]string, len(idx)), make([]string, len(idx))
			for i, k := range idx {
				n[i], vals[i] = sp.names[k], sp.values[k]
			}
			sp.names, sp.values = n, vals
			sp.sync()
			return goja.Undefined()
		},
		"toString": func(c goja.FunctionCall) goja.Value { return rt.ToValue(v.paramsState(c.This).encode()) },
		"forEach": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			fn, ok := goja.AssertFunction(c.Argument(0))
			if !ok {
				v.typeError("URLSearchParams.forEach: callback is not a function")
			}
			for i := 0; i < len(sp.names); i++ {
				if _, err := fn(c.Argument(1), rt.ToValue(sp.values[i]), rt.ToValue(sp.names[i]), c.This); err != nil {
					panic(err)
				}
			}
			return goja.Undefined()
		},
		"entries": func(c goja.FunctionCall) goja.Value { return v.paramsIter(c, 0) },
		"keys":    func(c goja.FunctionCall) goja.Value { return v.paramsIter(c, 1) },
		"values":  func(c goja.FunctionCall) goja.Value { return v.paramsIter(c, 2) },
	})
	_ = t.uspProto.SetSymbol(goja.SymIterator, t.uspProto.Get("entries"))
	_ = t.uspProto.DefineAccessorProperty("size", rt.ToValue(func(c goja.FunctionCall) goja.Value {
		return rt.ToValue(len(v.paramsState(c.This).names))
	}), nil, goja.FLAG_TRUE, goja.FLAG_TRUE)
}

func (v *jsVM) newParams(sp *searchParams) *goja.Object {
	o := v.rt.NewObject()
	o.SetPrototype(v.ftypes.uspProto)
	v.attach(o, sp)
	return o
}

func (v *jsVM) paramsIter(c goja.FunctionCall, kind int) goja.Value {
	sp := v.paramsState(c.This)
	items := make([]any, len(sp.names))
	for i := range sp.names {
		switch kind {
		case 0:
			items[i] = v.rt.NewArray(sp.names[i], sp.values[i])
		case 1:
			items[i] = sp.names[i]
		default:
			items[i] = sp.values[i]
		}
	}
	arr := v.rt.NewArray(items...)
	fn, _ := goja.AssertFunction(arr.Get("values"))
	it, err := fn(arr)
	if err != nil {
		panic(err)
	}
	return it
}

func (sp *searchParams) add(n, val string) {
	sp.names = append(sp.names, n)
	sp.values = append(sp.values, val)
}

// load parses an application/x-www-form-urlencoded string.
func (sp *searchParams) load(q string) {
	sp.names, sp.values = nil, nil
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		sp.add(formDecode(k), formDecode(val))
	}
}

func formDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// formEncode is the application/x-www-form-urlencoded byte serializer.
func formEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('+')
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

func (sp *searchParams) encode() string {
	parts := make([]string, len(sp.names))
	for i := range sp.names {
		parts[i] = formEncode(sp.names[i]) + "=" + formEncode(sp.values[i])
	}
	return strings.Join(parts, "&")
}

// sync writes the params back into their URL's query.
func (sp *searchParams) sync() {
	if sp.owner != nil {
		sp.owner.u.RawQuery = sp.encode()
		sp.owner.u.ForceQuery = false
	}
}

func origin(u *url.URL) string {
	switch u.Scheme {
	case "http", "https", "ws", "wss", "ftp":
		return u.Scheme + "://" + u.Host
	}
	return "null"
}

func utf16Less(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		x, y := utf16Key(ra[i]), utf16Key(rb[i])
		if x != y {
			return x < y
		}
	}
	return len(ra) < len(rb)
}

func utf16Key(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}
