package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ScriptError is a failure of script code: a compile error, an uncaught
// exception, an interrupt (timeout, abort) or a limit hit. The host makes
// the HTTP status, the log line and the FastCGI stderr record from it.
type ScriptError struct {
	App   string
	File  string // absolute path, or "" if unknown
	Line  int    // 1-based; 0 if unknown
	Col   int    // 1-based; 0 if unknown
	Stack string // script stack, one frame a line ("at fn (file:line:col)")
	Err   error  // the cause: the message, ctx.Err(), sandbox.ErrTooLarge…
}

func (e *ScriptError) Error() string {
	var b strings.Builder
	if loc := e.Location(); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Location is "file:line:col", "file:line" or "file", or "".
func (e *ScriptError) Location() string {
	switch {
	case e.File == "":
		return ""
	case e.Line == 0:
		return e.File
	case e.Col == 0:
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
}

func (e *ScriptError) Unwrap() error { return e.Err }

// Timeout reports whether the script was stopped by its deadline.
func (e *ScriptError) Timeout() bool { return errors.Is(e.Err, context.DeadlineExceeded) }
