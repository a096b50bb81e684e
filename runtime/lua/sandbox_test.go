package lua

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// enumerate lists every global and every member of each global table, one
// "name" or "table.member" a line, sorted, plus the string metatable's
// visibility.
const enumerate = `
local out = {}
for k, v in pairs(_G) do
  out[#out + 1] = k
  if type(v) == "table" and k ~= "_G" and k ~= "env" then
    for m in pairs(v) do out[#out + 1] = k .. "." .. m end
  end
end
table.sort(out)
`

func TestGlobals_Allowlist(t *testing.T) {
	tests := []struct {
		style string
		code  string
	}{
		{"handler", enumerate + "return function(req, res) res:write(table.concat(out, '\\n'), '\\n') end"},
		{"cgi", enumerate + "io.write('Content-Type: text/plain\\n\\n', table.concat(out, '\\n'), '\\n')"},
	}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			a := newApp(t, tt.code, nil)
			if got := a.bundle.Style().String(); got != tt.style {
				t.Fatalf("style %s, want %s", got, tt.style)
			}
			s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", "globals_"+tt.style+".txt")
			wantB, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, want := strings.Fields(s.body.String()), strings.Fields(string(wantB))
			sort.Strings(want)
			extra, missing := diff(got, want), diff(want, got)
			if len(extra) > 0 || len(missing) > 0 {
				t.Errorf("globals differ from %s:\nnot in the allowlist: %v\nin the allowlist but missing: %v", file, extra, missing)
			}
		})
	}
}

func diff(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

// withLimits sets the app's limits.
func withLimits(l sandbox.Limits) func(*script.Options) {
	return func(o *script.Options) { o.Limits = l }
}

func TestTimeout_InterruptsAndDiscards(t *testing.T) {
	tests := []struct {
		name string
		code string
		line int
	}{
		{"loop in handler", "return function(req, res)\n  while true do end\nend", 2},
		{"loop in pcall", "return function(req, res)\n  while true do pcall(function() while true do end end) end\nend", 2},
		{"loop in error handler", "return function(req, res)\n  xpcall(function() error('x') end, function() while true do end end)\nend", 2},
		{"loop in gsub callback", "return function(req, res)\n  string.gsub('abc', '%w', function(c) while true do end end)\nend", 2},
		{"loop in sort comparator", "return function(req, res)\n  table.sort({3, 2, 1}, function(a, b) while true do end end)\nend", 2},
		{"loop in __index", "return function(req, res)\n  local t = setmetatable({}, {__index = function() while true do end end})\n  return t.x\nend", 2},
		{"backtracking pattern", "return function(req, res)\n  string.find(string.rep('a', 3000), string.rep('a-', 40) .. 'b')\nend", 2},
		{"cgi loop", "io.write('Content-Type: text/plain\\n\\n')\nwhile true do end", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.code, nil)
			v := a.vm(t)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := serveCtx(ctx, v, request("GET", "/", "", nil))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want DeadlineExceeded", err)
			}
			var se *script.ScriptError
			if !errors.As(err, &se) || !se.Timeout() {
				t.Fatalf("error %v is not a timed-out *ScriptError", err)
			}
			if se.File != a.entry || se.Line == 0 {
				t.Errorf("timeout location %s:%d, want a line of %s", se.File, se.Line, a.entry)
			}
			if v.Healthy() {
				t.Error("VM still healthy after an interrupt")
			}
		})
	}
}

func TestTimeout_TopLevel(t *testing.T) {
	a := newApp(t, "while true do end\nreturn function() end", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	v, err := a.bundle.NewVM(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || v != nil {
		t.Fatalf("NewVM = %v, %v; want nil, DeadlineExceeded", v, err)
	}
}

func TestInterrupt_CauseSurvives(t *testing.T) {
	errMem := errors.New("memory limit exceeded")
	a := newApp(t, "return function(req, res)\n  while true do end\nend", nil)
	v := a.vm(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(20*time.Millisecond, func() { cancel(errMem) })
	_, err := serveCtx(ctx, v, request("GET", "/", "", nil))
	if !errors.Is(err, errMem) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want it to wrap the cause and context.Canceled", err)
	}
	if v.Healthy() {
		t.Error("VM still healthy after an interrupt")
	}
}

func TestInterrupt_AlreadyCancelled(t *testing.T) {
	a := newApp(t, "return function(req, res) res:write('ran') end", nil)
	v := a.vm(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := serveCtx(ctx, v, request("GET", "/", "", nil))
	if !errors.Is(err, context.Canceled) || s.body.Len() != 0 {
		t.Fatalf("got %q, %v; want no run and context.Canceled", s.body.String(), err)
	}
}

func TestStackOverflow_IsCleanError(t *testing.T) {
	tests := []struct {
		name string
		code string
	}{
		{"plain recursion", "local function f(n) return 1 + f(n + 1) end\nf(1)"},
		{"mutual recursion", "local g\nlocal function f() return 1 + g() end\ng = function() return 1 + f() end\nf()"},
		{"through __index", "local t\nt = setmetatable({}, {__index = function(_, k) return t[k] end})\nlocal x = t.x"},
		{"through __tostring", "local t\nt = setmetatable({}, {__tostring = function(s) return tostring(s) end})\ntostring(t)"},
		{"through gsub callback", "local function f(s) return (s:gsub('.', f)) end\nf('abc')"},
		{"through sort comparator", "local function f() table.sort({2, 1}, function() f() return true end) end\nf()"},
		{"through __concat", "local mt = {}\nmt.__concat = function(a, b) return a .. b end\nlocal t = setmetatable({}, mt)\nlocal x = t .. 'x'"},
		{"through __call", "local t = setmetatable({}, {})\ngetmetatable(t).__call = function(self) return 1 + self() end\nt()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res)\n"+tt.code+"\nend", nil)
			v := a.vm(t)
			_, err := serve(t, v, request("GET", "/", "", nil))
			if !errors.Is(err, sandbox.ErrTooLarge) || !strings.Contains(err.Error(), "stack overflow") {
				t.Fatalf("error %v, want a stack overflow wrapping ErrTooLarge", err)
			}
			var se *script.ScriptError
			if !errors.As(err, &se) || se.File != a.entry || se.Line == 0 {
				t.Errorf("error %v has no script location", err)
			}
			if v.Healthy() {
				t.Error("VM healthy after a stack overflow")
			}
		})
	}
}

func TestStackOverflow_CaughtByPcall(t *testing.T) {
	s, err := run(t, `local depth = 0
local function f() depth = depth + 1; pcall(f) end
return function(req, res) f(); res:write(depth > 10 and "deep" or "shallow") end`)
	if err != nil || s.body.String() != "deep" {
		t.Fatalf("%q, %v", s.body.String(), err)
	}
}

func TestSizeBounds(t *testing.T) {
	limits := sandbox.Limits{MaxStringSize: 1 << 20}
	tests := []struct {
		name string
		code string
		err  string // "": must succeed
	}{
		{"string.rep within", "local s = string.rep('ab', 1000)\nassert(#s == 2000)", ""},
		{"string.rep huge", "string.rep('x', 1e12)", "string.rep"},
		{"string.rep method", "('abc'):rep(2^40)", "string.rep"},
		{"string.rep negative", "assert(string.rep('x', -5) == '')", ""},
		{"table.concat huge", "local s = string.rep('x', 2^19)\nlocal t = {s, s, s, s}\ntable.concat(t)", "table.concat"},
		{"table.concat with sep", "local t = {}\nfor i = 1, 600 do t[i] = 'x' end\ntable.concat(t, string.rep('-', 2^11))", "table.concat"},
		{"table.concat within", "assert(table.concat({1, 'b', 3}, ',') == '1,b,3')", ""},
		{"format wide", "string.format('%9999999d', 1)", "too long"},
		{"format precision", "string.format('%.999f', 1)", "too long"},
		{"format star", "string.format('%*d', 5, 1)", "invalid option"},
		{"format many", "local s = string.rep('x', 2^19)\nstring.format('%s%s%s', s, s, s)", "string.format"},
		{"gsub growth", "string.gsub(string.rep('x', 10000), 'x', string.rep('y', 200))", "string.gsub"},
		{"gsub function growth", "local big = string.rep('z', 2^16)\nstring.gsub(string.rep('x', 100), 'x', function() return big end)", "string.gsub"},
		{"json.encode huge", "local s = string.rep('x', 2^18)\njson.encode({s, s, s, s, s})", "json.encode"},
		{"res:json huge", "local s = string.rep('x', 2^18)\nres:json({s, s, s, s, s})", "res:json"},
		{"unpack huge", "local t = {}\nfor i = 1, 300000 do t[i] = i end\nlocal x = select('#', unpack(t))", "too many values"},
		{"string.byte huge", "local x = {string.byte(string.rep('a', 300000), 1, -1)}", "too many values"},
		{"os.date huge format", "os.date(string.rep('%c', 2^18))", "os.date"},
		{"sparse index", "local t = {}\nt[2^30] = 1\nt[4194304 * 4] = 2\nassert(t[2^30] == 1 and #t == 0)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res)\n"+tt.code+"\nend", nil, withLimits(limits))
			v := a.vm(t)
			_, err := serve(t, v, request("GET", "/", "", nil))
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if !errors.Is(err, sandbox.ErrTooLarge) && !strings.Contains(tt.err, "too long") && !strings.Contains(tt.err, "invalid") {
				t.Errorf("error %v does not wrap sandbox.ErrTooLarge", err)
			}
		})
	}
}

func TestPattern_TooComplex(t *testing.T) {
	tests := []struct {
		name, code, err string
	}{
		{"many optional items", "string.match(string.rep('a', 500), string.rep('a?', 300))", "pattern too complex"},
		{"nested captures", "string.find('x', string.rep('(', 33) .. 'x' .. string.rep(')', 33))", "too many captures"},
		{"malformed", "string.find('x', '[a')", "missing ']'"},
		{"trailing escape", "string.find('a', 'a%')", "ends with '%'"},
		{"long subject is fine", "assert(#string.match(string.rep('x', 2000000), '.-$') == 2000000)", ""},
		{"long greedy is fine", "assert(select(2, string.gsub(string.rep('ab', 100000), '(a)(b)', '%2%1')) == 100000)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, "return function(req, res)\n"+tt.code+"\nend")
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestForbidden_Absent(t *testing.T) {
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "collectgarbage", "getfenv", "setfenv",
		"newproxy", "module", "io", "debug", "package", "coroutine", "channel", "_printregs"} {
		t.Run(name, func(t *testing.T) {
			s, err := run(t, "return function(req, res) res:write(type("+name+")) end")
			if err != nil || s.body.String() != "nil" {
				t.Fatalf("type(%s) = %q, %v; want nil", name, s.body.String(), err)
			}
		})
	}
	for _, expr := range []string{"os.exit", "os.execute", "os.remove", "os.rename", "os.tmpname", "os.setenv", "string.dump", "os.setlocale"} {
		t.Run(expr, func(t *testing.T) {
			s, err := run(t, "return function(req, res) res:write(type("+expr+")) end")
			if err != nil || s.body.String() != "nil" {
				t.Fatalf("type(%s) = %q, %v; want nil", expr, s.body.String(), err)
			}
		})
	}
}

func TestMetatables_Protected(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{"string metatable hidden", "tostring(getmetatable(''))", "false"},
		{"req metatable hidden", "tostring(getmetatable(req))", "false"},
		{"json.null metatable hidden", "tostring(getmetatable(json.null))", "false"},
		{"user metatable visible", "tostring(getmetatable(setmetatable({}, {x = 1})).x)", "1"},
		{"__metatable honoured", "getmetatable(setmetatable({}, {__metatable = 'locked'}))", "locked"},
		{"string methods work", "('abc'):upper()", "ABC"},
		{"cannot replace protected", "tostring(pcall(setmetatable, json.null, {}))", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := run(t, "return function(req, res) res:write("+tt.expr+") end")
			if err != nil || s.body.String() != tt.want {
				t.Fatalf("%s = %q, %v; want %q", tt.expr, s.body.String(), err, tt.want)
			}
		})
	}
}
