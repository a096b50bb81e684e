package js

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

// req.query is a dynamic object (see props.go) over the raw query string:
// reading req.query.name scans the string for the first "name" and makes
// only that value a JS string, so a handler that reads one or two names
// builds no object, map or list of pairs. TestQueryViewMatchesObject holds
// it to the plain object of script.Request.Query.
//
// The names and values are parsed exactly as script.Request parses them:
// pieces split on "&", empty ones skipped, name and value unescaped where
// the escapes are valid and kept as written where not.

// queryView is the exchange seen as req.query.
type queryView exchange

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
func queryFirst(raw, name string) (val string, found bool) {
	script.QueryParts(raw, func(k, v string) bool {
		if script.QueryUnescape(k) == name {
			val, found = script.QueryUnescape(v), true
			return false
		}
		return true
	})
	return val, found
}

// indexQuery makes what the plain object was: the first value of each
// name, names set in sorted order as JS names (see jsName); of names that
// become the same JS name, the position is the first one's and the value
// the last one's. __proto__ is left out (setting it set the prototype).
func indexQuery(raw string) *queryIndex {
	first := map[string]string{}
	var order []string
	script.QueryParts(raw, func(k, val string) bool {
		k = script.QueryUnescape(k)
		if _, ok := first[k]; !ok {
			first[k] = script.QueryUnescape(val)
			order = append(order, k)
		}
		return true
	})
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

// jsName is name as a JS property name: each byte that is not valid
// UTF-8 becomes U+FFFD, as goja converts it.
func jsName(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	return string([]rune(name))
}

func (q *queryView) index() *queryIndex {
	(*exchange)(q).live()
	if q.queryIx == nil {
		q.queryIx = indexQuery(q.req.RawQuery)
	}
	return q.queryIx
}

// base reports the query's value of name.
func (q *queryView) base(name string) (string, bool) {
	(*exchange)(q).live()
	if q.queryIx == nil && len(q.req.RawQuery) <= maxScan && name != "__proto__" && !strings.Contains(name, "\uFFFD") {
		return queryFirst(q.req.RawQuery, name)
	}
	s, ok := q.index().vals[name]
	return s, ok
}

// Get, Has, Set, Delete and Keys implement goja.DynamicObject.
func (q *queryView) Get(name string) goja.Value { return getProp(q.queryOv, q, q.v.rt, name) }
func (q *queryView) Has(name string) bool       { return q.Get(name) != nil }
func (q *queryView) Set(name string, val goja.Value) bool {
	return setProp(&q.queryOv, q, q.v.rt, name, val)
}
func (q *queryView) Delete(name string) bool { return deleteProp(&q.queryOv, q, q.v.rt, name) }
func (q *queryView) Keys() []string          { return keysOf(q.queryOv, q) }

// baseNames lists the query's names as the plain object had them.
func (q *queryView) baseNames() []string { return q.index().names }
