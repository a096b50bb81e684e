package lua

// This file is a Lua 5.1 pattern matcher (a port of lstrlib.c's) and the
// string functions built on it: find, match, gmatch and gsub. It replaces
// gopher-lua's, whose backtracking recursion is as deep as the subject is
// long and never looks at the context: here the recursion depth is bounded
// by the pattern (maxMatchDepth, as in Lua 5.2+), the context is checked
// every few thousand steps while the matcher backtracks, and gsub's output
// is bounded by Limits.MaxStringSize.

import (
	"strings"

	glua "github.com/yuin/gopher-lua"
)

const (
	capUnfinished = -1
	capPosition   = -2
	maxCaptures   = 32
	maxMatchDepth = 200
	specials      = "^$*+?.([%-"
	checkEvery    = 1 << 12
)

type capture struct{ init, len int }

type matchState struct {
	L          *glua.LState
	src, pat   string
	level      int
	matchdepth int
	steps      int
	capture    [maxCaptures]capture
}

func newMatchState(L *glua.LState, src, pat string) *matchState {
	ms := &matchState{L: L, src: src, pat: pat, matchdepth: maxMatchDepth}
	return ms
}

// tick counts work and stops the match when the context is done.
func (ms *matchState) tick(n int) {
	ms.steps += n
	if ms.steps >= checkEvery {
		ms.steps = 0
		interrupted(ms.L)
	}
}

func (ms *matchState) error(msg string) { ms.L.RaiseError("%s", msg) }

func (ms *matchState) classEnd(p int) int {
	pat := ms.pat
	c := pat[p]
	p++
	switch c {
	case '%':
		if p >= len(pat) {
			ms.error("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if p < len(pat) && pat[p] == '^' {
			p++
		}
		for {
			if p >= len(pat) {
				ms.error("malformed pattern (missing ']')")
			}
			c := pat[p]
			p++
			if c == '%' && p < len(pat) {
				p++
			}
			if p < len(pat) && pat[p] == ']' {
				break
			}
		}
		return p + 1
	}
	return p
}

func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 { // lower-case
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = '0' <= c && c <= '9'
	case 'l':
		res = 'a' <= c && c <= 'z'
	case 'p':
		res = isPunct(c)
	case 's':
		res = c == ' ' || ('\t' <= c && c <= '\r')
	case 'u':
		res = 'A' <= c && c <= 'Z'
	case 'w':
		res = isAlpha(c) || ('0' <= c && c <= '9')
	case 'x':
		res = ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if 'A' <= cl && cl <= 'Z' {
		return !res
	}
	return res
}

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func isPunct(c byte) bool {
	return (33 <= c && c <= 47) || (58 <= c && c <= 64) || (91 <= c && c <= 96) || (123 <= c && c <= 126)
}

// matchBracketClass: p is at '[', ec at the closing ']'.
func (ms *matchState) matchBracketClass(c byte, p, ec int) bool {
	pat := ms.pat
	sig := true
	if pat[p+1] == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case pat[p] == '%':
			p++
			if matchClass(c, pat[p]) {
				return sig
			}
		case pat[p+1] == '-' && p+2 < ec:
			p += 2
			if pat[p-2] <= c && c <= pat[p] {
				return sig
			}
		case pat[p] == c:
			return sig
		}
	}
	return !sig
}

func (ms *matchState) singleMatch(c byte, p, ep int) bool {
	switch ms.pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, ms.pat[p+1])
	case '[':
		return ms.matchBracketClass(c, p, ep-1)
	default:
		return ms.pat[p] == c
	}
}

func (ms *matchState) matchBalance(s, p int) int {
	if p+1 >= len(ms.pat) {
		ms.error("unbalanced pattern (missing arguments to '%b')")
	}
	src := ms.src
	if s >= len(src) || src[s] != ms.pat[p] {
		return -1
	}
	b, e := ms.pat[p], ms.pat[p+1]
	cont := 1
	for s++; s < len(src); s++ {
		if src[s] == e {
			cont--
			if cont == 0 {
				return s + 1
			}
		} else if src[s] == b {
			cont++
		}
	}
	ms.tick(len(src))
	return -1
}

func (ms *matchState) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(ms.src) && ms.singleMatch(ms.src[s+i], p, ep) {
		i++
	}
	ms.tick(i)
	for ; i >= 0; i-- {
		if r := ms.match(s+i, ep+1); r != -1 {
			return r
		}
	}
	return -1
}

func (ms *matchState) minExpand(s, p, ep int) int {
	for {
		if r := ms.match(s, ep+1); r != -1 {
			return r
		}
		if s < len(ms.src) && ms.singleMatch(ms.src[s], p, ep) {
			s++
		} else {
			return -1
		}
	}
}

func (ms *matchState) startCapture(s, p, what int) int {
	if ms.level >= maxCaptures {
		ms.error("too many captures")
	}
	ms.capture[ms.level] = capture{s, what}
	ms.level++
	r := ms.match(s, p)
	if r == -1 {
		ms.level--
	}
	return r
}

func (ms *matchState) endCapture(s, p int) int {
	l := -1
	for i := ms.level - 1; i >= 0; i-- {
		if ms.capture[i].len == capUnfinished {
			l = i
			break
		}
	}
	if l < 0 {
		ms.error("invalid pattern capture")
	}
	ms.capture[l].len = s - ms.capture[l].init
	r := ms.match(s, p)
	if r == -1 {
		ms.capture[l].len = capUnfinished
	}
	return r
}

func (ms *matchState) matchCapture(s int, c byte) int {
	l := int(c) - '1'
	if l < 0 || l >= ms.level || ms.capture[l].len == capUnfinished {
		ms.error("invalid capture index")
	}
	cp := ms.capture[l]
	if cp.len < 0 {
		return -1
	}
	ms.tick(cp.len) // a back-reference compares as many bytes as it holds
	if len(ms.src)-s >= cp.len && ms.src[cp.init:cp.init+cp.len] == ms.src[s:s+cp.len] {
		return s + cp.len
	}
	return -1
}

// match returns the end of the match of pat[p:] at src[s:], or -1.
func (ms *matchState) match(s, p int) int {
	if ms.matchdepth == 0 {
		ms.error("pattern too complex")
	}
	ms.matchdepth--
	r := ms.doMatch(s, p)
	ms.matchdepth++
	return r
}

func (ms *matchState) doMatch(s, p int) int {
	pat, src := ms.pat, ms.src
	for {
		if p >= len(pat) {
			return s
		}
		ms.tick(1)
		switch pat[p] {
		case '(':
			if p+1 < len(pat) && pat[p+1] == ')' {
				return ms.startCapture(s, p+2, capPosition)
			}
			return ms.startCapture(s, p+1, capUnfinished)
		case ')':
			return ms.endCapture(s, p+1)
		case '$':
			if p+1 == len(pat) {
				if s == len(src) {
					return s
				}
				return -1
			}
		case '%':
			if p+1 < len(pat) {
				switch pat[p+1] {
				case 'b':
					s = ms.matchBalance(s, p+2)
					if s == -1 {
						return -1
					}
					p += 4
					continue
				case 'f':
					p += 2
					if p >= len(pat) || pat[p] != '[' {
						ms.error("missing '[' after '%f' in pattern")
					}
					ep := ms.classEnd(p)
					var prev, cur byte
					if s > 0 {
						prev = src[s-1]
					}
					if s < len(src) {
						cur = src[s]
					}
					if ms.matchBracketClass(prev, p, ep-1) || !ms.matchBracketClass(cur, p, ep-1) {
						return -1
					}
					p = ep
					continue
				default:
					if d := pat[p+1]; '0' <= d && d <= '9' {
						s = ms.matchCapture(s, d)
						if s == -1 {
							return -1
						}
						p += 2
						continue
					}
				}
			}
		}
		// A single-char class, maybe followed by a repetition.
		ep := ms.classEnd(p)
		m := s < len(src) && ms.singleMatch(src[s], p, ep)
		if ep < len(pat) {
			switch pat[ep] {
			case '?':
				if m {
					if r := ms.match(s+1, ep+1); r != -1 {
						return r
					}
				}
				p = ep + 1
				continue
			case '*':
				return ms.maxExpand(s, p, ep)
			case '+':
				if m {
					return ms.maxExpand(s+1, p, ep)
				}
				return -1
			case '-':
				return ms.minExpand(s, p, ep)
			}
		}
		if !m {
			return -1
		}
		s++
		p = ep
	}
}

// oneCapture is capture i of the match src[s:e] (the whole match when the
// pattern has no captures and i is 0).
func (ms *matchState) oneCapture(i, s, e int) glua.LValue {
	if i >= ms.level {
		if i == 0 {
			return glua.LString(ms.src[s:e])
		}
		ms.error("invalid capture index")
	}
	c := ms.capture[i]
	switch c.len {
	case capUnfinished:
		ms.error("unfinished capture")
	case capPosition:
		return glua.LNumber(c.init + 1)
	}
	return glua.LString(ms.src[c.init : c.init+c.len])
}

// pushCaptures pushes the captures (or the whole match when there are
// none and whole is set) and returns how many.
func (ms *matchState) pushCaptures(s, e int, whole bool) int {
	n := ms.level
	if n == 0 && whole {
		n = 1
	}
	for i := 0; i < n; i++ {
		ms.L.Push(ms.oneCapture(i, s, e))
	}
	return n
}

func posrelat(pos, n int) int {
	if pos < 0 {
		pos = n + pos + 1
	}
	if pos < 0 {
		return 0
	}
	return pos
}

func (v *vm) strFindAux(L *glua.LState, find bool) int {
	s := L.CheckString(1)
	pat := L.CheckString(2)
	init := posrelat(L.OptInt(3, 1), len(s)) - 1
	if init < 0 {
		init = 0
	} else if init > len(s) {
		init = len(s)
	}
	if find && (L.ToBool(4) || !strings.ContainsAny(pat, specials)) {
		if i := strings.Index(s[init:], pat); i >= 0 {
			L.Push(glua.LNumber(init + i + 1))
			L.Push(glua.LNumber(init + i + len(pat)))
			return 2
		}
		L.Push(glua.LNil)
		return 1
	}
	ms := newMatchState(L, s, pat)
	p := 0
	anchor := len(pat) > 0 && pat[0] == '^'
	if anchor {
		p = 1
	}
	for s1 := init; s1 <= len(s); s1++ {
		ms.level = 0
		if e := ms.match(s1, p); e != -1 {
			if find {
				L.Push(glua.LNumber(s1 + 1))
				L.Push(glua.LNumber(e))
				return ms.pushCaptures(-1, -1, false) + 2
			}
			return ms.pushCaptures(s1, e, true)
		}
		if anchor {
			break
		}
	}
	L.Push(glua.LNil)
	return 1
}

// strFind is string.find(s, pattern[, init[, plain]]).
func (v *vm) strFind(L *glua.LState) int { return v.strFindAux(L, true) }

// strMatch is string.match(s, pattern[, init]).
func (v *vm) strMatch(L *glua.LState) int { return v.strFindAux(L, false) }

// strGmatch is string.gmatch(s, pattern): an iterator over the matches.
func (v *vm) strGmatch(L *glua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	pos := 0
	L.Push(L.NewFunction(func(L *glua.LState) int {
		ms := newMatchState(L, src, pat)
		for ; pos <= len(src); pos++ {
			ms.level = 0
			if e := ms.match(pos, 0); e != -1 {
				start := pos
				pos = e
				if e == start {
					pos++
				}
				return ms.pushCaptures(start, e, true)
			}
		}
		return 0
	}))
	return 1
}

// strGsub is string.gsub(s, pattern, repl[, n]).
func (v *vm) strGsub(L *glua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	switch repl.(type) {
	case glua.LString, glua.LNumber, *glua.LTable, *glua.LFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	limit := v.b.opts.Limits.MaxStringSize
	ms := newMatchState(L, src, pat)
	p := 0
	anchor := len(pat) > 0 && pat[0] == '^'
	if anchor {
		p = 1
	}
	var b strings.Builder
	s, n := 0, 0
loop:
	for n < maxN {
		ms.level = 0
		e := ms.match(s, p)
		if e != -1 {
			n++
			v.addValue(ms, &b, s, e, repl)
			if int64(b.Len()) > limit {
				return v.fail(v.b.opts.Limits.CheckSize("string.gsub", int64(b.Len())))
			}
		}
		switch {
		case e != -1 && e > s:
			s = e
		case s < len(src):
			b.WriteByte(src[s])
			s++
		default:
			break loop
		}
		if anchor {
			break
		}
	}
	if s < len(src) {
		b.WriteString(src[s:])
	}
	if int64(b.Len()) > limit {
		return v.fail(v.b.opts.Limits.CheckSize("string.gsub", int64(b.Len())))
	}
	L.Push(glua.LString(b.String()))
	L.Push(glua.LNumber(n))
	return 2
}

func (v *vm) addValue(ms *matchState, b *strings.Builder, s, e int, repl glua.LValue) {
	L := ms.L
	var val glua.LValue
	switch r := repl.(type) {
	case glua.LString, glua.LNumber:
		news := glua.LVAsString(r)
		for i := 0; i < len(news); i++ {
			c := news[i]
			if c != '%' {
				b.WriteByte(c)
				continue
			}
			i++
			if i >= len(news) {
				b.WriteByte('%')
				break
			}
			d := news[i]
			switch {
			case d < '0' || d > '9':
				b.WriteByte(d)
			case d == '0':
				b.WriteString(ms.src[s:e])
			default:
				b.WriteString(glua.LVAsString(ms.oneCapture(int(d-'1'), s, e)))
			}
		}
		return
	case *glua.LTable:
		val = L.GetTable(r, ms.oneCapture(0, s, e))
	case *glua.LFunction:
		top := L.GetTop()
		L.Push(r)
		nc := ms.pushCaptures(s, e, true)
		L.Call(nc, 1)
		val = L.Get(-1)
		L.SetTop(top)
	}
	switch x := val.(type) {
	case *glua.LNilType:
		b.WriteString(ms.src[s:e])
	case glua.LBool:
		if !x {
			b.WriteString(ms.src[s:e])
		} else {
			L.RaiseError("invalid replacement value (a boolean)")
		}
	case glua.LString, glua.LNumber:
		b.WriteString(glua.LVAsString(x))
	default:
		L.RaiseError("invalid replacement value (a %s)", val.Type())
	}
}
