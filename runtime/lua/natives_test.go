package lua

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// watchdog bounds a test that would hang if a native built-in stopped
// looking at the context; far above what any of them takes when it does.
const watchdog = 60 * time.Second

// serveWithin serves req with a request timeout, failing the test if Serve
// has not returned within the watchdog.
func serveWithin(t *testing.T, v script.VM, timeout time.Duration) (*sink, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type out struct {
		s   *sink
		err error
	}
	done := make(chan out, 1)
	go func() {
		s, err := serveCtx(ctx, v, request("GET", "/", "", nil))
		done <- out{s, err}
	}()
	select {
	case o := <-done:
		return o.s, o.err
	case <-time.After(watchdog):
		t.Fatalf("Serve still running %v after its %v deadline", watchdog, timeout)
		return nil, nil
	}
}

// TestNatives_StopAtDeadline: native built-ins that can run long without
// executing a Lua instruction look at the context as they go: the request
// ends at its deadline as a timeout (504), raised inside the built-in (its
// frame is on the stack), and the VM is thrown away.
func TestNatives_StopAtDeadline(t *testing.T) {
	const bigTable = "t = {}; for i = 1, 2^21 do t[i] = (i * 7919) % 1000003 end\n"
	tests := []struct {
		name, setup, code, native string
	}{
		// Issue 13 row 5: gopher-lua's table.sort never looked.
		{"table.sort", bigTable, "table.sort(t)", "sort"},
		{"table.sort native comparator", bigTable, "table.sort(t, rawequal)", "sort"},
		{"table.sort inconsistent comparator", bigTable, "table.sort(t, function() return true end)", ""},
		// {a, a} nested 40 deep is 2^40 tables to walk.
		{"json.encode of a DAG", "a = {}; for i = 1, 40 do a = {a, a} end\n", "json.encode(a)", "encode"},
		{"string.find backtracking", `s = string.rep("a", 1e5)` + "\n", `string.find(s, ".-.-.-.-b")`, "find"},
		{"string.find back-reference", `s = string.rep("a", 2^22)` + "\n", `string.find(s, "(.+)%1b")`, "find"},
		{"string.gsub backtracking", `s = string.rep("a", 1e5)` + "\n", `string.gsub(s, ".-.-.-.-b", "")`, "gsub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The input is built once, at the top level, outside the
			// request (so the deadline falls inside the built-in); the big
			// table is larger than the default memory_limit.
			a := newApp(t, tt.setup+"return function(req, res)\n"+tt.code+"\nres:write('finished')\nend", nil,
				withLimits(sandbox.Limits{MemoryLimit: 1 << 30}))
			v := a.vm(t)
			s, err := serveWithin(t, v, 100*time.Millisecond)
			var se *script.ScriptError
			if !errors.As(err, &se) || !se.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v (body %q), want a timeout", err, s.body.String())
			}
			if tt.native != "" && !strings.Contains(se.Stack, "at "+tt.native+" (native)") {
				t.Errorf("stack %q: the interrupt was not raised inside %s", se.Stack, tt.native)
			}
			if v.Healthy() {
				t.Error("an interrupted VM must be thrown away")
			}
		})
	}
}

// TestTableSort: the replacement sorts as Lua's does.
func TestTableSort(t *testing.T) {
	tests := []struct{ name, code, want string }{
		{"numbers", `local t = {5, 3, 9, 1, 1, -2}; table.sort(t); return table.concat(t, ",")`, "-2,1,1,3,5,9"},
		{"strings", `local t = {"b", "a", "ab", "", "B"}; table.sort(t); return table.concat(t, ",")`, ",B,a,ab,b"},
		{"bytes above 127", "local t = {\"\\200\", \"z\", \"\\1\"}; table.sort(t); return t[1]:byte() .. ',' .. t[2] .. ',' .. t[3]:byte()", "1,z,200"},
		{"comparator", `local t = {1, 3, 2}; table.sort(t, function(a, b) return a > b end); return table.concat(t, ",")`, "3,2,1"},
		{"nil comparator", `local t = {2, 1}; table.sort(t, nil); return table.concat(t, ",")`, "1,2"},
		{"__lt", `local mt = {__lt = function(a, b) return a.v < b.v end}
local t = {}; for i, v in ipairs({3, 1, 2}) do t[i] = setmetatable({v = v}, mt) end
table.sort(t); return t[1].v .. t[2].v .. t[3].v`, "123"},
		{"mixed types", `local ok, e = pcall(table.sort, {1, "x"}); return tostring(ok) .. " " .. tostring(e:find("attempt to compare") ~= nil)`, "false true"},
		{"comparator error", `local ok, e = pcall(table.sort, {1, 2, 3}, function() error("boom") end); return tostring(ok) .. " " .. tostring(e:find("boom") ~= nil)`, "false true"},
		{"inconsistent comparator ends", `local t = {}; for i = 1, 1000 do t[i] = i end; table.sort(t, function() return true end); return #t`, "1000"},
		{"empty and one", `local a, b = {}, {7}; table.sort(a); table.sort(b); return #a .. b[1]`, "07"},
		// Issue 13 row 5: 40,000 references to one 1 MiB string, and
		// long distinct strings with a long common prefix.
		{"long strings", `local s = string.rep("a", 2^20); local t = {}
for i = 1, 40000 do t[i] = s end; table.sort(t)
local p = string.rep("b", 2^14); local u = {}
for i = 1, 2000 do u[i] = p .. ((i * 7919) % 2000) end; table.sort(u)
for i = 2, #u do assert(u[i-1] <= u[i]) end
return #t .. " " .. #u`, "40000 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res)\nreturn (function() "+tt.code+" end)()\nend", nil)
			s, err := serveWithin(t, a.vm(t), watchdog)
			if err != nil || s.body.String() != tt.want {
				t.Errorf("got %q, %v; want %q", s.body.String(), err, tt.want)
			}
		})
	}
}

// TestNatives_HugeRanges: string.byte and unpack over huge ranges end at
// once as a limit hit (the state's value stack is bounded), well before
// the request's deadline.
func TestNatives_HugeRanges(t *testing.T) {
	for _, code := range []string{
		`return select('#', string.byte(string.rep("a", 2^20), 1, -1))`,
		`return select('#', unpack({}, 1, 2^30))`,
		`local t = {}; for i = 1, 2^19 do t[i] = i end; return select('#', unpack(t))`,
	} {
		a := newApp(t, "return function(req, res)\nres:write(tostring((function() "+code+" end)()))\nend", nil)
		v := a.vm(t)
		_, err := serveWithin(t, v, watchdog)
		if !errors.Is(err, sandbox.ErrTooLarge) || !strings.Contains(err.Error(), "too many values on the Lua stack") {
			t.Errorf("%s: err = %v, want a limit hit", code, err)
		}
	}
}

// TestInterrupt_TailCallLoop: a tail-call loop interrupted at its deadline
// ends at once. gopher-lua's own traceback has a line for every tail call
// the frame made (tens of millions after a second: 20–40 s and hundreds
// of MiB after a 2 s deadline); the interrupt now carries a stack of at
// most maxStackFrames frames, taken where it was raised.
func TestInterrupt_TailCallLoop(t *testing.T) {
	for _, code := range []string{
		"local function f() return f() end\nf()",
		"local function f() return f() end\npcall(f)\nwhile true do end",
		"local n = 0\nlocal function f() n = n + 1; return f() end\nf()",
	} {
		a := newApp(t, "return function(req, res)\n"+code+"\nend", nil)
		v := a.vm(t)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := serveWithin(t, v, 500*time.Millisecond)
		runtime.ReadMemStats(&after)
		var se *script.ScriptError
		if !errors.As(err, &se) || !se.Timeout() {
			t.Fatalf("%q: err = %v, want a timeout", code, err)
		}
		if se.File != a.entry || se.Line == 0 || !strings.Contains(se.Stack, "("+a.entry+":") {
			t.Errorf("%q: location %s:%d, stack %q; want the loop's", code, se.File, se.Line, se.Stack)
		}
		if n := strings.Count(se.Stack, "\n") + 1; n > maxStackFrames {
			t.Errorf("%q: %d stack lines", code, n)
		}
		// Not a timing threshold: the old traceback allocated a string
		// header per tail call, hundreds of MiB.
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 && !raceEnabled {
			t.Errorf("%q: the interrupt allocated %d MiB", code, got>>20)
		}
		if v.Healthy() {
			t.Error("an interrupted VM must be thrown away")
		}
	}
}
