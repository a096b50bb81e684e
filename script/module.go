package script

// This file is the declaration of a host module: Go functions and values a
// Go program gives scripts, declared once and seen with the same shape by
// both engines (docs/embedding.md, "Go modules for scripts"). Each engine
// has one adapter that turns a Module into its own values (JS
// require("host:NAME") / import … from "host:NAME"; Lua
// require("host.NAME")); argument checks and conversions live here, once,
// so the two languages cannot disagree.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
)

// Module is one named module of Go functions and values.
type Module struct {
	// Name is what scripts require: [a-z][a-z0-9_]* (JS "host:NAME", Lua
	// "host.NAME").
	Name string
	// Doc says what the module is for (documentation only).
	Doc string
	// Funcs are the module's functions, each under its Name in both
	// languages.
	Funcs []Func
	// Values are constants (JSON-like values, see docs/embedding.md,
	// "Values"), converted once per VM.
	Values map[string]any
}

// Func is one Go function of a Module.
type Func struct {
	// Name is the function's name in both languages ([A-Za-z_][A-Za-z0-9_]*).
	Name string
	// Doc says what it does (documentation only).
	Doc string
	// Args are the parameters, checked and converted before Fn runs: a
	// wrong type or count is an error thrown (JS TypeError) or raised (Lua)
	// in the calling script, naming the function and the parameter.
	Args []Arg
	// Variadic lets a call pass more arguments than Args names; the extra
	// ones are passed as they are (type Any).
	Variadic bool
	// Fn is the implementation. ctx is the calling request's or call's
	// context (its deadline is the app's timeout; it ends when the script
	// is interrupted); c names the calling app. A returned error is thrown
	// (JS Error) or raised (Lua) in the script with the error's text; if
	// the script does not catch it, the *ScriptError of the request or
	// call unwraps to it. The result must be a JSON-like value.
	Fn func(ctx context.Context, c *Call) (any, error)
}

// Arg is one parameter of a Func.
type Arg struct {
	Name string
	Type Type
	// Optional parameters may be missing (or nil/undefined/null): Fn then
	// sees nil.
	Optional bool
}

// Type is the type of a parameter. Values are converted from the script's
// as docs/embedding.md ("Values") says; a parameter of a Type then holds
// exactly the Go type named here.
type Type uint8

const (
	Any    Type = iota // any JSON-like value, as converted
	Bool               // bool
	Int                // int64: a whole number (JS number or BigInt, Lua number)
	Float              // float64: any number
	String             // string (a JS string, a Lua string)
	Bytes              // []byte (a JS Uint8Array/ArrayBuffer, a Lua string)
	List               // []any (a JS array, a Lua sequence)
	Map                // map[string]any (a JS plain object, a Lua table)
)

var typeNames = [...]string{"any", "boolean", "integer", "number", "string", "bytes", "list", "map"}

// String is the type's name in argument errors ("integer", "bytes"…).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", t)
}

// Call is one call of a Func from a script.
type Call struct {
	// App is the calling app's name: a host can scope what each app may do.
	App string
	// Module and Func name what was called.
	Module, Func string
	// Args are the checked arguments: Args[i] has the Go type of the
	// declared Args[i].Type (nil for a missing optional one).
	Args []any
}

// ErrArgument is wrapped by the error of a call with arguments that do not
// match the declaration.
var ErrArgument = errors.New("bad argument")

var (
	moduleName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	funcName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks a declaration: names well formed and unique, every
// function with an Fn, every value JSON-like.
func (m *Module) Validate() error {
	if m == nil {
		return errors.New("nil module")
	}
	if !moduleName.MatchString(m.Name) {
		return fmt.Errorf("module name %q: want [a-z][a-z0-9_]*", m.Name)
	}
	seen := map[string]bool{}
	for i := range m.Funcs {
		f := &m.Funcs[i]
		if !funcName.MatchString(f.Name) {
			return fmt.Errorf("module %s: function name %q: want [A-Za-z_][A-Za-z0-9_]*", m.Name, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("module %s: %s declared twice", m.Name, f.Name)
		}
		seen[f.Name] = true
		if f.Fn == nil {
			return fmt.Errorf("module %s: function %s has no Fn", m.Name, f.Name)
		}
		for j, a := range f.Args {
			if a.Type > Map {
				return fmt.Errorf("module %s: %s argument %d: unknown type %d", m.Name, f.Name, j+1, a.Type)
			}
		}
	}
	for k, v := range m.Values {
		if seen[k] {
			return fmt.Errorf("module %s: %s is both a function and a value", m.Name, k)
		}
		if _, err := Normalize(v); err != nil {
			return fmt.Errorf("module %s: value %s: %w", m.Name, k, err)
		}
	}
	return nil
}

// ValidateModules validates each module and checks that names are unique.
func ValidateModules(ms []*Module) error {
	seen := map[string]bool{}
	for _, m := range ms {
		if err := m.Validate(); err != nil {
			return err
		}
		if seen[m.Name] {
			return fmt.Errorf("module %s declared twice", m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

// FindModule returns the module called name, or nil.
func FindModule(ms []*Module, name string) *Module {
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// CheckArgs checks and converts the arguments of a call of f (already
// converted from the script's values) to the declared types. The error
// names the function as the script wrote it (what, e.g. `host:db.get`)
// and wraps ErrArgument.
func (f *Func) CheckArgs(what string, args []any) ([]any, error) {
	if len(args) > len(f.Args) && !f.Variadic {
		return nil, fmt.Errorf("%s: %d arguments given, at most %d accepted: %w", what, len(args), len(f.Args), ErrArgument)
	}
	n := max(len(args), len(f.Args))
	out := make([]any, n)
	for i := 0; i < n; i++ {
		var v any
		if i < len(args) {
			v = args[i]
		}
		if i >= len(f.Args) {
			out[i] = v
			continue
		}
		a := f.Args[i]
		if v == nil {
			if a.Optional || a.Type == Any {
				continue
			}
			return nil, fmt.Errorf("%s: argument %d (%s) is missing, want %s: %w", what, i+1, a.Name, a.Type, ErrArgument)
		}
		c, ok := convertArg(v, a.Type)
		if !ok {
			return nil, fmt.Errorf("%s: argument %d (%s): want %s, got %s: %w", what, i+1, a.Name, a.Type, kindOf(v), ErrArgument)
		}
		out[i] = c
	}
	return out, nil
}

func convertArg(v any, t Type) (any, bool) {
	switch t {
	case Any:
		return v, true
	case Bool:
		b, ok := v.(bool)
		return b, ok
	case Int:
		switch n := v.(type) {
		case int64:
			return n, true
		case float64:
			if n == math.Trunc(n) && n >= -(1<<63) && n < 1<<63 {
				return int64(n), true
			}
		}
		return nil, false
	case Float:
		switch n := v.(type) {
		case int64:
			return float64(n), true
		case float64:
			return n, true
		}
		return nil, false
	case String:
		s, ok := v.(string)
		return s, ok
	case Bytes:
		switch b := v.(type) {
		case []byte:
			return b, true
		case string: // Lua strings are bytes
			return []byte(b), true
		}
		return nil, false
	case List:
		switch l := v.(type) {
		case []any:
			return l, true
		case map[string]any:
			if len(l) == 0 { // an empty Lua table
				return []any{}, true
			}
		}
		return nil, false
	case Map:
		switch m := v.(type) {
		case map[string]any:
			return m, true
		case []any:
			if len(m) == 0 { // an empty Lua table
				return map[string]any{}, true
			}
		}
		return nil, false
	}
	return nil, false
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "number"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}
