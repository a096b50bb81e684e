package js

// URL and URLSearchParams (README.md "Coming from Workers / Node",
// docs/url.md), in Go behind goja objects, built with the Fetch types on
// first use. Parsing and serialising are the WHATWG URL standard's, shared
// with Lua's url.parse in script/builtin (ParseWebURL, ParseForm,
// SerializeForm); the pass rate on the web-platform-tests data is in
// TestWPTURL.

import (
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script/builtin"
)

type urlState struct {
	u      *builtin.WebURL
	params *goja.Object // searchParams, made on first read
}

type searchParams struct {
	list  []builtin.FormPair
	owner *urlState // the URL whose query this is, if any
}

// parseURLArgs parses the (url, base) arguments of new URL, URL.parse and
// URL.canParse.
func parseURLArgs(c goja.FunctionCall) (*builtin.WebURL, error) {
	var base *string
	if b := c.Argument(1); !goja.IsUndefined(b) {
		s := b.String()
		base = &s
	}
	return builtin.ParseWebURL(c.Argument(0).String(), base)
}

func (v *jsVM) urlState(this goja.Value) *urlState { return stateAs[urlState](v, this, "URL") }

func (v *jsVM) paramsState(this goja.Value) *searchParams {
	return stateAs[searchParams](v, this, "URLSearchParams")
}

// installURL adds URL and URLSearchParams to t.
func (v *jsVM) installURL(t *fetchTypes) {
	rt := v.rt
	newURL := func(u *builtin.WebURL) *goja.Object {
		o := rt.NewObject()
		o.SetPrototype(t.urlProto)
		v.attach(o, &urlState{u: u})
		return o
	}
	t.urlCtor, t.urlProto = v.makeClass("URL", func(c goja.ConstructorCall) *goja.Object {
		u, err := parseURLArgs(goja.FunctionCall{This: c.This, Arguments: c.Arguments})
		if err != nil {
			v.typeError("Invalid URL: %q", c.Argument(0).String())
		}
		return newURL(u)
	}, map[string]func(goja.FunctionCall) goja.Value{
		"toString": func(c goja.FunctionCall) goja.Value { return rt.ToValue(v.urlState(c.This).u.Href()) },
		"toJSON":   func(c goja.FunctionCall) goja.Value { return rt.ToValue(v.urlState(c.This).u.Href()) },
	})
	_ = t.urlCtor.Set("canParse", func(c goja.FunctionCall) goja.Value {
		_, err := parseURLArgs(c)
		return rt.ToValue(err == nil)
	})
	_ = t.urlCtor.Set("parse", func(c goja.FunctionCall) goja.Value {
		u, err := parseURLArgs(c)
		if err != nil {
			return goja.Null()
		}
		return newURL(u)
	})
	type prop struct {
		get func(*builtin.WebURL) string
		set func(*builtin.WebURL, string)
	}
	props := map[string]prop{
		"href": {get: (*builtin.WebURL).Href, set: func(u *builtin.WebURL, s string) {
			if err := u.SetHref(s); err != nil {
				v.typeError("Invalid URL: %q", s)
			}
		}},
		"origin":   {get: (*builtin.WebURL).Origin},
		"protocol": {get: (*builtin.WebURL).Protocol, set: (*builtin.WebURL).SetProtocol},
		"username": {get: (*builtin.WebURL).Username, set: (*builtin.WebURL).SetUsername},
		"password": {get: (*builtin.WebURL).Password, set: (*builtin.WebURL).SetPassword},
		"host":     {get: (*builtin.WebURL).Host, set: (*builtin.WebURL).SetHost},
		"hostname": {get: (*builtin.WebURL).Hostname, set: (*builtin.WebURL).SetHostname},
		"port":     {get: (*builtin.WebURL).Port, set: (*builtin.WebURL).SetPort},
		"pathname": {get: (*builtin.WebURL).Pathname, set: (*builtin.WebURL).SetPathname},
		"search":   {get: (*builtin.WebURL).Search, set: (*builtin.WebURL).SetSearch},
		"hash":     {get: (*builtin.WebURL).Hash, set: (*builtin.WebURL).SetHash},
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
				if s.params != nil && (n == "href" || n == "search") {
					v.paramsState(s.params).list = builtin.ParseForm(s.u.Query())
				}
				return goja.Undefined()
			})
		}
		_ = t.urlProto.DefineAccessorProperty(n, getter, setter, goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
	_ = t.urlProto.DefineAccessorProperty("searchParams", rt.ToValue(func(c goja.FunctionCall) goja.Value {
		s := v.urlState(c.This)
		if s.params == nil {
			s.params = v.newParams(&searchParams{owner: s, list: builtin.ParseForm(s.u.Query())})
		}
		return s.params
	}), nil, goja.FLAG_TRUE, goja.FLAG_TRUE)

	t.uspCtor, t.uspProto = v.makeClass("URLSearchParams", func(c goja.ConstructorCall) *goja.Object {
		sp := &searchParams{}
		init := c.Argument(0)
		switch x := init.(type) {
		case *goja.Object:
			if other, ok := v.state(x).(*searchParams); ok {
				sp.list = append([]builtin.FormPair(nil), other.list...)
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
					sp.list = append(sp.list, builtin.FormPair{Name: po.Get("0").String(), Value: po.Get("1").String()})
				}
			} else {
				// Object.entries, not Keys: a key with a lone surrogate
				// must still find its value.
				entries, _ := goja.AssertFunction(rt.Get("Object").ToObject(rt).Get("entries"))
				arr, err := entries(goja.Undefined(), x)
				if err != nil {
					panic(err)
				}
				ao := arr.ToObject(rt)
				n := int(ao.Get("length").ToInteger())
				for i := 0; i < n; i++ {
					po := ao.Get(strconv.Itoa(i)).ToObject(rt)
					sp.list = append(sp.list, builtin.FormPair{Name: po.Get("0").String(), Value: po.Get("1").String()})
				}
			}
		default:
			if init != nil && !goja.IsUndefined(init) && !goja.IsNull(init) {
				sp.list = builtin.ParseForm(strings.TrimPrefix(init.String(), "?"))
			}
		}
		return v.newParams(sp)
	}, map[string]func(goja.FunctionCall) goja.Value{
		"append": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			sp.list = append(sp.list, builtin.FormPair{Name: c.Argument(0).String(), Value: c.Argument(1).String()})
			sp.update()
			return goja.Undefined()
		},
		"set": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name, val := c.Argument(0).String(), c.Argument(1).String()
			found := false
			out := sp.list[:0]
			for _, p := range sp.list {
				if p.Name == name {
					if found {
						continue
					}
					found = true
					p.Value = val
				}
				out = append(out, p)
			}
			sp.list = out
			if !found {
				sp.list = append(sp.list, builtin.FormPair{Name: name, Value: val})
			}
			sp.update()
			return goja.Undefined()
		},
		"delete": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name := c.Argument(0).String()
			val, hasVal := "", !goja.IsUndefined(c.Argument(1))
			if hasVal {
				val = c.Argument(1).String()
			}
			out := sp.list[:0]
			for _, p := range sp.list {
				if p.Name == name && (!hasVal || p.Value == val) {
					continue
				}
				out = append(out, p)
			}
			sp.list = out
			sp.update()
			return goja.Undefined()
		},
		"get": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name := c.Argument(0).String()
			for _, p := range sp.list {
				if p.Name == name {
					return rt.ToValue(p.Value)
				}
			}
			return goja.Null()
		},
		"getAll": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name := c.Argument(0).String()
			out := []any{}
			for _, p := range sp.list {
				if p.Name == name {
					out = append(out, p.Value)
				}
			}
			return rt.NewArray(out...)
		},
		"has": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			name := c.Argument(0).String()
			for _, p := range sp.list {
				if p.Name == name && (goja.IsUndefined(c.Argument(1)) || p.Value == c.Argument(1).String()) {
					return rt.ToValue(true)
				}
			}
			return rt.ToValue(false)
		},
		"sort": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			sort.SliceStable(sp.list, func(a, b int) bool { return utf16Less(sp.list[a].Name, sp.list[b].Name) })
			sp.update()
			return goja.Undefined()
		},
		"toString": func(c goja.FunctionCall) goja.Value {
			return rt.ToValue(builtin.SerializeForm(v.paramsState(c.This).list))
		},
		"forEach": func(c goja.FunctionCall) goja.Value {
			sp := v.paramsState(c.This)
			fn, ok := goja.AssertFunction(c.Argument(0))
			if !ok {
				v.typeError("URLSearchParams.forEach: callback is not a function")
			}
			for i := 0; i < len(sp.list); i++ {
				p := sp.list[i]
				if _, err := fn(c.Argument(1), rt.ToValue(p.Value), rt.ToValue(p.Name), c.This); err != nil {
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
		return rt.ToValue(len(v.paramsState(c.This).list))
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
	items := make([]any, len(sp.list))
	for i, p := range sp.list {
		switch kind {
		case 0:
			items[i] = v.rt.NewArray(p.Name, p.Value)
		case 1:
			items[i] = p.Name
		default:
			items[i] = p.Value
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

// update writes the params back into their URL's query (the standard's
// "update steps"): an empty list makes the query null.
func (sp *searchParams) update() {
	if sp.owner != nil {
		sp.owner.u.SetQuery(builtin.SerializeForm(sp.list))
	}
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
