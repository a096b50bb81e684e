package lua

import (
	"bytes"
	"fmt"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"

	"github.com/fcgihost/fcgihost/script"
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
	script.WalkNodes(chunk, func(c *ast.FuncCallExpr) {
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

// Resolve returns the file require(name) in the file from loads, or why
// none: the same rules as require at run time.
func (b *bundle) Resolve(from, name string) (string, error) {
	p, err := b.resolve(name, from)
	if err != nil {
		return "", fmt.Errorf("require(%q): %w", name, err)
	}
	return p, nil
}
