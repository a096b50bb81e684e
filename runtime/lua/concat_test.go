package lua

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// concatChain is "name..name..…" with n operands: one OP_CONCAT.
func concatChain(name string, n int) string {
	return strings.Repeat(name+"..", n-1) + name
}

// TestConcat_BoundedBeforeAllocating: `s..s..…` with 200 strings of almost
// 16 MiB was one native join of 3.2 GiB (a Go "fatal error: out of memory"
// under an address-space limit, fatal for the whole host). The patched
// engine checks the joined length first: a catchable error naming the
// limit, next to nothing allocated, the VM kept.
func TestConcat_BoundedBeforeAllocating(t *testing.T) {
	max := sandbox.Limits{}.WithDefaults().MaxStringSize
	code := `return function(req, res)
  if req.query.x == nil then res:write("alive"); return end
  local s = string.rep("x", 16*1024*1024 - 64)
  local ok, err = pcall(function() return #(` + concatChain("s", 200) + `) end)
  res:write(tostring(ok), "|", tostring(err))
end`
	a := newApp(t, code, nil)
	v := a.vm(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := serve(t, v, request("GET", "/?x=1", "", nil))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	body := s.body.String()
	want := fmt.Sprintf("string concatenation: result of %d bytes exceeds the limit of %d", 200*(16<<20-64), max)
	if !strings.HasPrefix(body, "false|") || !strings.Contains(body, want) {
		t.Fatalf("body %q, want false and %q", body, want)
	}
	// string.rep makes 16 MiB; the join would have been 3.2 GiB.
	if d := after.TotalAlloc - before.TotalAlloc; d > 256<<20 {
		t.Errorf("the request allocated %d MiB", d>>20)
	}
	if !v.Healthy() {
		t.Fatal("a caught concatenation error made the VM unhealthy")
	}
	s, err = serve(t, v, request("GET", "/", "", nil))
	if err != nil || s.body.String() != "alive" {
		t.Fatalf("next request: %q, %v", s.body.String(), err)
	}
}

// TestConcat_Uncaught: like every size limit, an uncaught one is a script
// error wrapping sandbox.ErrTooLarge, with the script's line, and the VM
// is replaced.
func TestConcat_Uncaught(t *testing.T) {
	code := "return function(req, res)\n  local s = string.rep('x', 2^19)\n  res:write(" + concatChain("s", 3) + ")\nend"
	a := newApp(t, code, nil, withLimits(sandbox.Limits{MaxStringSize: 1 << 20}))
	v := a.vm(t)
	_, err := serve(t, v, request("GET", "/", "", nil))
	if err == nil || !errors.Is(err, sandbox.ErrTooLarge) {
		t.Fatalf("error %v, want sandbox.ErrTooLarge", err)
	}
	want := fmt.Sprintf("result of %d bytes exceeds the limit of %d", 3<<19, 1<<20)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ":3") {
		t.Fatalf("error %q, want %q at line 3", err, want)
	}
	if v.Healthy() {
		t.Error("the VM is still healthy after an uncaught size limit")
	}
}

func TestConcat_Limit(t *testing.T) {
	limits := sandbox.Limits{MaxStringSize: 1 << 20}
	tests := []struct {
		name string
		code string
		err  string // "": must succeed
	}{
		{"exactly the limit", "local s = string.rep('x', 2^18)\nassert(#(s..s..s..s) == 2^20)", ""},
		{"one byte over", "local s = string.rep('x', 2^18)\nlocal r = s..s..s..s..'y'", "exceeds the limit of 1048576"},
		{"two operands over", "local s = string.rep('x', 2^19)\nlocal r = s..s..'y'", "exceeds the limit of 1048576"},
		{"numbers count", "local s = string.rep('x', 2^20 - 1)\nlocal r = s..77", "exceeds the limit of 1048576"},
		{"numbers within", "local s = string.rep('x', 2^20 - 2)\nassert(#(s..7) == 2^20 - 1)", ""},
		// Doubling is many instructions: each step is bounded.
		{"doubling", "local s = 'x'\nfor i = 1, 30 do s = s..s end", "exceeds the limit of 1048576"},
		// A __concat result joined with further strings is checked too.
		{"after __concat", "local big = string.rep('x', 2^19 + 1)\nlocal t = setmetatable({}, {__concat = function() return big end})\nlocal r = big..t..big", "exceeds the limit of 1048576"},
		{"__concat within", "local t = setmetatable({}, {__concat = function() return 'T' end})\nassert('a'..t..'b' == 'aT')", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res)\n"+tt.code+"\nend", nil, withLimits(limits))
			_, err := serve(t, a.vm(t), request("GET", "/", "", nil))
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, sandbox.ErrTooLarge) {
				t.Fatalf("error %v, want %q wrapping sandbox.ErrTooLarge", err, tt.err)
			}
		})
	}
}

// TestConcat_Semantics: the patch changes nothing below the limit.
func TestConcat_Semantics(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{"strings", `"a".."b".."c"`, "abc"},
		{"integers", `1 .. 2`, "12"},
		{"float", `"x"..1.5`, "x1.5"},
		{"mixed chain", `"n="..10 .."/"..2.25`, "n=10/2.25"},
		{"empty", `"".."".."a"..""`, "a"},
		{"__concat right", `"a"..setmetatable({}, {__concat = function(l, r) return l.."<T>" end})`, "a<T>"},
		{"__concat left", `setmetatable({}, {__concat = function(l, r) return "<T>"..r end}).."b"`, "<T>b"},
		{"__concat mid chain", `"a"..setmetatable({}, {__concat = function(l, r) return type(l)..type(r) end}).."b".."c"`, "atablestring"},
		{"__concat returns table", `tostring(getmetatable("a"..setmetatable({}, {__concat = function() return setmetatable({}, {}) end})) ~= nil)`, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := run(t, "return function(req, res) res:write("+tt.expr+") end")
			if err != nil || s.body.String() != tt.want {
				t.Fatalf("%s = %q, %v; want %q", tt.expr, s.body.String(), err, tt.want)
			}
		})
	}
	errs := []struct {
		name, expr, want string
	}{
		{"table", `"a"..{}`, "cannot perform concat operation between string and table"},
		{"nil", `"a"..nil`, "cannot perform concat operation between string and nil"},
		{"boolean", `true.."a"`, "cannot perform concat operation between boolean and string"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, "return function(req, res) local r = "+tt.expr+" end")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: error %v, want %q", tt.expr, err, tt.want)
			}
			if errors.Is(err, sandbox.ErrTooLarge) {
				t.Errorf("%s: a type error wraps sandbox.ErrTooLarge", tt.expr)
			}
		})
	}
}

// allocated runs one request and returns its error and the bytes the
// process allocated meanwhile.
func allocated(t *testing.T, v script.VM) (error, uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := serve(t, v, request("GET", "/", "", nil))
	runtime.ReadMemStats(&after)
	return err, after.TotalAlloc - before.TotalAlloc
}

// TestPrint_ManyLargeArguments: print and log join their arguments; with
// 2000 references to one 1 MiB string that was one native join of 2 GiB.
// A log line is cut at its limit before joining the rest. (CGI print now
// writes each argument as it goes, bounded by max_response, which this
// package's test sink does not enforce.)
func TestPrint_ManyLargeArguments(t *testing.T) {
	const args = "local s = string.rep('x', 2^20)\nlocal t = {}\nfor i = 1, 2000 do t[i] = s end\n"
	t.Run("log", func(t *testing.T) {
		a := newApp(t, "return function(req, res)\n"+args+"print(unpack(t))\nlog(unpack(t))\nres:write('done')\nend", nil)
		err, d := allocated(t, a.vm(t))
		if err != nil {
			t.Fatal(err)
		}
		if d > 256<<20 {
			t.Errorf("the request allocated %d MiB", d>>20)
		}
		if logs := a.logs.String(); !strings.Contains(logs, "(truncated)") || len(logs) > 4*maxLogMessage {
			t.Errorf("log of %d bytes, want lines cut at %d", len(logs), maxLogMessage)
		}
	})
}
