package js

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

func TestRequestMembers(t *testing.T) {
	form := func() (string, []byte) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("title", "hi there")
		fw, _ := w.CreateFormFile("upload", "a.bin")
		_, _ = fw.Write([]byte{0, 1, 2, 255})
		_ = w.Close()
		return w.FormDataContentType(), b.Bytes()
	}
	mpType, mpBody := form()
	withHeaders := get("/p/q?a=1&b=2&a=3")
	withHeaders.Params["HTTP_X_THING"] = "yes"
	withHeaders.Params["HTTP_COOKIE"] = "sid=abc; theme=dark; sid=dup"
	withHeaders.Params["SCRIPT_NAME"] = "/app"
	tests := []struct {
		name string
		expr string // JS expression whose String() is the body
		req  *script.Request
		want string
	}{
		{"method", `req.method`, get("/"), "GET"},
		{"path", `req.path`, get("/a/b?x=1"), "/a/b"},
		{"uri", `req.uri`, get("/a/b?x=1"), "/a/b?x=1"},
		{"query first", `req.query.a + "," + req.query.b`, get("/?a=1&b=2&a=3"), "1,2"},
		{"query missing", `String(req.query.zzz)`, get("/"), "undefined"},
		{"queryAll", `JSON.stringify(req.queryAll("a"))`, get("/?a=1&b=2&a=3"), `["1","3"]`},
		{"queryAll none", `JSON.stringify(req.queryAll("q"))`, get("/"), `[]`},
		{"headers", `req.headers["x-thing"] + " " + req.headers["cookie"].length`, withHeaders, "yes 28"},
		{"params", `req.params.SCRIPT_NAME + " " + req.params.REQUEST_METHOD`, withHeaders, "/app GET"},
		{"remoteAddr", `req.remoteAddr`, get("/"), "127.0.0.1"},
		{"cookies", `req.cookies.sid + " " + req.cookies.theme`, withHeaders, "abc dark"},
		{"body utf8", `req.body + " " + req.body.length`, post("/", "text/plain", []byte("héllo")), "héllo 5"},
		{"body invalid utf8", `req.body`, post("/", "text/plain", []byte("a\xffb")), "a\ufffdb"},
		{"bytes", `Array.from(req.bytes()).join(",") + " " + (req.bytes() instanceof Uint8Array)`, post("/", "application/octet-stream", []byte{0, 200, 255}), "0,200,255 true"},
		{"json", `(function(){ const j = req.json(); return j.a + j.b.length + Object.keys(j).join(""); })()`, post("/", "application/json", []byte(`{"z":1,"a":"x","b":[1,2]}`)), "x2zab"},
		{"form urlencoded", `JSON.stringify(req.form())`, post("/", "application/x-www-form-urlencoded", []byte("b=2&a=x+y&b=3")), `{"a":"x y","b":"2"}`},
		{"form multipart", `req.form().title`, post("/", mpType, mpBody), "hi there"},
		{"files", `(function(){ const f = req.files().upload; return [f.filename, f.type, f.size, f.data instanceof Uint8Array, Array.from(f.data).join(":")].join(" "); })()`, post("/", mpType, mpBody), "a.bin application/octet-stream 4 true 0:1:2:255"},
		{"files none", `JSON.stringify(req.files())`, post("/", "application/x-www-form-urlencoded", []byte("a=1")), "{}"},
		{"keys", `Object.keys(req).join(",")`, get("/"), strings.Join(reqKeys, ",")},
		{"set own property", `(req.user = "ann", req.user)`, get("/"), "ann"},
		{"override member", `(req.path = "/x", req.path)`, get("/a"), "/x"},
		{"detached method", `(function(){ const q = req.queryAll; return q("a").join(); })()`, get("/?a=1"), "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => { res.write(String(` + tt.expr + `)); };`})
			r := serve(a.mustVM("app.js"), tt.req)
			if r.err != nil {
				t.Fatalf("Serve: %v", r.err)
			}
			if r.body != tt.want {
				t.Errorf("body = %q, want %q", r.body, tt.want)
			}
		})
	}
}

func TestRequestBadInput(t *testing.T) {
	tests := []struct {
		name, expr string
		req        *script.Request
	}{
		{"json", `req.json()`, post("/", "application/json", []byte(`{"a":`))},
		{"json trailing", `req.json()`, post("/", "application/json", []byte(`{"a":1} x`))},
		{"json too deep", `req.json()`, post("/", "application/json", []byte(strings.Repeat("[", 20000)+strings.Repeat("]", 20000)))},
		{"form", `req.form()`, post("/", "multipart/form-data", []byte("x"))},
		{"files", `req.files()`, post("/", "multipart/form-data; boundary=zz", []byte("--zz\r\nbroken"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => { ` + tt.expr + `; res.write("no error"); };`})
			r := serve(a.mustVM("app.js"), tt.req)
			if !errors.Is(r.err, script.ErrBadRequest) {
				t.Fatalf("err = %v, want one wrapping ErrBadRequest", r.err)
			}
			var se *script.ScriptError
			if !errors.As(r.err, &se) || se.File != a.path("app.js") || se.Line != 1 {
				t.Errorf("error location = %+v, want app.js:1", se)
			}
		})
	}
	// Caught, the error is an ordinary JS error with a message.
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => {
		try { req.json(); } catch (e) { res.status(400).write(e.name + ": " + (e.message.indexOf("not JSON") >= 0)); }
	};`})
	r := serve(a.mustVM("app.js"), post("/", "application/json", []byte("nope")))
	if r.err != nil || r.status != 400 || r.body != "SyntaxError: true" {
		t.Errorf("caught bad JSON: status %d body %q err %v", r.status, r.body, r.err)
	}
}

func TestResponseMembers(t *testing.T) {
	tests := []struct {
		name       string
		code       string
		wantStatus int
		wantHeader map[string][]string
		wantBody   string
	}{
		{"defaults", `res.write("x")`, 200, map[string][]string{"Content-Type": {"text/html; charset=utf-8"}}, "x"},
		{"status chain", `res.status(201).write("made")`, 201, nil, "made"},
		{"header replace", `res.header("X-A", "1"); res.header("X-A", 2); res.write("")`, 200, map[string][]string{"X-A": {"2"}}, ""},
		{"addHeader", `res.addHeader("X-A", "1").addHeader("X-A", "2")`, 200, map[string][]string{"X-A": {"1", "2"}}, ""},
		{"cookie", `res.cookie("sid", "abc", {path: "/", domain: "example.com", maxAge: 60, httpOnly: true, secure: true, sameSite: "Lax"})`, 200,
			map[string][]string{"Set-Cookie": {"sid=abc; Path=/; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Lax"}}, ""},
		{"cookie expires date", `res.cookie("a", "b", {expires: new Date(Date.UTC(2030, 0, 2, 3, 4, 5))})`, 200,
			map[string][]string{"Set-Cookie": {"a=b; Expires=Wed, 02 Jan 2030 03:04:05 GMT"}}, ""},
		{"cookie maxAge 0 deletes", `res.cookie("a", "", {maxAge: 0})`, 200, map[string][]string{"Set-Cookie": {"a=; Max-Age=0"}}, ""},
		{"write many kinds", `res.write("a", 1, true, new Uint8Array([98, 99]), new Uint8Array([100]).buffer)`, 200, nil, "a1truebcd"},
		{"json", `res.json({b: [1, "x"], a: null})`, 200, map[string][]string{"Content-Type": {"application/json"}}, `{"b":[1,"x"],"a":null}`},
		{"json undefined", `res.json(undefined)`, 200, nil, `null`},
		{"redirect default", `res.redirect("/there")`, 302, map[string][]string{"Location": {"/there"}}, ""},
		{"redirect code", `res.redirect("https://x.example/", 301)`, 301, map[string][]string{"Location": {"https://x.example/"}}, ""},
		{"return string", `return "body"`, 200, nil, "body"},
		{"return object", `return {ok: true}`, 200, map[string][]string{"Content-Type": {"application/json"}}, `{"ok":true}`},
		{"return array", `return [1, 2]`, 200, nil, `[1,2]`},
		{"return bytes", `return new Uint8Array([104, 105])`, 200, nil, "hi"},
		{"return res", `return res.status(404)`, 404, nil, ""},
		{"return number ignored", `res.write("a"); return 5`, 200, nil, "a"},
		{"res keys", `res.write(Object.keys(res).join())`, 200, nil, strings.Join(resKeys, ",")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": `module.exports = function (req, res) { ` + tt.code + ` };`})
			r := serve(a.mustVM("app.js"), get("/"))
			if r.err != nil {
				t.Fatalf("Serve: %v", r.err)
			}
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.status, tt.wantStatus)
			}
			for k, want := range tt.wantHeader {
				if got := r.header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if r.body != tt.wantBody {
				t.Errorf("body = %q, want %q", r.body, tt.wantBody)
			}
		})
	}
}

func TestResponseErrors(t *testing.T) {
	tests := []struct {
		name, code, wantMsg string
	}{
		{"header injection", `res.header("X-A", "a\r\nSet-Cookie: x=1")`, "contains CR, LF or NUL"},
		{"bad header name", `res.header("Bad Name", "v")`, "invalid header name"},
		{"status range", `res.status(42)`, "not an HTTP status code"},
		{"redirect non-3xx", `res.redirect("/x", 200)`, "is not 3xx"},
		{"write undefined", `res.write(undefined)`, "cannot write undefined"},
		{"write object", `res.write({a: 1})`, "use res.json"},
		{"cookie samesite", `res.cookie("a", "b", {sameSite: "sideways"})`, "sameSite must be"},
		{"headers after stream", `res.write("x".repeat(70000)); res.header("X-Late", "1")`, "headers already sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": "module.exports = (req, res) => {\n  " + tt.code + ";\n};"})
			r := serve(a.mustVM("app.js"), get("/"))
			var se *script.ScriptError
			if !errors.As(r.err, &se) {
				t.Fatalf("err = %v, want a ScriptError", r.err)
			}
			if !strings.Contains(se.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", se.Error(), tt.wantMsg)
			}
			if se.Line != 2 {
				t.Errorf("line = %d, want 2 (%v)", se.Line, se)
			}
		})
	}
}

func TestResponseTooLarge(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => { for (;;) res.write("0123456789"); };`})
	vm := a.mustVM("app.js")
	s := &sink{}
	res := script.NewResponse(s, 1000, false)
	err := vm.Serve(t.Context(), get("/"), res)
	if !errors.Is(err, script.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
	_ = res.Finish()
	if s.body.Len() != 1000 {
		t.Errorf("body length = %d, want 1000", s.body.Len())
	}
}

func TestStaleRequestObjects(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `let saved;
module.exports = (req, res) => {
  if (!saved) { saved = res; res.write("first"); return; }
  try { saved.write("late"); res.write("no error"); } catch (e) { res.write(e.message); }
};`})
	vm := a.mustVM("app.js")
	if r := serve(vm, get("/")); r.body != "first" {
		t.Fatalf("first = %q %v", r.body, r.err)
	}
	r := serve(vm, get("/"))
	if !strings.Contains(r.body, "request has ended") {
		t.Errorf("stale res write: %q %v", r.body, r.err)
	}
}

func TestAsyncHandler(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		wantBody string
		wantErr  string
	}{
		{"async write", `module.exports = async (req, res) => { await null; res.write("after await"); };`, "after await", ""},
		{"async return string", `module.exports = async () => { await Promise.resolve(1); return "ret"; };`, "ret", ""},
		{"async return object", `module.exports = async () => ({a: await Promise.resolve(2)});`, `{"a":2}`, ""},
		{"promise then", `module.exports = () => Promise.resolve("p").then(s => s + "!");`, "p!", ""},
		{"rejected", `module.exports = async () => {
  await null;
  throw new Error("boom");
};`, "", "Error: boom"},
		{"rejected value", `module.exports = () => Promise.reject("plain");`, "", "Uncaught plain"},
		{"never settles", `module.exports = () => new Promise(() => {});`, "", "never settled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			r := serve(a.mustVM("app.js"), get("/"))
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
				}
				return
			}
			if r.err != nil || r.body != tt.wantBody {
				t.Errorf("body %q err %v, want %q", r.body, r.err, tt.wantBody)
			}
		})
	}
	t.Run("rejection location", func(t *testing.T) {
		a := newApp(t, map[string]string{"app.js": "module.exports = async () => {\n  await null;\n  throw new Error('boom');\n};"})
		r := serve(a.mustVM("app.js"), get("/"))
		var se *script.ScriptError
		if !errors.As(r.err, &se) || se.File != a.path("app.js") || se.Line != 3 {
			t.Errorf("err = %#v, want at app.js:3", se)
		}
	})
}

func TestHandlerObjectAndState(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `let n = 0;
exports.prefix = "n=";
exports.handle = function (req, res) { n++; res.write(this.prefix + n); };`})
	vm := a.mustVM("app.js")
	for i, want := range []string{"n=1", "n=2", "n=3"} {
		if r := serve(vm, get("/")); r.body != want || r.err != nil {
			t.Errorf("request %d: %q %v, want %q", i, r.body, r.err, want)
		}
	}
	// A second VM has its own state.
	if r := serve(a.mustVM("app.js"), get("/")); r.body != "n=1" {
		t.Errorf("second VM: %q, want n=1", r.body)
	}
}

func TestHeadRequestDiscardsBody(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => { res.write("body"); };`})
	vm := a.mustVM("app.js")
	s := &sink{}
	res := script.NewResponse(s, 0, true)
	req := get("/")
	req.Method = http.MethodHead
	if err := vm.Serve(t.Context(), req, res); err != nil {
		t.Fatal(err)
	}
	_ = res.Finish()
	if s.status != 200 || s.body.Len() != 0 {
		t.Errorf("HEAD: status %d body %q", s.status, s.body.String())
	}
}
