package lua

import (
	"strings"
	"testing"
)

// show renders every result of an expression, as "|"-joined tostrings.
const show = `local function show(...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = tostring((select(i, ...))) end
  return table.concat(out, "|")
end
`

func TestStringPatterns(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`string.find("hello world", "o w")`, "5|7"},
		{`string.find("hello", "l+")`, "3|4"},
		{`string.find("hello", "xyz")`, "nil"},
		{`string.find("a.b", ".", 1, true)`, "2|2"},
		{`string.find("a+b", "+", 1, true)`, "2|2"},
		{`string.find("abc", "b", -1)`, "nil"},
		{`string.find("abc", "b", -2)`, "2|2"},
		{`string.find("abc", "", 10)`, "4|3"},
		{`string.find("key = value", "(%w+)%s*=%s*(%w+)")`, "1|11|key|value"},
		{`string.find("a%b", "%%")`, "2|2"},
		{`string.match("2024-01-15", "(%d+)-(%d+)-(%d+)")`, "2024|01|15"},
		{`string.match("  trim  ", "^%s*(.-)%s*$")`, "trim"},
		{`string.match("hello", "()ll()")`, "3|5"},
		{`string.match("THE (quick) fox", "%((%a+)%)")`, "quick"},
		{`string.match("f(a(b)c)d", "%b()")`, "(a(b)c)"},
		{`string.match("THE (quick) fox", "%f[%a]%a+", 5)`, "quick"},
		{`string.match("hello", ".-")`, ""},
		{`string.match("abab", "(ab)%1")`, "ab"},
		{`string.match("[test]", "%[(.*)%]")`, "test"},
		{`string.match("x=1", "[^=]+")`, "x"},
		{`string.match("a-b", "[a%-]+")`, "a-"},
		{`string.match("A1b2 c", "[%a%d]+")`, "A1b2"},
		{`string.match("]x", "[]]")`, "]"},
		{`string.match("a1", "[a-z][0-9]")`, "a1"},
		{`string.match("hello", "^(h)(e)")`, "h|e"},
		{`string.match("hello", "^e")`, "nil"},
		{`string.match("end$", "d%$$")`, "d$"},
		{`string.match("ab", "a$b")`, "nil"},
		{`string.match("a$b", "a$b")`, "a$b"},
		{`string.match(" \t\n", "^%s+$") ~= nil`, "true"},
		{`string.match("x\0y", "%z")`, "\x00"},
		{`string.match("Hello", "%u%l+")`, "Hello"},
		{`string.match("a,b;c", "%p")`, ","},
		{`string.match("abc", "%W")`, "nil"},
		{`string.match("0xFF", "%x+", 3)`, "FF"},
		{`string.gsub("hello world", "o", "0")`, "hell0 w0rld|2"},
		{`string.gsub("hello world", "(%w+)", "<%1>")`, "<hello> <world>|2"},
		{`string.gsub("abc", "%w", "%0%0")`, "aabbcc|3"},
		{`string.gsub("abc", "", "-")`, "-a-b-c-|4"},
		{`string.gsub("hello world", "%w+", {hello = "HI"})`, "HI world|2"},
		{`string.gsub("$name is $age", "%$(%w+)", {name = "bob", age = 3})`, "bob is 3|2"},
		{`string.gsub("abc", "b", function(c) return nil end)`, "abc|1"},
		{`string.gsub("abc", "(b)(c)", function(x, y) return y .. x end)`, "acb|1"},
		{`string.gsub("hello", "l", "L", 1)`, "heLlo|1"},
		{`string.gsub("^x", "^x", "y")`, "^x|0"},
		{`string.gsub("hello", "^h", "H")`, "Hello|1"},
		{`string.gsub("a.b", "%.", "%%")`, "a%b|1"},
		{`string.gsub("abc", "b", 7)`, "a7c|1"},
		{`select(2, pcall(string.gsub, "abc", ".", {a = 1, b = true}))`, "~invalid replacement value (a boolean)"},
		{`select(2, pcall(string.gsub, "abc", ".", "%2"))`, "~invalid capture index"},
		{`select(2, pcall(string.find, "abc", "(()"))`, "~unfinished capture"},
		{`select(2, pcall(string.find, "abc", "%b"))`, "~unbalanced pattern"},
		{`select(2, pcall(string.find, "abc", "%f"))`, "~missing '['"},
		{`select(2, pcall(string.gsub, "abc", ".", true))`, "~string/function/table expected"},
		{`(function() local o = {} for w in ("one two  three"):gmatch("%a+") do o[#o+1] = w end return table.concat(o, ",") end)()`, "one,two,three"},
		{`(function() local o = "" for k, v in ("a=1, b=2"):gmatch("(%w+)=(%w+)") do o = o .. k .. v end return o end)()`, "a1b2"},
		{`(function() local n = 0 for _ in ("abc"):gmatch("") do n = n + 1 end return n end)()`, "4"},
		{`(function() local o = {} for p in ("abc"):gmatch("()") do o[#o+1] = p end return table.concat(o, ",") end)()`, "1,2,3,4"},
		{`("x"):rep(3)`, "xxx"},
		{`("%d"):format(7)`, "7"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := run(t, show+"return function(req, res) res:write(show("+tt.expr+")) end")
			if err != nil {
				t.Fatal(err)
			}
			got := s.body.String()
			if sub, ok := strings.CutPrefix(tt.want, "~"); ok {
				if !strings.Contains(got, sub) {
					t.Errorf("%s = %q, want it to contain %q", tt.expr, got, sub)
				}
				return
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestStringFormat(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`string.format("%5d|%-5d|%05d", 42, 42, 42)`, "   42|42   |00042"},
		{`string.format("%x %X %o %#x", 255, 255, 8, 255)`, "ff FF 10 0xff"},
		{`string.format("%.3f %e", 3.14159, 12345.678)`, "3.142 1.234568e+04"},
		{`string.format("%g %g %g %g", 100000, 1e20, 0.1, 1/3)`, "100000 1e+20 0.1 0.333333"},
		{`string.format("%s %s %s", nil, true, 12)`, "nil true 12"},
		{`string.format("%q", 'a "b"\n\0')`, "\"a \\\"b\\\"\\\n\\000\""},
		{`string.format("%5.2s|%-4s|", "abc", "x")`, "   ab|x   |"},
		{`string.format("%c%c", 72, 105)`, "Hi"},
		{`string.format("100%%")`, "100%"},
		{`string.format("%d %d %i", 3.7, "10", -2)`, "3 10 -2"},
		{`string.format("%+d % d", 5, 5)`, "+5  5"},
		{`string.format("%x", -1)`, "ffffffffffffffff"},
		{`string.format("%5.1f|", 2.25)`, "  2.2|"},
		{`string.format("%s", setmetatable({}, {__tostring = function() return "obj" end}))`, "obj"},
		{`select(2, pcall(string.format, "%d", "x"))`, "~number expected"},
		{`select(2, pcall(string.format, "%y", 1))`, "~invalid option '%y'"},
		{`select(2, pcall(string.format, "%s"))`, "~no value"},
		{`select(2, pcall(string.format, "%123d", 1))`, "~too long"},
		{`select(2, pcall(string.format, "%------d", 1))`, "~repeated flags"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := run(t, "return function(req, res) res:write(("+tt.expr+")) end")
			if err != nil {
				t.Fatal(err)
			}
			got := s.body.String()
			if sub, ok := strings.CutPrefix(tt.want, "~"); ok {
				if !strings.Contains(got, sub) {
					t.Errorf("%s = %q, want it to contain %q", tt.expr, got, sub)
				}
				return
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}
