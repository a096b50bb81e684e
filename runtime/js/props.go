package js

import (
	"slices"
	"strconv"

	"github.com/dop251/goja"
)

// Some request members are dynamic objects over Go data (req.query over the
// query string, req.headers over the params) instead of plain objects
// filled up front: a handler that reads one name pays for one value. They
// behave as the plain objects they replace would — the same names, values
// and order, and the script's own changes — with the limits of goja's
// dynamic objects: they cannot be frozen, sealed or made non-extensible,
// every property is a writable, enumerable, configurable data property, and
// they cannot hold symbol-keyed properties.

// propBase is where a view's own properties come from.
type propBase interface {
	// base reports name's value.
	base(name string) (string, bool)
	// baseNames lists the names in a plain object's creation order.
	baseNames() []string
}

// overlay is what a script set on and deleted from an object whose own
// properties come from elsewhere (req.query, req.headers).
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

func newOverlay() *overlay {
	return &overlay{vals: map[string]goja.Value{}, gone: map[string]bool{}}
}

// getProp is a view's Get: the script's value of name, else the base's.
func getProp(ov *overlay, b propBase, rt *goja.Runtime, name string) goja.Value {
	if ov != nil {
		if v, ok := ov.vals[name]; ok {
			return v
		}
		if ov.gone[name] {
			return nil
		}
	}
	if s, ok := b.base(name); ok {
		return rt.ToValue(s)
	}
	return nil
}

// setProp is a view's Set.
func setProp(ovp **overlay, b propBase, rt *goja.Runtime, name string, val goja.Value) bool {
	if *ovp == nil {
		*ovp = newOverlay()
	}
	ov := *ovp
	if getProp(ov, b, rt, name) == nil {
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

// deleteProp is a view's Delete.
func deleteProp(ovp **overlay, b propBase, rt *goja.Runtime, name string) bool {
	if getProp(*ovp, b, rt, name) == nil {
		return true
	}
	if *ovp == nil {
		*ovp = newOverlay()
	}
	ov := *ovp
	delete(ov.vals, name)
	if ov.isAdded(name) {
		ov.added = slices.DeleteFunc(ov.added, func(k string) bool { return k == name })
		delete(ov.inAdded, name)
	}
	if _, ok := b.base(name); ok {
		ov.gone[name] = true
	}
	return true
}

// keysOf is a view's Keys, in a plain object's order: array indexes
// ascending, then the base's names, then the ones the script added, in the
// order it added them.
func keysOf(ov *overlay, b propBase) []string {
	names := b.baseNames()
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
