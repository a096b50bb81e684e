package js

import (
	"slices"
	"strings"

	"github.com/dop251/goja"
)

// req.headers is a dynamic object (see props.go) over the params: lower-case
// name → value from the HTTP_* params, plus content-type and content-length
// when not empty, names sorted — what script.Request.Headers holds. The
// names are gathered on first use into one small slice, with the names
// converted once per VM, and a value becomes a JS string only when read.
// Where two params give the same name (CONTENT_TYPE and HTTP_CONTENT_TYPE)
// the CGI one wins. TestHeadersViewMatchesObject holds it to the plain
// object of Request.Headers.

// headersView is the exchange seen as req.headers.
type headersView exchange

// headerIndex is req.headers as the plain object held it: the names and
// values in the object's creation order.
type headerIndex struct {
	pairs  []namedValue
	byName map[string]int // made when there are many
}

type namedValue struct{ name, value string }

// linearFind is how many headers find looks through one by one.
const linearFind = 16

func (ix *headerIndex) find(name string) int {
	if len(ix.pairs) <= linearFind {
		for i := range ix.pairs {
			if ix.pairs[i].name == name {
				return i
			}
		}
		return -1
	}
	if ix.byName == nil {
		ix.byName = make(map[string]int, len(ix.pairs))
		for i, p := range ix.pairs {
			ix.byName[p.name] = i
		}
	}
	if i, ok := ix.byName[name]; ok {
		return i
	}
	return -1
}

// indexHeaders gathers the headers of params.
func (v *jsVM) indexHeaders(params map[string]string) *headerIndex {
	pairs := v.scratch.pairs[:0]
	for k, val := range params {
		switch {
		case strings.HasPrefix(k, "HTTP_"):
			pairs = append(pairs, headerPair{v.headerName(k), val, k})
		case k == "CONTENT_TYPE" || k == "CONTENT_LENGTH":
			if val != "" {
				pairs = append(pairs, headerPair{v.headerName(k), val, k})
			}
		}
	}
	// By header name, then param name (CONTENT_* before HTTP_*): map
	// iteration order must not show.
	slices.SortFunc(pairs, func(a, b headerPair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.param, b.param)
	})
	// The names are valid UTF-8 (strings.ToLower makes each invalid byte
	// U+FFFD), so they are the JS names as they are.
	ix := &headerIndex{pairs: make([]namedValue, 0, len(pairs))}
	for i, p := range pairs {
		if i > 0 && pairs[i-1].k == p.k {
			continue
		}
		ix.pairs = append(ix.pairs, namedValue{p.k, p.v})
	}
	v.keepPairs(pairs)
	return ix
}

func (h *headersView) index() *headerIndex {
	(*exchange)(h).live()
	if h.headersIx == nil {
		h.headersIx = h.v.indexHeaders(h.req.Params)
	}
	return h.headersIx
}

func (h *headersView) base(name string) (string, bool) {
	ix := h.index()
	if i := ix.find(name); i >= 0 {
		return ix.pairs[i].value, true
	}
	return "", false
}

func (h *headersView) baseNames() []string {
	ix := h.index()
	names := make([]string, len(ix.pairs))
	for i, p := range ix.pairs {
		names[i] = p.name
	}
	return names
}

// Get, Has, Set, Delete and Keys implement goja.DynamicObject.
func (h *headersView) Get(name string) goja.Value { return getProp(h.headersOv, h, h.v.rt, name) }
func (h *headersView) Has(name string) bool       { return h.Get(name) != nil }
func (h *headersView) Set(name string, val goja.Value) bool {
	return setProp(&h.headersOv, h, h.v.rt, name, val)
}
func (h *headersView) Delete(name string) bool { return deleteProp(&h.headersOv, h, h.v.rt, name) }
func (h *headersView) Keys() []string          { return keysOf(h.headersOv, h) }
