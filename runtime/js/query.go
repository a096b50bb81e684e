package js

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// req.query is a dynamic object over the raw query string: reading
// req.query.name scans the string for the first "name" and makes only that
// value a JS string, so a handler that reads one or two names builds no
// object, map or list of pairs. It behaves as the plain object the engine
// used to build (name → first value, names sorted, array-index names
// first; see TestQueryViewMatchesObject), with the limits of goja's dynamic
// objects, which req and res share: it cannot be frozen, sealed or made
// non-extensible, every property is a writable, enumerable, configurable
// data property, and it cannot hold symbol-keyed properties.
//
// The names and values are parsed exactly as script.Request parses them:
// pieces split on "&", empty ones skipped, name and value unescaped where
// the escapes are valid and kept as written where not.

// queryView is the exchange seen as req.query.
type queryView exchange

// overlay is what a script set on and deleted from an object whose own
// properties come from elsewhere (req.query).
type overlay struct {
	vals  map[string]goja.Value // set by the script
	gone  map[string]bool       // underlying names deleted (and not set again)
	added []string              // names set that were not (or no longer) underlying, in order

	inAdded map[string]bool // added as a set, made when needed
}

// isAdded reports whether name is in ov.added.
func (ov *overlay) isAdded(name string) bool {
	if len(ov.added) < 16 {
		return slices.Contains(ov.added, name)
	}
	if ov.inAdded == nil {
		ov.inAdded = make(map[string]bool, len(ov.added))
		for _, k := range ov.added {
			ov.inAdded[k] = true
		}
	}
	return ov.inAdded[name]
}

// maxScan is the longest raw query that Get scans; a longer one (or a
// name that needs it, or an enumeration) is indexed once, so no script
// reading every name of a long query takes quadratic time.
const maxScan = 512

// queryIndex is the query as the plain object held it: JS name → value, and
// the names in the object's order (before array indexes move first).
type queryIndex struct {
	vals  map[string]string
	names []string
}

// queryFirst returns the first value of name in the raw query string, when
// name is valid UTF-8 without U+FFFD (so exactly one query name can be it).
func queryFirst(raw, name string) (string, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		if strings.ContainsAny(k, "%+") { // else unescaping cannot change it
			k = queryUnescape(k)
		}
		if k == name {
			return queryUnescape(val), true
		}
	}
	return "", false
}

// indexQuery makes what the plain object was: the first value of each
// name, names set in sorted order as JS names (see jsName); of names that
// become the same JS name, the position is the first one's and the value
// the last one's. __proto__ is left out (setting it set the prototype).
func indexQuery(raw string) *queryIndex {
	first := map[string]string{}
	var order []string
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		k = queryUnescape(k)
		if _, ok := first[k]; !ok {
			first[k] = queryUnescape(val)
			order = append(order, k)
		}
	}
	slices.Sort(order)
	ix := &queryIndex{vals: make(map[string]string, len(order))}
	for _, k := range order {
		name := jsName(k)
		if name == "__proto__" {
			continue
		}
		if _, ok := ix.vals[name]; !ok {
			ix.names = append(ix.names, name)
		}
		ix.vals[name] = first[k]
	}
	return ix
}

// queryUnescape unescapes s if its escapes are valid, else keeps it.
func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// jsName is name as a JS property name: each byte that is not valid
// UTF-8 becomes U+FFFD, as goja converts it.
func jsName(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	return string([]rune(name))
}

func (q *queryView) index() *queryIndex {
	if q.queryIx == nil {
		q.queryIx = indexQuery(q.req.RawQuery)
	}
	return q.queryIx
}

// base reports the query's value of name.
func (q *queryView) base(name string) (string, bool) {
	if q.queryIx == nil && len(q.req.RawQuery) <= maxScan && name != "__proto__" && !strings.Contains(name, "\uFFFD") {
		return queryFirst(q.req.RawQuery, name)
	}
	s, ok := q.index().vals[name]
	return s, ok
}

// Get implements goja.DynamicObject.
func (q *queryView) Get(name string) goja.Value {
	if ov := q.queryOv; ov != nil {
		if v, ok := ov.vals[name]; ok {
			return v
		}
		if ov.gone[name] {
			return nil
		}
	}
	if s, ok := q.base(name); ok {
		return q.v.rt.ToValue(s)
	}
	return nil
}

func (q *queryView) Has(name string) bool { return q.Get(name) != nil }

func (q *queryView) Set(name string, val goja.Value) bool {
	ov := q.queryOv
	if ov == nil {
		ov = &overlay{vals: map[string]goja.Value{}, gone: map[string]bool{}}
		q.queryOv = ov
	}
	if !q.Has(name) {
		// New, or back after a delete: it goes last, as on a plain object.
		ov.added = append(ov.added, name)
		if ov.inAdded != nil {
			ov.inAdded[name] = true
		}
		delete(ov.gone, name)
	}
	ov.vals[name] = val
	return true
}

func (q *queryView) Delete(name string) bool {
	if !q.Has(name) {
		return true
	}
	ov := q.queryOv
	if ov == nil {
		ov = &overlay{vals: map[string]goja.Value{}, gone: map[string]bool{}}
		q.queryOv = ov
	}
	delete(ov.vals, name)
	if ov.isAdded(name) {
		ov.added = slices.DeleteFunc(ov.added, func(k string) bool { return k == name })
		delete(ov.inAdded, name)
	}
	if _, ok := q.base(name); ok {
		ov.gone[name] = true
	}
	return true
}

// Keys lists the own names in a plain object's order: array indexes
// ascending, then the query's names sorted, then the ones the script added,
// in the order it added them.
func (q *queryView) Keys() []string {
	ov := q.queryOv
	names := q.index().names
	keys := make([]string, 0, len(names))
	for _, k := range names {
		if ov != nil && (ov.gone[k] || ov.isAdded(k)) {
			continue
		}
		keys = append(keys, k)
	}
	if ov != nil {
		keys = append(keys, ov.added...)
	}
	return arrayIndexesFirst(keys)
}

// arrayIndexesFirst moves the names that are array indexes to the front,
// ascending, keeping the order of the others.
func arrayIndexesFirst(keys []string) []string {
	n := 0
	for _, k := range keys {
		if _, ok := arrayIndex(k); ok {
			n++
		}
	}
	if n == 0 {
		return keys
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, ok := arrayIndex(k); ok {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		x, _ := arrayIndex(a)
		y, _ := arrayIndex(b)
		return int(x) - int(y)
	})
	for _, k := range keys {
		if _, ok := arrayIndex(k); !ok {
			out = append(out, k)
		}
	}
	return out
}

// arrayIndex reports whether s is the canonical form of an array index
// (0 … 2³²−2).
func arrayIndex(s string) (uint32, bool) {
	if s == "" || len(s) > 10 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 || strconv.FormatUint(n, 10) != s {
		return 0, false
	}
	return uint32(n), true
}
