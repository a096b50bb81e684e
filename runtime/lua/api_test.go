package lua

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func multipartBody(t *testing.T) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.WriteField("title", "hello world"); err != nil {
		t.Fatal(err)
	}
	fw, err := w.CreateFormFile("upload", "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("\x00\x01binary\xff"))
	w.Close()
	return b.String(), w.FormDataContentType()
}

func TestRequest_Members(t *testing.T) {
	mpBody, mpType := multipartBody(t)
	tests := []struct {
		name   string
		req    *script.Request
		expr   string
		want   string
		status int // 0: success
	}{
		{"method", request("POST", "/x", "", nil), "req.method", "POST", 0},
		{"path", request("GET", "/a/b?q=1", "", nil), "req.path", "/a/b", 0},
		{"uri", request("GET", "/a/b?q=1", "", nil), "req.uri", "/a/b?q=1", 0},
		{"remote_addr", request("GET", "/", "", nil), "req.remote_addr", "192.0.2.7", 0},
		{"query first", request("GET", "/?a=1&a=2&b=x%20y", "", nil), "req.query.a .. '|' .. req.query.b", "1|x y", 0},
		{"query missing", request("GET", "/", "", nil), "tostring(req.query.none)", "nil", 0},
		{"query_all method", request("GET", "/?a=1&b=0&a=2", "", nil), "table.concat(req:query_all('a'), ',')", "1,2", 0},
		{"query_all dot call", request("GET", "/?a=1&a=2", "", nil), "#req.query_all('a')", "2", 0},
		{"query_all none", request("GET", "/", "", nil), "#req:query_all('a')", "0", 0},
		{"query_all none is a JSON array", request("GET", "/", "", nil), "json.encode(req:query_all('a'))", "[]", 0},
		{"headers", request("GET", "/", "", map[string]string{"HTTP_X_CUSTOM_THING": "v1", "CONTENT_TYPE": "text/plain"}),
			"req.headers['x-custom-thing'] .. '|' .. req.headers['content-type']", "v1|text/plain", 0},
		{"params", request("GET", "/", "", map[string]string{"SERVER_SOFTWARE": "nginx"}), "req.params.SERVER_SOFTWARE", "nginx", 0},
		{"cookies", request("GET", "/", "", map[string]string{"HTTP_COOKIE": "a=1; sid=xyz"}), "req.cookies.sid .. req.cookies.a", "xyz1", 0},
		{"body exact bytes", request("POST", "/", "\x00\xffé", nil), "#req.body .. ':' .. req.body:byte(2)", "4:255", 0},
		{"json", request("POST", "/", `{"a":[1,2,{"b":null}],"s":"x"}`, nil),
			"(function() local j = req:json(); return j.s .. #j.a .. tostring(j.a[3].b == json.null) end)()", "x3true", 0},
		{"json bad body", request("POST", "/", `{bad`, nil), "req:json()", "", 400},
		{"json bad body caught", request("POST", "/", `{bad`, nil), "tostring(pcall(req.json, req))", "false", 0},
		{"form urlencoded", request("POST", "/", "a=1&b=two+words&a=3", map[string]string{"CONTENT_TYPE": "application/x-www-form-urlencoded"}),
			"req:form().a .. '|' .. req:form().b", "1|two words", 0},
		{"form multipart field", request("POST", "/", mpBody, map[string]string{"CONTENT_TYPE": mpType}), "req:form().title", "hello world", 0},
		{"files multipart", request("POST", "/", mpBody, map[string]string{"CONTENT_TYPE": mpType}),
			"(function() local f = req:files().upload; return f.filename .. '|' .. f.type .. '|' .. f.size .. '|' .. (f.data == '\\0\\1binary\\255' and 'same' or 'differs') end)()",
			"a.bin|application/octet-stream|9|same", 0},
		{"form malformed multipart", request("POST", "/", "--x\r\nbroken", map[string]string{"CONTENT_TYPE": "multipart/form-data; boundary=x"}), "req:form()", "", 400},
		{"unknown field", request("GET", "/", "", nil), "tostring(req.nothing)", "nil", 0},
		{"tostring", request("GET", "/", "", nil), "tostring(req)", "request", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res) res:write("+tt.expr+") end", nil)
			s, err := serve(t, a.vm(t), tt.req)
			if tt.status == 400 {
				if !errors.Is(err, script.ErrBadRequest) {
					t.Fatalf("error %v does not wrap ErrBadRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if got := s.body.String(); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestRequest_UsedAfterFinish(t *testing.T) {
	a := newApp(t, `local saved
return function(req, res)
  if saved then res:write(saved.method) else saved = req; res:write("saved") end
end`, nil)
	v := a.vm(t)
	if _, err := serve(t, v, request("GET", "/", "", nil)); err != nil {
		t.Fatal(err)
	}
	_, err := serve(t, v, request("GET", "/", "", nil))
	if err == nil || !strings.Contains(err.Error(), "after its request finished") {
		t.Fatalf("stale req: error %v, want 'after its request finished'", err)
	}
}

func TestResponse_Members(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		status int
		header http.Header
		body   string
		err    string
	}{
		{"defaults", `res:write("x")`, 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, "x", ""},
		{"status chain", `res:status(201):write("made")`, 201, nil, "made", ""},
		{"status out of range", `res:status(42)`, 0, nil, "", "out of range"},
		{"header replace", `res:header("X-A", "1"); res:header("X-A", "2")`, 200, http.Header{"X-A": {"2"}}, "", ""},
		{"header number value", `res:header("X-N", 5)`, 200, http.Header{"X-N": {"5"}}, "", ""},
		{"header injection", `res:header("X-A", "a\r\nSet-Cookie: x=1")`, 0, nil, "", "CR, LF"},
		{"add_header", `res:add_header("X-A", "1"); res:add_header("X-A", "2")`, 200, http.Header{"X-A": {"1", "2"}}, "", ""},
		{"write many", `res:write("a", 1, "b", 2.5)`, 200, nil, "a1b2.5", ""},
		{"write table", `res:write({})`, 0, nil, "", "string expected, got table"},
		{"write dot call", `res.write("dot")`, 200, nil, "dot", ""},
		{"json", `res:json({ok = true, list = {1, 2}, name = "n"})`, 200, http.Header{"Content-Type": {"application/json"}}, `{"list":[1,2],"name":"n","ok":true}`, ""},
		{"redirect default", `res:redirect("/next")`, 302, http.Header{"Location": {"/next"}}, "", ""},
		{"redirect code", `res:redirect("https://example.com/", 301)`, 301, http.Header{"Location": {"https://example.com/"}}, "", ""},
		{"redirect bad code", `res:redirect("/x", 200)`, 0, nil, "", "not 3xx"},
		{"cookie plain", `res:cookie("sid", "abc")`, 200, http.Header{"Set-Cookie": {"sid=abc"}}, "", ""},
		{"cookie options", `res:cookie("sid", "abc", {path = "/", domain = "example.com", max_age = 60, http_only = true, secure = true, same_site = "Lax"})`,
			200, http.Header{"Set-Cookie": {"sid=abc; Path=/; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Lax"}}, "", ""},
		{"cookie camelCase", `res:cookie("a", "b", {maxAge = 5, httpOnly = true, sameSite = "Strict"})`,
			200, http.Header{"Set-Cookie": {"a=b; Max-Age=5; HttpOnly; SameSite=Strict"}}, "", ""},
		{"cookie expires", `res:cookie("a", "b", {expires = 0})`, 200, http.Header{"Set-Cookie": {"a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}}, "", ""},
		{"cookie bad samesite", `res:cookie("a", "b", {same_site = "sometimes"})`, 0, nil, "", "sameSite"},
		{"tostring", `res:write(tostring(res))`, 200, nil, "response", ""},
		{"no new fields", `res.foo = 1`, 0, nil, "", "index"},
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
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if s.status != tt.status {
				t.Errorf("status %d, want %d", s.status, tt.status)
			}
			for k, want := range tt.header {
				if got := s.header.Values(k); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if got := s.body.String(); got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
		})
	}
}

func TestResponse_TooLarge(t *testing.T) {
	a := newApp(t, `return function(req, res) for i = 1, 100 do res:write("0123456789") end end`, nil)
	s := &sink{}
	res := script.NewResponse(s, 50, false)
	err := a.vm(t).Serve(t.Context(), request("GET", "/", "", nil), res)
	if !errors.Is(err, script.ErrResponseTooLarge) {
		t.Fatalf("error %v, want ErrResponseTooLarge", err)
	}
}

func TestCGI_Style(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		req    *script.Request
		status int
		header http.Header
		body   string
		err    error
	}{
		{"print", `print("Content-Type: text/plain")
print()
print("hello", 1, nil)`, request("GET", "/", "", nil), 200, http.Header{"Content-Type": {"text/plain"}}, "hello\t1\tnil\n", nil},
		{"io.write chain", `io.write("Status: 201 Created\r\n", "Content-Type: text/x\r\n\r\n"):write("body")`,
			request("GET", "/", "", nil), 201, http.Header{"Content-Type": {"text/x"}}, "body", nil},
		{"read all", `local a = io.read("*a"); local b = io.read("a")
io.write("Content-Type: text/plain\n\n", a, "|", b, "|")`, request("POST", "/", "the body", nil), 200, nil, "the body||", nil},
		{"read lines", `local l1, l2 = io.read("*l", "l"); local l3 = io.read(); local l4 = io.read("L")
io.write("Content-Type: text/plain\n\n", l1, "|", l2, "|", tostring(l3), "|", tostring(l4))`,
			request("POST", "/", "one\ntwo\n", nil), 200, nil, "one|two|nil|nil", nil},
		{"read number and count", `local n = io.read("n"); local rest = io.read(3)
io.write("Content-Type: text/plain\n\n", n * 2, "|", rest)`, request("POST", "/", " 21abcdef", nil), 200, nil, "42|abc", nil},
		{"env and getenv", `io.write("Content-Type: text/plain\n\n", env.REQUEST_METHOD, "|", os.getenv("QUERY_STRING"), "|", tostring(os.getenv("HOME")))`,
			request("PUT", "/?x=1", "", nil), 200, nil, "PUT|x=1|nil", nil},
		{"location", `print("Location: /elsewhere\n")`, request("GET", "/", "", nil), 302, http.Header{"Location": {"/elsewhere"}}, "", nil},
		{"no output", `local x = 1`, request("GET", "/", "", nil), 0, nil, "", script.ErrNoCGIHead},
		{"body without head", `print("just text")`, request("GET", "/", "", nil), 0, nil, "", script.ErrNoCGIHead},
		{"bad header line", `print("not a header line\n\nbody")`, request("GET", "/", "", nil), 0, nil, "", script.ErrNoCGIHead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.code, nil)
			if a.bundle.Style() != script.StyleCGI {
				t.Fatalf("style %v, want cgi", a.bundle.Style())
			}
			s, err := serve(t, a.vm(t), tt.req)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				var se *script.ScriptError
				if !errors.As(err, &se) || se.File != a.entry {
					t.Errorf("error %v does not name the script", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if s.status != tt.status {
				t.Errorf("status %d, want %d", s.status, tt.status)
			}
			for k, want := range tt.header {
				if got := s.header.Values(k); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if got := s.body.String(); got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
		})
	}
}

func TestCGI_FreshGlobalsEachRequest(t *testing.T) {
	a := newApp(t, `counter = (counter or 0) + 1
string.extra = (string.extra or 0) + 1
local mt = getmetatable("")
io.write("Content-Type: text/plain\n\n", counter, ":", string.extra, ":", ("x").extra or "nil", ":", tostring(mt))`, nil)
	v := a.vm(t)
	for i := 0; i < 3; i++ {
		s, err := serve(t, v, request("GET", "/", "", nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.body.String(); got != "1:1:1:false" {
			t.Fatalf("request %d: %q, want 1:1:1:false (globals leaked between requests)", i, got)
		}
	}
}

func TestHandler_PrintAndLogGoToLog(t *testing.T) {
	a := newApp(t, `return function(req, res)
  print("printed", 1)
  log("logged", true)
  log.warn("careful")
  log.error("bad")
  log.debug("detail")
  res:write("ok")
end`, nil)
	s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	if err != nil || s.body.String() != "ok" {
		t.Fatalf("%q, %v", s.body.String(), err)
	}
	logs := a.logs.String()
	for _, want := range []string{`level=INFO msg="printed\t1"`, `level=INFO msg="logged true"`, `level=WARN msg=careful`, `level=ERROR msg=bad`, `level=DEBUG msg=detail`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestHandler_GetenvReadsParamsOnly(t *testing.T) {
	t.Setenv("FCGIHOST_LUA_SECRET", "host-secret")
	a := newApp(t, `local top = os.getenv("FCGIHOST_LUA_SECRET")
return function(req, res)
  res:write(tostring(top), "|", tostring(os.getenv("FCGIHOST_LUA_SECRET")), "|", os.getenv("REQUEST_METHOD"))
end`, nil)
	s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.body.String(); got != "nil|nil|GET" {
		t.Fatalf("got %q, want nil|nil|GET", got)
	}
}

func TestLog_Truncated(t *testing.T) {
	a := newApp(t, `return function(req, res) log(string.rep("x", 100000)) end`, nil)
	if _, err := serve(t, a.vm(t), request("GET", "/", "", nil)); err != nil {
		t.Fatal(err)
	}
	logs := a.logs.String()
	if !strings.Contains(logs, "(truncated)") || len(logs) > 20000 {
		t.Fatalf("log line of %d bytes, want it cut at %d", len(logs), maxLogMessage)
	}
}
