package js

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

func TestCGIStyle(t *testing.T) {
	tests := []struct {
		name       string
		code       string
		req        *script.Request
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{"print and write", `print("Content-Type: text/plain"); print(); write("a", 1, "b"); print("", "x", 2);`, get("/"), 200,
			map[string]string{"Content-Type": "text/plain"}, "a1b x 2\n"},
		{"env", `print("Content-Type: text/plain\n"); write(env.REQUEST_METHOD + " " + env.QUERY_STRING + " " + typeof env.PATH);`, get("/?q=1"), 200,
			nil, "GET q=1 undefined"},
		{"stdin once", `print("Content-Type: text/plain\n"); write(stdin.read() + "|" + stdin.read() + "|" + stdin.readBytes().length);`,
			post("/", "text/plain", []byte("héllo")), 200, nil, "héllo||0"},
		{"stdin bytes", `print("Content-Type: text/plain\n"); const b = stdin.readBytes(); write(b instanceof Uint8Array, b.length, stdin.read() === "");`,
			post("/", "text/plain", []byte{1, 2, 255}), 200, nil, "true3true"},
		{"status and location", `print("Status: 303 See Other"); print("Location: /next"); print("X-A: 1"); print("");`, get("/"), 303,
			map[string]string{"Location": "/next", "X-A": "1"}, ""},
		{"location only", `write("Location: /x\r\n\r\n");`, get("/"), 302, map[string]string{"Location": "/x"}, ""},
		{"headers without blank line at end", `write("Content-Type: text/plain\n");`, get("/"), 200, map[string]string{"Content-Type": "text/plain"}, ""},
		{"bytes body", `print("Content-Type: application/octet-stream\n"); write(new Uint8Array([104, 105]));`, get("/"), 200, nil, "hi"},
		{"builtins", `print("Content-Type: text/plain\n"); write(crypto.sha256("").slice(0, 8), base64.encode("x"), typeof kv.get, typeof require);`,
			get("/"), 200, nil, "e3b0c442eA==functionfunction"},
		{"require", `const m = require("./lib"); print("Content-Type: text/plain\n"); write(m.v);`, get("/"), 200, nil, "from lib"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code, "lib.js": `exports.v = "from lib";`})
			b := a.mustCompile("app.js")
			if b.Style() != script.StyleCGI {
				t.Fatalf("style = %v", b.Style())
			}
			vm, err := b.NewVM(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r := serve(vm, tt.req)
			if r.err != nil {
				t.Fatalf("Serve: %v", r.err)
			}
			if r.status != tt.wantStatus || r.body != tt.wantBody {
				t.Errorf("status %d body %q, want %d %q", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestCGIFreshGlobals(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `
var count = (typeof count === "number" ? count : 0) + 1;
globalThis.seen = (globalThis.seen || 0) + 1;
String.prototype.polluted = "yes";
let x = 1; // redeclaring in the same runtime would be a SyntaxError
print("Content-Type: text/plain\n");
write(count, seen, typeof "".polluted);`})
	vm := a.mustVM("app.js")
	for i := 0; i < 3; i++ {
		r := serve(vm, get("/"))
		if r.err != nil || r.body != "11string" {
			t.Fatalf("request %d: %q %v, want 11string (fresh globals)", i, r.body, r.err)
		}
	}
}

func TestCGIErrors(t *testing.T) {
	tests := []struct {
		name string
		code string
		want string
		is   error
	}{
		{"nothing printed", `const a = 1;`, "printed nothing", script.ErrNoCGIHead},
		{"no header", `write("hello world\n\nbody");`, "not a header", script.ErrNoCGIHead},
		{"no type", `print("X-A: 1\n");`, "no Content-Type, Status or Location", script.ErrNoCGIHead},
		{"thrown", "print('Content-Type: text/plain\\n');\nthrow new Error('cgi boom');", "cgi boom", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{"app.js": tt.code})
			r := serve(a.mustVM("app.js"), get("/"))
			var se *script.ScriptError
			if !errors.As(r.err, &se) || !strings.Contains(se.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", r.err, tt.want)
			}
			if tt.is != nil && !errors.Is(r.err, tt.is) {
				t.Errorf("err does not wrap %v", tt.is)
			}
			if se.File != a.path("app.js") || !strings.Contains(se.Error(), "app.js") {
				t.Errorf("error %q does not name the script", se.Error())
			}
		})
	}
}

func TestCGITimeout(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": "print('Content-Type: text/plain\\n');\nlet i = 0;\nfor (;;) { i++; }"})
	vm := a.mustVM("app.js")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r := serveCtx(ctx, vm, get("/"))
	var se *script.ScriptError
	// Line 3 is the loop; on a very loaded machine the interrupt can land
	// before it (line 2), never after.
	if !errors.As(r.err, &se) || !se.Timeout() || se.Line < 2 || se.Line > 3 || se.File != a.path("app.js") {
		t.Fatalf("err = %v, want a timeout at app.js line 3", r.err)
	}
	if vm.Healthy() {
		t.Errorf("CGI VM healthy after interrupt")
	}
}
