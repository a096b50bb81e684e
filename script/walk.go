package script

import "reflect"

// WalkNodes calls f for every *T reachable from root through pointers,
// interfaces, slices and exported struct fields: the nodes of one kind in
// an engine's syntax tree (both engines find their static require calls
// this way). Values of the types in skip are not entered.
func WalkNodes[T any](root any, f func(*T), skip ...reflect.Type) {
	want := reflect.TypeOf((*T)(nil))
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			for _, t := range skip {
				if v.Type() == t {
					return
				}
			}
			if v.Type() == want {
				f(v.Interface().(*T))
			}
			walk(v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(root))
}
