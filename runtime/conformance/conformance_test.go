// Package conformance holds one table of script API cases run against both
// engines: the same request in, the same response out, so the languages
// cannot drift apart.
package conformance

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

type sink struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (s *sink) WriteHeader(status int, h http.Header) error {
	s.status, s.header = status, h.Clone()
	return nil
}
func (s *sink) Write(p []byte) (int, error) { return s.body.Write(p) }

type request struct {
	method, path, query, ctype string
	body                       string
	headers                    map[string]string
}

type want struct {
	status     int
	body       string // exact, unless bodyHas is set
	bodyHas    []string
	headers    map[string]string // header → exact value
	setCookies []string          // substrings, one per Set-Cookie in order
}

type apiCase struct {
	name    string
	js, lua string // handler bodies: the body of function(req, res)
	req     request
	want    want
}

func multipartBody() (string, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("title", "trip")
	fw, _ := w.CreateFormFile("doc", "a.txt")
	fw.Write([]byte("file-bytes"))
	w.Close()
	return b.String(), w.FormDataContentType()
}

func cases() []apiCase {
	mp, mpType := multipartBody()
	return []apiCase{
		{name: "write and default head",
			js: `res.write("a", "b", 1)`, lua: `res:write("a", "b", 1)`,
			want: want{status: 200, body: "ab1", headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}}},
		{name: "return a string",
			js: `return "plain"`, lua: `return "plain"`,
			want: want{status: 200, body: "plain"}},
		{name: "method path uri",
			js: `return req.method + " " + req.path + " " + req.uri`, lua: `return req.method .. " " .. req.path .. " " .. req.uri`,
			req:  request{method: "PUT", path: "/x/y", query: "a=1"},
			want: want{status: 200, body: "PUT /x/y /app/x/y?a=1"}},
		{name: "query first value and all values",
			js:   `return req.query.k + "|" + req.queryAll("k").join(",") + "|" + req.query["ü"] + "|" + (req.query.none === undefined)`,
			lua:  `return req.query.k .. "|" .. table.concat(req:query_all("k"), ",") .. "|" .. req.query["ü"] .. "|" .. tostring(req.query.none == nil)`,
			req:  request{query: "k=1&k=2&%C3%BC=%E2%82%AC"},
			want: want{status: 200, body: "1|1,2|€|true"}},
		{name: "headers lower-case with content-type",
			js: `return req.headers["x-thing"] + "|" + req.headers["content-type"]`, lua: `return req.headers["x-thing"] .. "|" .. req.headers["content-type"]`,
			req:  request{method: "POST", ctype: "text/plain", body: "b", headers: map[string]string{"HTTP_X_THING": "v"}},
			want: want{status: 200, body: "v|text/plain"}},
		{name: "base is where the app is mounted",
			js: `return req.base + "|" + req.base + req.path`, lua: `return req.base .. "|" .. req.base .. req.path`,
			req:  request{path: "/p"},
			want: want{status: 200, body: "/app|/app/p"}},
		{name: "params and remote address",
			js: `return req.params.SERVER_NAME + "|" + req.remoteAddr`, lua: `return req.params.SERVER_NAME .. "|" .. req.remote_addr`,
			want: want{status: 200, body: "example.org|192.0.2.7"}},
		{name: "cookies",
			js: `return req.cookies.sid + "|" + req.cookies.theme`, lua: `return req.cookies.sid .. "|" .. req.cookies.theme`,
			req:  request{headers: map[string]string{"HTTP_COOKIE": "sid=abc; theme=dark"}},
			want: want{status: 200, body: "abc|dark"}},
		{name: "body as string",
			js: `return String(req.body.length) + ":" + req.body`, lua: `return #req.body .. ":" .. req.body`,
			req:  request{method: "POST", body: "hello body"},
			want: want{status: 200, body: "10:hello body"}},
		{name: "json body",
			js:   `const j = req.json(); return j.name + "|" + j.list[1] + "|" + j.n`,
			lua:  `local j = req:json(); return j.name .. "|" .. j.list[2] .. "|" .. j.n`,
			req:  request{method: "POST", ctype: "application/json", body: `{"name":"x","list":["a","b"],"n":3}`},
			want: want{status: 200, body: "x|b|3"}},
		{name: "urlencoded form",
			js: `const f = req.form(); return f.a + "|" + f.b`, lua: `local f = req:form(); return f.a .. "|" .. f.b`,
			req:  request{method: "POST", ctype: "application/x-www-form-urlencoded", body: "a=1&b=two+words&a=3"},
			want: want{status: 200, body: "1|two words"}},
		{name: "multipart form and files",
			js:   `const f = req.form(), d = req.files().doc; return f.title + "|" + d.filename + "|" + d.type + "|" + d.size + "|" + d.data.length`,
			lua:  `local f, d = req:form(), req:files().doc; return f.title .. "|" .. d.filename .. "|" .. d.type .. "|" .. d.size .. "|" .. #d.data`,
			req:  request{method: "POST", ctype: mpType, body: mp},
			want: want{status: 200, body: "trip|a.txt|application/octet-stream|10|10"}},
		{name: "status and header chain",
			js:   `res.status(201).header("X-A", "1"); res.header("X-A", "2"); return "made"`,
			lua:  `res:status(201):header("X-A", "1"); res:header("X-A", "2"); return "made"`,
			want: want{status: 201, body: "made", headers: map[string]string{"X-A": "2"}}},
		{name: "add header twice",
			js: `res.addHeader("X-M", "1"); res.addHeader("X-M", "2")`, lua: `res:add_header("X-M", "1"); res:add_header("X-M", "2")`,
			want: want{status: 200, headers: map[string]string{"X-M": "1, 2"}}},
		{name: "cookie options",
			js:   `res.cookie("s", "v", {path: "/", maxAge: 60, httpOnly: true, secure: true, sameSite: "Strict"}); res.cookie("t", "w")`,
			lua:  `res:cookie("s", "v", {path = "/", max_age = 60, http_only = true, secure = true, same_site = "Strict"}); res:cookie("t", "w")`,
			want: want{status: 200, setCookies: []string{"s=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict", "t=w"}}},
		{name: "json response",
			js: `res.json({a: 1, b: [true, null], c: "x"})`, lua: `res:json({a = 1, b = {true, json.null}, c = "x"})`,
			want: want{status: 200, body: `{"a":1,"b":[true,null],"c":"x"}`, headers: map[string]string{"Content-Type": "application/json"}}},
		{name: "redirect default and code",
			js: `res.redirect("/next")`, lua: `res:redirect("/next")`,
			want: want{status: 302, headers: map[string]string{"Location": "/next"}}},
		{name: "redirect 301",
			js: `return res.redirect("/p", 301)`, lua: `return res:redirect("/p", 301)`,
			want: want{status: 301, headers: map[string]string{"Location": "/p"}}},
		{name: "HEAD sends no body",
			js: `return "not sent"`, lua: `return "not sent"`,
			req:  request{method: "HEAD"},
			want: want{status: 200, body: ""}},
		{name: "sha256 and hmac",
			js:   `return crypto.sha256("abc") + "|" + crypto.hmacSha256("key", "The quick brown fox jumps over the lazy dog")`,
			lua:  `return crypto.sha256("abc") .. "|" .. crypto.hmac_sha256("key", "The quick brown fox jumps over the lazy dog")`,
			want: want{status: 200, body: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad|f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"}},
		{name: "base64 round trip",
			js: `return base64.encode("héllo") + "|" + base64.decode("aMOpbGxv")`, lua: `return base64.encode("héllo") .. "|" .. base64.decode("aMOpbGxv")`,
			want: want{status: 200, body: "aMOpbGxv|héllo"}},
		{name: "JSON encode decode builtins",
			js: `return JSON.stringify(JSON.parse('{"k":[1,2]}').k)`, lua: `return json.encode(json.decode('{"k":[1,2]}').k)`,
			want: want{status: 200, body: "[1,2]"}},
		{name: "uncaught error",
			js: `throw new Error("boom")`, lua: `error("boom")`,
			want: want{status: 0}},
		{name: "bad json is a client error",
			js: `req.json()`, lua: `req:json()`,
			req:  request{method: "POST", ctype: "application/json", body: "{"},
			want: want{status: -400}},
		{name: "time",
			js: `return String(Date.now() > 1.7e12)`, lua: `return tostring(os.time() > 1.7e9)`,
			want: want{status: 200, body: "true"}},
	}
}

func engines() []script.Engine { return []script.Engine{js.New(), lua.New()} }

func handlerSource(engine, body string) string {
	if engine == "js" {
		return "module.exports = function (req, res) {\n" + body + "\n};\n"
	}
	return "return function(req, res)\n" + body + "\nend\n"
}

func buildRequest(r request) *script.Request {
	method := r.method
	if method == "" {
		method = "GET"
	}
	path := r.path
	if path == "" {
		path = "/"
	}
	uri := "/app" + path
	if r.query != "" {
		uri += "?" + r.query
	}
	params := map[string]string{
		"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": r.query,
		"SERVER_NAME": "example.org", "REMOTE_ADDR": "192.0.2.7",
		"CONTENT_TYPE": r.ctype, "CONTENT_LENGTH": "",
	}
	if r.body != "" {
		params["CONTENT_LENGTH"] = itoa(len(r.body))
	}
	for k, v := range r.headers {
		params[k] = v
	}
	return &script.Request{Params: params, Method: method, URI: uri, Path: path, Base: "/app", RawQuery: r.query,
		RemoteAddr: "192.0.2.7", Body: []byte(r.body)}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestAPIConformance(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			results := map[string]*sink{}
			for _, eng := range engines() {
				dir := t.TempDir()
				file := filepath.Join(dir, "app"+eng.Extensions()[0])
				code := handlerSource(eng.Name(), map[string]string{"js": tc.js, "lua": tc.lua}[eng.Name()])
				if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
					t.Fatal(err)
				}
				b, err := eng.Compile(script.Source{App: "app", Dir: dir, Entry: file, Code: []byte(code)},
					script.Options{Limits: sandbox.Limits{}.WithDefaults()})
				if err != nil {
					t.Fatalf("%s: compile: %v", eng.Name(), err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				vm, err := b.NewVM(ctx)
				if err != nil {
					cancel()
					t.Fatalf("%s: NewVM: %v", eng.Name(), err)
				}
				req := buildRequest(tc.req)
				s := &sink{}
				res := script.NewResponse(s, 0, req.Method == "HEAD")
				err = vm.Serve(ctx, req, res)
				vm.Close()
				cancel()
				switch {
				case tc.want.status == 0:
					if err == nil {
						t.Fatalf("%s: no error, want an uncaught error", eng.Name())
					}
					continue
				case tc.want.status == -400:
					if !isBadRequest(err) {
						t.Fatalf("%s: error %v, want a bad-request error", eng.Name(), err)
					}
					continue
				case err != nil:
					t.Fatalf("%s: Serve: %v", eng.Name(), err)
				}
				res.Finish()
				results[eng.Name()] = s
				if s.status != tc.want.status {
					t.Errorf("%s: status %d, want %d", eng.Name(), s.status, tc.want.status)
				}
				if tc.want.body != "" || tc.req.method == "HEAD" {
					if got := s.body.String(); got != tc.want.body {
						t.Errorf("%s: body %q, want %q", eng.Name(), got, tc.want.body)
					}
				}
				for k, v := range tc.want.headers {
					if got := strings.Join(s.header.Values(k), ", "); got != v {
						t.Errorf("%s: header %s = %q, want %q", eng.Name(), k, got, v)
					}
				}
				if tc.want.setCookies != nil {
					got := s.header.Values("Set-Cookie")
					if len(got) != len(tc.want.setCookies) {
						t.Errorf("%s: Set-Cookie %q, want %d", eng.Name(), got, len(tc.want.setCookies))
					} else {
						for i, w := range tc.want.setCookies {
							if !strings.Contains(got[i], w) {
								t.Errorf("%s: Set-Cookie[%d] = %q, want it to contain %q", eng.Name(), i, got[i], w)
							}
						}
					}
				}
			}
			// Same request in, same response out.
			if a, b := results["js"], results["lua"]; a != nil && b != nil {
				if a.status != b.status || a.body.String() != b.body.String() || !sameHeaders(a.header, b.header) {
					t.Errorf("engines differ:\njs:  %d %v %q\nlua: %d %v %q", a.status, a.header, a.body.String(), b.status, b.header, b.body.String())
				}
			}
		})
	}
}

func sameHeaders(a, b http.Header) bool {
	norm := func(h http.Header) string {
		var keys []string
		for k := range h {
			keys = append(keys, k+"="+strings.Join(h[k], "\x00"))
		}
		sort.Strings(keys)
		return strings.Join(keys, "\n")
	}
	return norm(a) == norm(b)
}
