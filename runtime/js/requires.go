package js

import (
	"fmt"
	"reflect"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"

	"github.com/fcgihost/fcgihost/script"
)

// StaticRequire is one require("literal") call found in a file's source.
type StaticRequire struct {
	Name      string
	Line, Col int
}

// StaticRequires lists the require calls of code (the file's source as it
// is on disk) whose argument is a string literal, wherever they are: at
// the top level or inside a function that runs only on some request.
// `fcgihost check` resolves each one (README.md, "Command line"). Source
// that does not parse lists none: compiling it reports the error.
func StaticRequires(filename string, code []byte) []StaticRequire {
	prog, err := parser.ParseFile(nil, filename, moduleWrapperPrefix+string(code)+moduleWrapperSuffix, 0)
	if err != nil {
		return nil
	}
	var out []StaticRequire
	script.WalkNodes(prog, func(c *ast.CallExpression) {
		id, ok := c.Callee.(*ast.Identifier)
		if !ok || id.Name != "require" || len(c.ArgumentList) != 1 {
			return
		}
		s, ok := c.ArgumentList[0].(*ast.StringLiteral)
		if !ok {
			return
		}
		p := prog.File.Position(int(c.Idx0()) - 1) // Idx is 1-based
		if p.Line == 1 {
			p.Column -= len(moduleWrapperPrefix)
		}
		out = append(out, StaticRequire{Name: s.Value.String(), Line: p.Line, Col: p.Column})
	}, reflect.TypeOf((*file.File)(nil)))
	return out
}

// Resolve returns the file require(name) in the file from loads, or why
// none: the same rules as require at run time.
func (b *bundle) Resolve(from, name string) (string, error) {
	p, err := b.resolve(from, name)
	if err != nil {
		return "", fmt.Errorf("require(%q): %w", name, err)
	}
	return p, nil
}
