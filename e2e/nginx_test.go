// Package e2e runs the built fcgihost binary behind real front ends on
// loopback and checks what a browser would see.
package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

const nginxRoot = `
    location / {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass fcgihost;
      fastcgi_keep_conn on;
    }
`

func testApps() string { return filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps") }

func startStack(t *testing.T, config string) (*testutil.Host, *testutil.Nginx) {
	t.Helper()
	h := testutil.StartHost(t, testutil.HostOptions{Apps: testApps(), Unix: true, Config: config})
	n := testutil.StartNginx(t, h, nginxRoot)
	return h, n
}

func decode(t *testing.T, r *testutil.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("status %d, body not JSON: %v\n%s", r.StatusCode, err, testutil.Tail(r.Body, 500))
	}
	return m
}

func newReq(t *testing.T, method, url string, body []byte, ct string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req
}

func TestNginx_ScriptAPI(t *testing.T) {
	t.Parallel()
	_, n := startStack(t, "workers = 1\n")
	for _, app := range []string{"echo.js", "echo.lua"} {
		base := n.URL + "/" + app
		t.Run(app, func(t *testing.T) {
			t.Run("GET query headers cookies", func(t *testing.T) {
				req := newReq(t, "GET", base+"/a/b?k=1&k=2&name=J%C3%BCrgen&%C3%BC=%E2%82%AC", nil, "")
				req.Header.Set("X-Custom", "yes")
				req.Header.Set("Cookie", "sid=abc; theme=dark")
				r := testutil.Do(t, req)
				m := decode(t, r)
				if r.StatusCode != 200 || m["method"] != "GET" || m["path"] != "/a/b" {
					t.Fatalf("status %d method %v path %v", r.StatusCode, m["method"], m["path"])
				}
				q := m["query"].(map[string]any)
				if q["name"] != "Jürgen" || q["ü"] != "€" || q["k"] != "1" {
					t.Errorf("query = %v", q)
				}
				if k := fmt.Sprint(m["k"]); k != "[1 2]" {
					t.Errorf("queryAll(k) = %s", k)
				}
				hd := m["headers"].(map[string]any)
				if hd["x-custom"] != "yes" || !strings.HasPrefix(fmt.Sprint(hd["host"]), "127.0.0.1") {
					t.Errorf("headers = %v", hd)
				}
				ck := m["cookies"].(map[string]any)
				if ck["sid"] != "abc" || ck["theme"] != "dark" {
					t.Errorf("cookies = %v", ck)
				}
				if m["remote"] != "127.0.0.1" || !strings.HasPrefix(fmt.Sprint(m["uri"]), "/"+app+"/a/b?k=1") {
					t.Errorf("remote %v uri %v", m["remote"], m["uri"])
				}
			})
			t.Run("POST urlencoded", func(t *testing.T) {
				r := testutil.Do(t, newReq(t, "POST", base+"/", []byte("a=1&b=two+words&a=3"), "application/x-www-form-urlencoded"))
				f := decode(t, r)["form"].(map[string]any)
				if f["a"] != "1" || f["b"] != "two words" {
					t.Fatalf("form = %v", f)
				}
			})
			t.Run("POST multipart with file", func(t *testing.T) {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				mw.WriteField("title", "holiday")
				fw, _ := mw.CreateFormFile("photo", "beach.png")
				fw.Write([]byte{0x89, 'P', 'N', 'G', 0, 1, 2})
				mw.Close()
				r := testutil.Do(t, newReq(t, "POST", base+"/", buf.Bytes(), mw.FormDataContentType()))
				m := decode(t, r)
				if m["form"].(map[string]any)["title"] != "holiday" {
					t.Errorf("form = %v", m["form"])
				}
				f := m["files"].(map[string]any)["photo"].(map[string]any)
				if f["filename"] != "beach.png" || f["size"] != 7.0 || f["first"] != 137.0 {
					t.Errorf("file = %v", f)
				}
			})
			t.Run("POST JSON", func(t *testing.T) {
				r := testutil.Do(t, newReq(t, "POST", base+"/", []byte(`{"n":3,"list":["x","y"],"ok":true}`), "application/json"))
				j := decode(t, r)["json"].(map[string]any)
				if j["n"] != 3.0 || fmt.Sprint(j["list"]) != "[x y]" || j["ok"] != true {
					t.Fatalf("json = %v", j)
				}
			})
			t.Run("bad JSON is 400", func(t *testing.T) {
				r := testutil.Do(t, newReq(t, "POST", base+"/", []byte(`{"n":`), "application/json"))
				if r.StatusCode != 400 {
					t.Fatalf("status %d: %s", r.StatusCode, r.Body)
				}
			})
			t.Run("3 MiB body echoed and checksummed", func(t *testing.T) {
				body := make([]byte, 3<<20)
				rand.Read(body)
				r := testutil.Do(t, newReq(t, "POST", base+"/bytes", body, "application/octet-stream"))
				if r.StatusCode != 200 || len(r.Body) != len(body) {
					t.Fatalf("status %d, %d bytes back of %d", r.StatusCode, len(r.Body), len(body))
				}
				if sha256.Sum256([]byte(r.Body)) != sha256.Sum256(body) {
					t.Fatal("echoed body differs")
				}
				text := bytes.Repeat([]byte("abc"), 1<<20)
				m := decode(t, testutil.Do(t, newReq(t, "POST", base+"/", text, "text/plain")))
				sum := sha256.Sum256(text)
				if m["body_sha256"] != hex.EncodeToString(sum[:]) || m["body_len"] != float64(len(text)) {
					t.Fatalf("script saw body of %v bytes, sha %v", m["body_len"], m["body_sha256"])
				}
			})
			t.Run("status codes", func(t *testing.T) {
				for _, code := range []int{201, 404, 418, 500, 503} {
					r := testutil.Get(t, fmt.Sprintf("%s/status/%d", base, code))
					if r.StatusCode != code {
						t.Errorf("status %d, want %d", r.StatusCode, code)
					}
				}
			})
			t.Run("redirect", func(t *testing.T) {
				r := testutil.Get(t, base+"/redirect")
				if r.StatusCode != 302 || r.Header.Get("Location") != "/"+app+"/target" {
					t.Fatalf("status %d Location %q", r.StatusCode, r.Header.Get("Location"))
				}
				r = testutil.Get(t, base+"/redirect301")
				if r.StatusCode != 301 || r.Header.Get("Location") != "/x" {
					t.Fatalf("status %d Location %q", r.StatusCode, r.Header.Get("Location"))
				}
			})
			t.Run("cookies and repeated headers", func(t *testing.T) {
				r := testutil.Get(t, base+"/cookie")
				sc := r.Header.Values("Set-Cookie")
				if len(sc) != 2 || !strings.Contains(sc[0], "a=1") || !strings.Contains(sc[0], "HttpOnly") || !strings.Contains(sc[0], "Max-Age=60") ||
					!strings.Contains(sc[1], "SameSite=Lax") || !strings.Contains(sc[1], "Secure") {
					t.Errorf("Set-Cookie = %q", sc)
				}
				if got := r.Header.Values("X-Multi"); len(got) != 2 {
					t.Errorf("X-Multi = %q", got)
				}
			})
			t.Run("HEAD has headers and no body", func(t *testing.T) {
				r := testutil.Do(t, newReq(t, "HEAD", base+"/cookie", nil, ""))
				if r.StatusCode != 200 || r.Body != "" || len(r.Header.Values("Set-Cookie")) != 2 {
					t.Fatalf("HEAD: status %d body %q headers %v", r.StatusCode, r.Body, r.Header)
				}
			})
			t.Run("uncaught error is a plain 500", func(t *testing.T) {
				r := testutil.Get(t, base+"/throw")
				if r.StatusCode != 500 || strings.Contains(r.Body, "deliberate") {
					t.Fatalf("status %d body %q (no message without debug)", r.StatusCode, r.Body)
				}
				if log := n.ErrorLog(); !strings.Contains(log, "deliberate failure") || !strings.Contains(log, "FastCGI sent in stderr") {
					t.Errorf("nginx error log lacks the script error:\n%s", testutil.Tail(log, 2000))
				}
			})
			t.Run("module state persists in one VM", func(t *testing.T) {
				a := testutil.Get(t, base+"/hits").Body
				b := testutil.Get(t, base+"/hits").Body
				var x, y int
				fmt.Sscanf(a, "hits=%d", &x)
				fmt.Sscanf(b, "hits=%d", &y)
				if x < 1 || y != x+1 {
					t.Fatalf("hits %q then %q: want consecutive counts with workers=1", a, b)
				}
			})
		})
	}
}

func TestNginx_CGIStyle(t *testing.T) {
	t.Parallel()
	_, n := startStack(t, "workers = 1\n")
	for _, app := range []string{"cgi.js", "cgi.lua"} {
		t.Run(app, func(t *testing.T) {
			for i := 0; i < 3; i++ {
				r := testutil.Do(t, newReq(t, "POST", n.URL+"/"+app+"?x=1", []byte("payload"), "text/plain"))
				if r.StatusCode != 201 || r.Header.Get("X-Counter") != "1" {
					t.Fatalf("status %d X-Counter %q (fresh globals each run): %s", r.StatusCode, r.Header.Get("X-Counter"), r.Body)
				}
				want := "method=POST\nquery=x=1\nbody=payload\n"
				if r.Body != want {
					t.Fatalf("body %q, want %q", r.Body, want)
				}
			}
		})
	}
	t.Run("no header block", func(t *testing.T) {
		r := testutil.Get(t, n.URL+"/nohead")
		if r.StatusCode != 500 {
			t.Fatalf("status %d", r.StatusCode)
		}
	})
}

func TestNginx_BundledApps(t *testing.T) {
	t.Parallel()
	h := testutil.StartHost(t, testutil.HostOptions{Unix: true, Config: "workers = 1\n"})
	n := testutil.StartNginx(t, h, nginxRoot)
	check := func(method, path, ct, body string, wantStatus int, wantIn ...string) {
		t.Helper()
		r := testutil.Do(t, newReq(t, method, n.URL+path, []byte(body), ct))
		if r.StatusCode != wantStatus {
			t.Errorf("%s %s: status %d, want %d: %s", method, path, r.StatusCode, wantStatus, r.Body)
			return
		}
		for _, w := range wantIn {
			if !strings.Contains(r.Body, w) {
				t.Errorf("%s %s: body lacks %q: %s", method, path, w, r.Body)
			}
		}
	}
	check("GET", "/hello?name=Ada", "", "", 200, "hello Ada #")
	check("GET", "/hello.lua?name=Lua", "", "", 200, "hello Lua #")
	check("GET", "/contacts", "", "", 200, `"contacts":[]`)
	check("POST", "/contacts", "application/x-www-form-urlencoded", "name=Ada&email=ada@example.org", 201, `"name":"Ada"`)
	check("POST", "/contacts", "application/json", `{"name":"","email":"nope"}`, 422, `"email":"is not an email address"`, `"name":"is required"`)
	check("GET", "/contacts/1", "", "", 200, `"email":"ada@example.org"`)
	check("GET", "/signup", "", "", 200, "<form")
	check("POST", "/signup", "application/x-www-form-urlencoded", "user=ada&age=36", 201, `"ok":true`)
	check("POST", "/signup", "application/x-www-form-urlencoded", "user=ada&age=36", 422, `"user":"is taken"`)
	check("POST", "/signup", "application/json", `{"user":"b c","age":7}`, 422, `"age"`, `"user"`)
	check("GET", "/blog", "", "", 301)
	check("GET", "/blog/", "", "", 200, "Hello, FastCGI")
	check("GET", "/blog/reload", "", "", 200, "<h2>Save and reload</h2>")
	check("GET", "/blog/nope", "", "", 404, "No post called nope")
	check("GET", "/wiki/", "", "", 200, "Welcome to the <em>wiki</em>.")
	check("GET", "/wiki/missing", "", "", 404, "No page called missing")
	check("POST", "/cgi-env?q=1", "text/plain", "hi", 200, "method=POST", "query=q=1", "body=hi")
	check("POST", "/cgi-env.lua?q=2", "text/plain", "hey", 200, "method=POST", "query=q=2", "body=hey", "body_bytes=3")
	check("GET", "/nope", "", "", 404)
}
