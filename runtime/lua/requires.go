package lua

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// StaticRequire is one require("literal") call found in a file's source.
type StaticRequire struct {
	Name      string
	Line, Col int
}

// StaticRequires lists the require calls of code whose argument is a
// string literal (require("x"), require "x"), wherever they are: at the
// top level or inside a function that runs only on some request. `fcgihost
// check` resolves each one (README.md, "Command line"). Source that does
// not parse lists none: compiling it reports the error.
func StaticRequires(filename string, code []byte) []StaticRequire {
	chunk, err := parse.Parse(bytes.NewReader(code), filename)
	if err != nil {
		return nil
	}
	var out []StaticRequire
	walkAST(reflect.ValueOf(chunk), func(c *ast.FuncCallExpr) {
		id, ok := c.Func.(*ast.IdentExpr)
		if !ok || id.Value != "require" || len(c.Args) != 1 {
			return
		}
		if s, ok := c.Args[0].(*ast.StringExpr); ok {
			out = append(out, StaticRequire{Name: s.Value, Line: c.Line()})
		}
	})
	return out
}

var callType = reflect.TypeOf((*ast.FuncCallExpr)(nil))

// walkAST calls f for every function call under v, following the exported
// fields, slices and interfaces of the syntax tree.
func walkAST(v reflect.Value, f func(*ast.FuncCallExpr)) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			walkAST(v.Elem(), f)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Type() == callType {
			f(v.Interface().(*ast.FuncCallExpr))
		}
		walkAST(v.Elem(), f)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkAST(v.Field(i), f)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkAST(v.Index(i), f)
		}
	}
}

// Resolve returns the file require(name) in the file from loads, or why
// none: the same rules as require at run time.
func (b *bundle) Resolve(from, name string) (string, error) {
	p, err := b.resolve(name, from)
	if err != nil {
		return "", fmt.Errorf("require(%q): %w", name, err)
	}
	return p, nil
}
