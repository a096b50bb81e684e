package js

import (
	"fmt"
	"math/big"
	"reflect"

	"github.com/dop251/goja/ast"
)

// inspectAST walks a parsed program once, iteratively (so a deep tree cannot
// overflow the Go stack here), and reports whether it mentions `exports` or
// `module.exports`. It fails if the tree is deeper than maxASTDepth, which
// would make goja's recursive compiler overflow the Go stack.
func inspectAST(prog *ast.Program) (sourceInfo, error) {
	var info sourceInfo
	type item struct {
		v     reflect.Value
		depth int
	}
	astPkg := reflect.TypeOf(ast.Program{}).PkgPath()
	seen := map[uintptr]bool{}
	stack := []item{{reflect.ValueOf(prog), 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := it.v
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				stack = append(stack, item{v.Elem(), it.depth})
			}
			continue
		case reflect.Pointer:
			if v.IsNil() || v.Type().Elem().PkgPath() != astPkg {
				continue
			}
			p := v.Pointer()
			if seen[p] {
				continue
			}
			seen[p] = true
			if it.depth+1 > maxASTDepth {
				return info, fmt.Errorf("%w: syntax tree deeper than %d levels", errNesting, maxASTDepth)
			}
			stack = append(stack, item{v.Elem(), it.depth + 1})
			continue
		case reflect.Slice:
			for i := v.Len() - 1; i >= 0; i-- {
				stack = append(stack, item{v.Index(i), it.depth})
			}
			continue
		case reflect.Struct:
		default:
			continue
		}
		if v.Type().PkgPath() != astPkg || !v.CanInterface() {
			continue
		}
		if !v.CanAddr() {
			c := reflect.New(v.Type()).Elem()
			c.Set(v)
			v = c
		}
		switch n := v.Addr().Interface().(type) {
		case *ast.NumberLiteral:
			if _, isBig := n.Value.(*big.Int); isBig {
				err := errBigInt
				if prog.File != nil {
					p := prog.File.Position(int(n.Idx) - prog.File.Base())
					err = &posError{line: p.Line, col: p.Column, err: errBigInt}
				}
				return info, err
			}
			continue
		case *ast.Identifier:
			if n.Name == "exports" {
				info.mentionsExports = true
			}
			continue
		case *ast.DotExpression:
			// o.exports names a property, not the variable; module.exports
			// is the handler export.
			if isIdent(n.Left, "module") && n.Identifier.Name == "exports" {
				info.mentionsExports = true
			}
			stack = append(stack, item{reflect.ValueOf(&n.Left).Elem(), it.depth})
			continue
		case *ast.BracketExpression:
			if s, ok := n.Member.(*ast.StringLiteral); ok && s.Value == "exports" && isIdent(n.Left, "module") {
				info.mentionsExports = true
			}
		case *ast.PrivateDotExpression:
			stack = append(stack, item{reflect.ValueOf(&n.Left).Elem(), it.depth})
			continue
		case *ast.MetaProperty:
			continue
		case *ast.LabelledStatement:
			stack = append(stack, item{reflect.ValueOf(&n.Statement).Elem(), it.depth})
			continue
		case *ast.BranchStatement:
			continue
		}
		for i := v.NumField() - 1; i >= 0; i-- {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Struct:
				stack = append(stack, item{f, it.depth})
			}
		}
	}
	return info, nil
}

func isIdent(e ast.Expression, name string) bool {
	id, ok := e.(*ast.Identifier)
	return ok && id.Name.String() == name
}

// posError is an inspectAST error at a known place.
type posError struct {
	line, col int
	err       error
}

func (e *posError) Error() string { return e.err.Error() }
func (e *posError) Unwrap() error { return e.err }
