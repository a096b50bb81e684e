// Package hooks holds the functions a context runs when it ends: the
// AfterFunc of fcgi's request context and of sandbox.Context. Contexts
// derived from either register here (context.WithCancel and
// context.AfterFunc call a parent's AfterFunc method when it has one), in
// a short slice, instead of the map the context package's own contexts
// allocate for their children.
package hooks

import "sync"

// List is a set of functions to run once, when Fire is called. The zero
// value is ready to use; it must not be copied after first use.
type List struct {
	mu    sync.Mutex
	fired bool
	fns   []*entry
	buf   [2]*entry // fns' first array
}

type entry struct{ f func() }

// AfterFunc arranges for f to run in its own goroutine when Fire is called,
// or at once if it has been. stop unregisters f and reports whether it did
// so before f was started, as context.AfterFunc's does.
func (l *List) AfterFunc(f func()) (stop func() bool) {
	e := &entry{f: f}
	l.mu.Lock()
	if l.fired {
		l.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if l.fns == nil {
		l.fns = l.buf[:0]
	}
	l.fns = append(l.fns, e)
	l.mu.Unlock()
	return func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, x := range l.fns {
			if x == e {
				l.fns = append(l.fns[:i], l.fns[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Fire starts every registered function, each in its own goroutine. Calls
// after the first do nothing.
func (l *List) Fire() {
	l.mu.Lock()
	if l.fired {
		l.mu.Unlock()
		return
	}
	l.fired = true
	fns := l.fns
	l.fns = nil
	l.mu.Unlock()
	for _, e := range fns {
		go e.f()
	}
}

// Len is the number of functions waiting.
func (l *List) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.fns)
}
