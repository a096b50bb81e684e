// Package sandbox owns the policy that bounds an untrusted script: the
// per-app limits (time, stack, memory, input and output sizes), the size
// checks that built-ins run before they allocate, and the allowlists of
// globals each engine may expose. The engines (runtime/js, runtime/lua) and
// the pool consult it; it knows nothing of FastCGI.
package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// Limits bounds one app. The zero value of a field means "use the default"
// in Defaults; after WithDefaults, zero means unlimited only where the field
// says so.
type Limits struct {
	// Timeout is the wall-clock limit of one request (default 30s).
	Timeout time.Duration
	// MemoryLimit is the per-VM memory budget in bytes (default 64 MiB).
	// Built-ins refuse to create a single value larger than it, and the
	// pool's watchdog interrupts a VM whose estimated heap passes it.
	MemoryLimit int64
	// MaxBody is the largest request body in bytes (default 8 MiB); a larger
	// one is answered 413 before the script runs.
	MaxBody int64
	// MaxResponse is the largest response body in bytes (default 64 MiB);
	// output past it is cut and an error logged.
	MaxResponse int64
	// MaxCallStack is the deepest script call stack (default 1024 frames for
	// JS, 200 for Lua's CallStackSize is derived from it).
	MaxCallStack int
	// MaxStringSize bounds one string a built-in may produce (default: the
	// smaller of MemoryLimit/4 and 16 MiB).
	MaxStringSize int64
}

// Default values of Limits.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMemoryLimit  = 64 << 20
	DefaultMaxBody      = 8 << 20
	DefaultMaxResponse  = 64 << 20
	DefaultMaxCallStack = 1024
	DefaultMaxParams    = 1 << 20
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MemoryLimit <= 0 {
		l.MemoryLimit = DefaultMemoryLimit
	}
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxResponse <= 0 {
		l.MaxResponse = DefaultMaxResponse
	}
	if l.MaxCallStack <= 0 {
		l.MaxCallStack = DefaultMaxCallStack
	}
	if l.MaxStringSize <= 0 {
		l.MaxStringSize = l.MemoryLimit / 4
		if l.MaxStringSize > 16<<20 {
			l.MaxStringSize = 16 << 20
		}
	}
	return l
}

// ErrTooLarge is returned (wrapped) by CheckSize when a built-in would create
// a value larger than the limits allow.
var ErrTooLarge = errors.New("value too large")

// CheckSize reports an error if a built-in (what names it, e.g.
// "string.rep") would produce n bytes, more than l.MaxStringSize.
func (l Limits) CheckSize(what string, n int64) error {
	max := l.MaxStringSize
	if max <= 0 {
		max = l.WithDefaults().MaxStringSize
	}
	if n < 0 || n > max {
		return fmt.Errorf("%s: result of %d bytes exceeds the limit of %d: %w", what, n, max, ErrTooLarge)
	}
	return nil
}
