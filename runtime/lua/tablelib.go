package lua

// This file replaces gopher-lua's table.sort, which sorts inside one
// native call that never looks at the context: 40,000 references to one
// 1 MiB string take hours to sort (each comparison walks the whole string
// byte by byte), and the request's timeout never fires. Here comparisons
// of strings use Go's (memcmp) ordering, and the context is checked as the
// sort goes, every interruptEvery bytes compared or comparisons made, so a
// sort of any size ends at the deadline like Lua code does.

import (
	"sort"

	glua "github.com/yuin/gopher-lua"
)

// interruptEvery is how much work (bytes compared, plus one a comparison)
// a native loop does between two looks at the context: about a
// millisecond at memcmp speed.
const interruptEvery = 1 << 20

// interruptCheck is the context check of a long native loop.
type interruptCheck struct {
	L    *glua.LState
	work int
}

// add counts n units of work and, every interruptEvery, raises the
// context's error when the run has been stopped (a timeout answers 504;
// the VM is then thrown away, as after any interrupt).
func (c *interruptCheck) add(n int) {
	c.work += n
	if c.work < interruptEvery {
		return
	}
	c.work = 0
	interrupted(c.L)
}

// interrupted raises the interrupt when the run has been stopped (see
// vmCtx.Done, which also serves a pending stack capture for the slow log).
func interrupted(L *glua.LState) {
	if c, ok := L.Context().(*vmCtx); ok {
		c.Done()
	}
}

// tableSort is table.sort(t[, comp]): it sorts t[1..#t] in place with comp
// (a function(a, b) that says whether a comes first) or with <.
func (v *vm) tableSort(L *glua.LState) int {
	t := L.CheckTable(1)
	var comp *glua.LFunction
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		comp = L.CheckFunction(2)
	}
	n := t.Len()
	if n < 2 {
		return 0
	}
	s := &luaSorter{L: L, comp: comp, vals: make([]glua.LValue, n), check: interruptCheck{L: L}}
	for i := range s.vals {
		s.vals[i] = t.RawGetInt(i + 1)
	}
	sort.Sort(s)
	for i, x := range s.vals {
		t.RawSetInt(i+1, x)
	}
	return 0
}

type luaSorter struct {
	L     *glua.LState
	comp  *glua.LFunction
	vals  []glua.LValue
	check interruptCheck
}

func (s *luaSorter) Len() int      { return len(s.vals) }
func (s *luaSorter) Swap(i, j int) { s.vals[i], s.vals[j] = s.vals[j], s.vals[i] }

func (s *luaSorter) Less(i, j int) bool {
	a, b := s.vals[i], s.vals[j]
	if s.comp != nil {
		// The comparator's own instructions check the context; a native
		// comparator (string.find…) is counted here.
		s.check.add(1)
		s.L.Push(s.comp)
		s.L.Push(a)
		s.L.Push(b)
		s.L.Call(2, 1)
		r := glua.LVAsBool(s.L.Get(-1))
		s.L.Pop(1)
		return r
	}
	switch x := a.(type) {
	case glua.LNumber:
		if y, ok := b.(glua.LNumber); ok {
			s.check.add(1)
			return x < y
		}
	case glua.LString:
		if y, ok := b.(glua.LString); ok {
			s.check.add(1 + min(len(x), len(y)))
			return x < y
		}
	}
	s.check.add(1)
	return s.L.LessThan(a, b) // metamethods, or the "attempt to compare" error
}
