package lua

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestEngine_NameAndExtensions(t *testing.T) {
	e := New()
	if got := e.Name(); got != "lua" {
		t.Errorf("Name() = %q, want lua", got)
	}
	if got := e.Extensions(); len(got) != 1 || got[0] != ".lua" {
		t.Errorf("Extensions() = %q, want [.lua]", got)
	}
}

func TestCompile_SyntaxErrors(t *testing.T) {
	tests := []struct {
		name      string
		code      string
		line, col int
		msg       string
	}{
		{"bad token", "local x = = 1", 1, 11, "near '='"},
		{"second line", "x = 1\nif then", 2, 4, "near 'then'"},
		{"third line indented", "x = 1\n\n   local 5 = 3", 3, 10, "near '5'"},
		{"unterminated string at eof", "x = 1\ny = 'abc", 2, 0, "unterminated string"},
		{"unfinished call at eof", "x = 1\nfoo(\n", 2, 0, "end of file"},
		{"goto without label", "goto nowhere", 1, 0, "nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tryApp(t, tt.code, nil)
			var se *script.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("Compile error = %v (%T), want *script.ScriptError", err, err)
			}
			if se.File != a.entry || se.Line != tt.line || se.Col != tt.col {
				t.Errorf("location = %s:%d:%d, want %s:%d:%d", se.File, se.Line, se.Col, a.entry, tt.line, tt.col)
			}
			if !strings.Contains(se.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", se.Error(), tt.msg)
			}
			if se.App != "test" {
				t.Errorf("App = %q, want test", se.App)
			}
		})
	}
}

func TestCompile_Style(t *testing.T) {
	tests := []struct {
		name string
		code string
		want script.Style
	}{
		{"return function", "return function(req, res) end", script.StyleHandler},
		{"return table", "local M = {}\nfunction M.handle(req, res) end\nreturn M", script.StyleHandler},
		{"return after code", "local x = 1\nreturn function() end -- trailing comment", script.StyleHandler},
		{"print script", `print("Content-Type: text/plain\n")` + "\nprint('hi')", script.StyleCGI},
		{"bare return", "io.write('Status: 204\\n\\n')\nreturn", script.StyleCGI},
		{"return inside a block", "do return function() end end", script.StyleCGI},
		{"return in a function only", "local function f() return 1 end\nprint(f())", script.StyleCGI},
		{"empty file", "", script.StyleCGI},
		{"return in a string", `print("return function() end")`, script.StyleCGI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.code, nil)
			if got := a.bundle.Style(); got != tt.want {
				t.Errorf("Style() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompile_UsesSourceCode(t *testing.T) {
	dir := t.TempDir()
	entry := dir + "/index.lua" // does not exist: Code is used
	b, err := New().Compile(script.Source{App: "x", Dir: dir, Entry: entry, Code: []byte("return function(req, res) res:write('from code') end")}, script.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := b.NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s, err := serve(t, v, request("GET", "/", "", nil))
	if err != nil || s.body.String() != "from code" {
		t.Fatalf("got %q, %v; want from code", s.body.String(), err)
	}
	if _, err := New().Compile(script.Source{App: "x", Dir: dir, Entry: entry}, script.Options{}); err == nil {
		t.Fatal("Compile of a missing file without Code succeeded")
	}
}

func TestNewVM_HandlerValidation(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		wantErr string
		line    int
	}{
		{"function", "return function(req, res) end", "", 0},
		{"table with handle", "return {handle = function(req, res) end}", "", 0},
		{"number", "local x = 1\nreturn 42", "returned a number, not a handler", 2},
		{"table without handle", "return {serve = function() end}", "returned a table, not a handler", 1},
		{"error at top level", "local x = 1\nerror('boom')\nreturn function() end", "boom", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.code, nil)
			v, err := a.bundle.NewVM(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVM: %v", err)
				}
				v.Close()
				return
			}
			var se *script.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("NewVM error = %v, want *script.ScriptError", err)
			}
			if !strings.Contains(se.Error(), tt.wantErr) || se.File != a.entry || se.Line != tt.line {
				t.Errorf("error = %q at %s:%d, want %q at line %d", se.Error(), se.File, se.Line, tt.wantErr, tt.line)
			}
		})
	}
}

func TestNewVM_TopLevelRunsOncePerVM(t *testing.T) {
	a := newApp(t, `local n = 0
local loads = (loads or 0) + 1
return function(req, res) n = n + 1; res:write(loads, ":", n) end`, nil)
	v1, v2 := a.vm(t), a.vm(t)
	for _, want := range []string{"1:1", "1:2", "1:3"} {
		s, err := serve(t, v1, request("GET", "/", "", nil))
		if err != nil || s.body.String() != want {
			t.Fatalf("v1 body %q, %v; want %q", s.body.String(), err, want)
		}
	}
	s, err := serve(t, v2, request("GET", "/", "", nil))
	if err != nil || s.body.String() != "1:1" {
		t.Fatalf("v2 shares state with v1: %q, %v", s.body.String(), err)
	}
}

func TestScriptError_RuntimeLocation(t *testing.T) {
	a := newApp(t, `local function inner()
  local t = nil
  return t.field
end
local function outer() return inner() + 1 end
return function(req, res)
  outer()
end`, nil)
	_, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	var se *script.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *script.ScriptError", err)
	}
	if se.File != a.entry || se.Line != 3 {
		t.Errorf("location %s:%d, want %s:3", se.File, se.Line, a.entry)
	}
	if strings.Contains(se.Err.Error(), a.entry) {
		t.Errorf("message repeats the location: %q", se.Err.Error())
	}
	frames := strings.Split(se.Stack, "\n")
	if len(frames) < 3 || !strings.Contains(frames[0], "inner ("+a.entry+":3)") || !strings.Contains(se.Stack, "outer ("+a.entry+":5)") {
		t.Errorf("stack =\n%s\nwant inner at :3 then outer at :5", se.Stack)
	}
}

func TestScriptError_ErrorValues(t *testing.T) {
	tests := []struct {
		name string
		code string
		line int
		msg  string
	}{
		{"string", "error('plain message')", 2, "plain message"},
		{"level 0", "error('no position', 0)", 2, "no position"},
		{"table with __tostring", "error(setmetatable({}, {__tostring = function() return 'custom' end}))", 2, "custom"},
		{"table", "error({code = 1})", 2, "error object is a table value"},
		{"nil", "error(nil)", 2, "error object is a nil value"},
		{"assert", "assert(false, 'assertion text')", 2, "assertion text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res)\n  "+tt.code+"\nend", nil)
			_, err := serve(t, a.vm(t), request("GET", "/", "", nil))
			var se *script.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want *script.ScriptError", err)
			}
			if se.Line != tt.line || !strings.Contains(se.Err.Error(), tt.msg) {
				t.Errorf("got %q at line %d, want %q at line %d", se.Err, se.Line, tt.msg, tt.line)
			}
		})
	}
}

func TestServe_ErrorKeepsVMHealthy(t *testing.T) {
	a := newApp(t, `return function(req, res)
  if req.query.fail then error("asked to") end
  res:write("ok")
end`, nil)
	v := a.vm(t)
	if _, err := serve(t, v, request("GET", "/?fail=1", "", nil)); err == nil {
		t.Fatal("no error")
	}
	if !v.Healthy() {
		t.Fatal("a plain script error made the VM unhealthy")
	}
	s, err := serve(t, v, request("GET", "/", "", nil))
	if err != nil || s.body.String() != "ok" {
		t.Fatalf("next request: %q, %v", s.body.String(), err)
	}
}

func TestServe_HandlerReturnValue(t *testing.T) {
	tests := []struct {
		name, code, body, err string
	}{
		{"string", `return "the body"`, "the body", ""},
		{"number", `return 42`, "42", ""},
		{"nil", `res:write("written")`, "written", ""},
		{"table", `return {a = 1}`, "", "returned a table"},
		{"res from a chain", `return res:status(201):write("chained")`, "chained", ""},
		{"other userdata", `return json.null`, "", "returned a userdata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := run(t, "return function(req, res) "+tt.code+" end")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || s.body.String() != tt.body {
				t.Fatalf("body %q, %v; want %q", s.body.String(), err, tt.body)
			}
		})
	}
}

func TestServe_CloseMakesUnhealthy(t *testing.T) {
	a := newApp(t, "return function() end", nil)
	v := a.vm(t)
	v.Close()
	if v.Healthy() {
		t.Fatal("closed VM reports healthy")
	}
	if _, err := serve(t, v, request("GET", "/", "", nil)); err == nil {
		t.Fatal("Serve on a closed VM succeeded")
	}
	v.Close() // idempotent
}

func TestCompile_DeepNestingRefused(t *testing.T) {
	tests := []struct {
		name string
		code string
		ok   bool
	}{
		{"parenthesised sums", "local x = " + strings.Repeat("(1 + ", 300_000) + "1" + strings.Repeat(")", 300_000), false},
		{"plain parentheses", "local x = " + strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000), true},
		{"concatenation", "local x = 'a'" + strings.Repeat(" .. 'a'", 300_000), false},
		{"field chain", "local x = t" + strings.Repeat(".a", 300_000), false},
		{"nested functions", "local x = " + strings.Repeat("function() return ", 20_000) + "1" + strings.Repeat(" end", 20_000), false},
		{"long but shallow", strings.Repeat("x = 1 + 2\n", 100_000) + "return function() end", true},
		{"realistic elseif chain", "local x = 1\nif x == 0 then x = 0\n" + strings.Repeat("elseif x == 1 then x = 1\n", 1000) + "end", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryApp(t, tt.code, nil)
			if tt.ok {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			var se *script.ScriptError
			if !errors.As(err, &se) || !strings.Contains(se.Error(), "too many syntax levels") || se.Line != 1 {
				t.Fatalf("error %v, want 'too many syntax levels' at line 1", err)
			}
		})
	}
}

func TestCurrentStack_WhileRunning(t *testing.T) {
	a := newApp(t, `local function spin()
  local x = 0
  while true do
    x = x + 1
  end
end
return function(req, res) spin() end`, nil)
	v := a.vm(t)
	sc, ok := v.(script.StackCapturer)
	if !ok {
		t.Fatal("the Lua VM does not implement script.StackCapturer")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := serveCtx(ctx, v, request("GET", "/", "", nil))
		done <- err
	}()
	var stack string
	for i := 0; i < 100; i++ { // until the loop in spin runs
		stack = sc.CurrentStack()
		if strings.HasPrefix(stack, "at spin") {
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve: %v", err)
	}
	lines := strings.Split(stack, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "at spin ("+a.entry+":") || lines[1] != "at handler ("+a.entry+":7)" {
		t.Fatalf("stack =\n%s\nwant spin in %s then the handler at line 7", stack, a.entry)
	}
}

// blockingKV blocks Get until released.
type blockingKV struct {
	fakeKV
	entered, release chan struct{}
}

func (k *blockingKV) Get(ctx context.Context, key string) (string, bool, error) {
	close(k.entered)
	<-k.release
	return "", false, nil
}

func TestCurrentStack_InNativeCall(t *testing.T) {
	kv := &blockingKV{fakeKV: *newFakeKV(), entered: make(chan struct{}), release: make(chan struct{})}
	a := newApp(t, `return function(req, res) kv.get("x") end`, nil, withKV(kv))
	v := a.vm(t)
	done := make(chan error, 1)
	go func() {
		_, err := serve(t, v, request("GET", "/", "", nil))
		done <- err
	}()
	<-kv.entered
	stack := v.(script.StackCapturer).CurrentStack()
	close(kv.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stack, "unavailable") {
		t.Fatalf("stack during a native call = %q, want unavailable", stack)
	}
}
