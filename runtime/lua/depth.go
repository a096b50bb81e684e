package lua

// This file bounds the nesting of a parsed chunk before it is compiled:
// gopher-lua's compiler recurses once per level of the syntax tree, so a
// file of a million nested parentheses (or a million-term a .. b .. c)
// would exhaust the Go stack, which no recover() survives. C Lua refuses
// such chunks too ("chunk has too many syntax levels", at 200).

import (
	"fmt"

	"github.com/yuin/gopher-lua/ast"
)

// maxSyntaxDepth is far above what real code nests (long elseif chains
// and concatenations included) and far below what the Go stack holds.
const maxSyntaxDepth = 5000

// errTooDeep carries the line where the limit was passed.
type errTooDeep struct{ line int }

func (e errTooDeep) Error() string {
	return fmt.Sprintf("chunk has too many syntax levels (more than %d nested expressions or blocks)", maxSyntaxDepth)
}

// checkDepth reports errTooDeep if chunk nests deeper than maxSyntaxDepth.
func checkDepth(chunk []ast.Stmt) error {
	w := depthWalker{}
	w.stmts(chunk, 0)
	return w.err
}

type depthWalker struct{ err error }

func (w *depthWalker) deep(d int, line int) bool {
	if w.err != nil {
		return true
	}
	if d > maxSyntaxDepth {
		w.err = errTooDeep{line: line}
		return true
	}
	return false
}

func (w *depthWalker) stmts(list []ast.Stmt, d int) {
	for _, s := range list {
		w.stmt(s, d)
	}
}

func (w *depthWalker) exprs(list []ast.Expr, d int) {
	for _, e := range list {
		w.expr(e, d)
	}
}

func (w *depthWalker) stmt(s ast.Stmt, d int) {
	if s == nil || w.deep(d, s.Line()) {
		return
	}
	d++
	switch s := s.(type) {
	case *ast.AssignStmt:
		w.exprs(s.Lhs, d)
		w.exprs(s.Rhs, d)
	case *ast.LocalAssignStmt:
		w.exprs(s.Exprs, d)
	case *ast.FuncCallStmt:
		w.expr(s.Expr, d)
	case *ast.DoBlockStmt:
		w.stmts(s.Stmts, d)
	case *ast.WhileStmt:
		w.expr(s.Condition, d)
		w.stmts(s.Stmts, d)
	case *ast.RepeatStmt:
		w.expr(s.Condition, d)
		w.stmts(s.Stmts, d)
	case *ast.IfStmt:
		w.expr(s.Condition, d)
		w.stmts(s.Then, d)
		w.stmts(s.Else, d)
	case *ast.NumberForStmt:
		w.expr(s.Init, d)
		w.expr(s.Limit, d)
		w.expr(s.Step, d)
		w.stmts(s.Stmts, d)
	case *ast.GenericForStmt:
		w.exprs(s.Exprs, d)
		w.stmts(s.Stmts, d)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			w.expr(s.Name.Func, d)
			w.expr(s.Name.Receiver, d)
		}
		if s.Func != nil {
			w.expr(s.Func, d)
		}
	case *ast.ReturnStmt:
		w.exprs(s.Exprs, d)
	}
}

func (w *depthWalker) expr(e ast.Expr, d int) {
	if e == nil || w.deep(d, e.Line()) {
		return
	}
	d++
	switch e := e.(type) {
	case *ast.AttrGetExpr:
		w.expr(e.Object, d)
		w.expr(e.Key, d)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			w.expr(f.Key, d)
			w.expr(f.Value, d)
		}
	case *ast.FuncCallExpr:
		w.expr(e.Func, d)
		w.expr(e.Receiver, d)
		w.exprs(e.Args, d)
	case *ast.LogicalOpExpr:
		w.expr(e.Lhs, d)
		w.expr(e.Rhs, d)
	case *ast.RelationalOpExpr:
		w.expr(e.Lhs, d)
		w.expr(e.Rhs, d)
	case *ast.StringConcatOpExpr:
		w.expr(e.Lhs, d)
		w.expr(e.Rhs, d)
	case *ast.ArithmeticOpExpr:
		w.expr(e.Lhs, d)
		w.expr(e.Rhs, d)
	case *ast.UnaryMinusOpExpr:
		w.expr(e.Expr, d)
	case *ast.UnaryNotOpExpr:
		w.expr(e.Expr, d)
	case *ast.UnaryLenOpExpr:
		w.expr(e.Expr, d)
	case *ast.FunctionExpr:
		w.stmts(e.Stmts, d)
	}
}
