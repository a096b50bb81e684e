package lua

import (
	"context"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// FuzzPattern runs find, match, gmatch and gsub on arbitrary subjects and
// patterns: a Lua error is fine, a Go panic inside the matcher is a bug.
func FuzzPattern(f *testing.F) {
	for _, seed := range [][2]string{
		{"hello world", "(%w+) (%w+)"}, {"f(a(b)c)d", "%b()"}, {"THE (quick) fox", "%f[%a]%a+"},
		{"abab", "(ab)%1"}, {"x", "[%a-z]"}, {"]", "[]]"}, {"a", "[^]"}, {"", "()"}, {"a$", "a$$"},
		{"aaa", "a-b"}, {"x", "%"}, {"x", "(()"}, {"x", "%f"}, {"ab", "[a-]"}, {"a", "%1"},
	} {
		f.Add(seed[0], seed[1])
	}
	a := newFuzzVM(f)
	f.Fuzz(func(t *testing.T, subject, pattern string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		a.L.SetContext(ctx)
		defer a.L.RemoveContext()
		for _, fn := range []string{"find", "match", "gsub", "gmatchall"} {
			a.L.SetTop(0)
			a.L.Push(a.L.G.Global.RawGetString("probe"))
			a.L.Push(glua.LString(fn))
			a.L.Push(glua.LString(subject))
			a.L.Push(glua.LString(pattern))
			err := a.L.PCall(3, 0, nil)
			if ae, ok := err.(*glua.ApiError); ok && ae.Type == glua.ApiErrorPanic {
				t.Fatalf("%s(%q, %q): Go panic: %v", fn, subject, pattern, ae.Object)
			}
		}
	})
}

func newFuzzVM(f *testing.F) *vm {
	dir := f.TempDir()
	b, err := New().Compile(scriptSource(dir, `
function probe(fn, s, p)
  if fn == "gmatchall" then
    local n = 0
    for a in string.gmatch(s, p) do n = n + 1; if n > 1000 then break end end
  elseif fn == "gsub" then
    string.gsub(s, p, "<%0>")
    string.gsub(s, p, function(...) return select("#", ...) end)
  else
    string[fn](s, p)
  end
end
io.write("Content-Type: text/plain\n\n")`), defaultOpts())
	if err != nil {
		f.Fatal(err)
	}
	v := newVM(b.(*bundle))
	v.env = v.newEnv(nil)
	fn := v.L.NewFunctionFromProto(b.(*bundle).proto)
	fn.Env = v.env
	v.L.Push(fn)
	if err := v.L.PCall(0, 0, nil); err == nil {
		f.Fatal("io.write outside a request should fail")
	}
	f.Cleanup(v.Close)
	return v
}
