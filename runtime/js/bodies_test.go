package js

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// costShapes are JSON texts of about n values of one shape each, the
// shapes whose values cost the most per byte of text.
func costShapes(n int) map[string]string {
	list := func(item string, k int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", k), ",") + "]"
	}
	var keys strings.Builder
	keys.WriteString("{")
	for i := 0; i < n/3; i++ {
		if i > 0 {
			keys.WriteString(",")
		}
		fmt.Fprintf(&keys, `"k%d":{}`, i)
	}
	keys.WriteString("}")
	return map[string]string{
		"empty objects":    list("{}", n),
		"empty arrays":     list("[]", n),
		"numbers":          list("1.5", n),
		"strings":          list(`"ab"`, n),
		"one-member":       list(`{"a":0}`, n/3),
		"nested arrays":    list("[[]]", n/2),
		"many keys":        keys.String(),
		"unicode strings":  list(`"\u00e9\u00e9"`, n),
		"literals":         list("null,true,false", n/3),
		"one-member mixed": list(`{"a":[],"b":{"c":"x"}}`, n/6),
	}
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func testVM(t *testing.T) *jsVM {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => {};`})
	return a.mustVM("app.js").(*handlerVM).jsVM
}

// TestValueCost: what goja's JSON.parse really builds (the live heap after
// a GC) stays within what jsCost estimates, for every shape, so a text the
// budget lets through cannot grow past memory_limit.
func TestValueCost(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	v := testVM(t)
	b := v.budget()
	for name, text := range costShapes(60000) {
		sv := v.rt.ToValue(text)
		h0 := heapNow()
		val, err := v.api.jsonParse(goja.Undefined(), sv)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h1 := heapNow()
		runtime.KeepAlive(val)
		st := script.ScanJSON(text, script.MaxJSONDepth)
		got, est := int64(h1)-int64(h0), b.Estimate(st)
		t.Logf("%-16s %7d values: %6.1f bytes/value measured, %6.1f estimated", name, st.Values(), float64(got)/float64(st.Values()), float64(est)/float64(st.Values()))
		if got > est {
			t.Errorf("%s: the values take %d bytes, more than the %d estimated", name, got, est)
		}
	}
}

// TestFieldCost: what one form field, file, query parameter or cookie
// really takes once parsed and built stays within jsCost.Field.
func TestFieldCost(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	const n = 2500 // Go parses at most 10000 query parameters and 3000 cookies (GODEBUG urlmaxqueryparams, httpcookiemaxnum)
	var form, mp, mpFiles, q, ck strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&form, "f%d=x&", i)
		fmt.Fprintf(&mp, "--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n", i)
		fmt.Fprintf(&mpFiles, "--b\r\nContent-Disposition: form-data; name=\"f%d\"; filename=\"x\"\r\n\r\nx\r\n", i)
		fmt.Fprintf(&q, "q%d=x&", i)
		fmt.Fprintf(&ck, "c%d=x; ", i)
	}
	mp.WriteString("--b--\r\n")
	mpFiles.WriteString("--b--\r\n")
	ckReq := get("/")
	ckReq.Params["HTTP_COOKIE"] = ck.String()
	tests := []struct {
		name, expr string
		req        *script.Request
		text       string
	}{
		{"urlencoded", "req.form()", post("/", "application/x-www-form-urlencoded", []byte(form.String())), form.String()},
		{"multipart fields", "req.form()", post("/", "multipart/form-data; boundary=b", []byte(mp.String())), mp.String()},
		{"multipart files", "req.files()", post("/", "multipart/form-data; boundary=b", []byte(mpFiles.String())), mpFiles.String()},
		{"query", "Object.assign({}, req.query)", get("/?" + q.String()), q.String()},
		{"cookies", "req.cookies", ckReq, ck.String()},
	}
	for _, tt := range tests {
		a := newApp(t, map[string]string{"app.js": "let kept; module.exports = (req, res) => { kept = " + tt.expr + "; };"})
		v := a.mustVM("app.js")
		h0 := heapNow()
		if r := serve(v, tt.req); r.err != nil {
			t.Fatalf("%s: %v", tt.name, r.err)
		}
		h1 := heapNow()
		got := int64(h1) - int64(h0)
		est := jsCost.Field*n + jsCost.Byte*int64(len(tt.text))
		t.Logf("%-16s %6.1f bytes/field measured, %6.1f estimated", tt.name, float64(got)/n, float64(est)/n)
		if got > est {
			t.Errorf("%s: %d fields take %d bytes, more than the %d estimated", tt.name, n, got, est)
		}
		runtime.KeepAlive(tt.req)
	}
}

// eightMiB is the body of issue 13 row 4: "[{},{},…]" of max_body bytes.
func eightMiB() []byte {
	n := (sandbox.DefaultMaxBody - 2) / 3
	return []byte("[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]")
}

func TestRequestBudget(t *testing.T) {
	big := eightMiB()
	var q strings.Builder
	for q.Len() < 1<<20 {
		q.WriteString("a&")
	}
	var form strings.Builder
	for form.Len() < 4<<20 {
		fmt.Fprintf(&form, "f%d=&", form.Len())
	}
	var mp, mpFiles strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&mp, "--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n", i)
		fmt.Fprintf(&mpFiles, "--b\r\nContent-Disposition: form-data; name=\"f%d\"; filename=\"x\"\r\n\r\nx\r\n", i)
	}
	mp.WriteString("--b--\r\n")
	mpFiles.WriteString("--b--\r\n")
	ckReq := get("/")
	ckReq.Params["HTTP_COOKIE"] = strings.Repeat("c=1; ", 200000)
	tests := []struct {
		name string
		req  *script.Request
		expr string
		want string // in the error's text
	}{
		{"req.json 8 MiB of {}", post("/", "application/json", big), "req.json()", fmt.Sprintf("request body has too many JSON values: %d > limit", 1+(sandbox.DefaultMaxBody-2)/3)},
		{"JSON.parse(req.body)", post("/", "application/json", big), "JSON.parse(req.body)", "request body has too many JSON values"},
		{"req.form urlencoded", post("/", "application/x-www-form-urlencoded", []byte(form.String())), "req.form()", "request body has too many form fields"},
		{"req.form multipart 100k parts", post("/", "multipart/form-data; boundary=b", []byte(mp.String())), "req.form()", "request body has too many form fields"},
		{"req.files multipart 100k files", post("/", "multipart/form-data; boundary=b", []byte(mpFiles.String())), "req.files()", "request body has too many form fields"},
		{"req.query a&a&a 1 MiB", get("/?" + q.String()), "req.query.a", "request query has too many parameters"},
		{"req.queryAll", get("/?" + q.String()), "req.queryAll('a')", "request query has too many parameters"},
		{"req.cookies", ckReq, "req.cookies", "request Cookie header has too many cookies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, map[string]string{
				"app.js":    "module.exports = (req, res) => { const x = " + tt.expr + "; res.write('built'); };",
				"caught.js": "module.exports = (req, res) => { try { " + tt.expr + "; res.write('built'); } catch (e) { res.write(e.name + ': ' + e.message); } };",
			})
			v := a.mustVM("app.js")
			r := serve(v, tt.req)
			if !errors.Is(r.err, script.ErrTooManyValues) {
				t.Fatalf("err = %v, want one wrapping ErrTooManyValues (413)", r.err)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", r.err, tt.want)
			}
			if !v.Healthy() {
				t.Error("the VM was discarded; nothing was built, it may serve again")
			}
			c := serve(a.mustVM("caught.js"), tt.req)
			if c.err != nil || !strings.HasPrefix(c.body, "RangeError: ") || !strings.Contains(c.body, tt.want) || !strings.Contains(c.body, "memory_limit") {
				t.Errorf("caught: body %q err %v", c.body, c.err)
			}
		})
	}
}

// TestRequestBudget_Fits: input within the budget parses as before.
func TestRequestBudget_Fits(t *testing.T) {
	nums := "[" + strings.TrimSuffix(strings.Repeat("1,", 200000), ",") + "]"
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => {
		const j = req.json(), k = JSON.parse(req.body);
		res.write(j.length + " " + k[199999] + " " + req.query.x + " " + req.queryAll("y").length);
	};`})
	r := serve(a.mustVM("app.js"), post("/?x=7&y=8&y=9", "application/json", []byte(nums)))
	if r.err != nil || r.body != "200000 1 7 2" {
		t.Fatalf("body %q err %v", r.body, r.err)
	}
}

// TestJSONParseBudget: JSON.parse of text the script made is bounded by
// the same budget, as a catchable RangeError naming the limit; uncaught it
// is a limit hit (500), not the client's 413.
func TestJSONParseBudget(t *testing.T) {
	const made = `const s = "[" + "{},".repeat(2000000) + "{}]", deep = "[".repeat(20000) + "]".repeat(20000);`
	a := newApp(t, map[string]string{
		"caught.js": `module.exports = (req, res) => { ` + made + `
			for (const t of [s, deep]) { try { JSON.parse(t); res.write("parsed|"); } catch (e) { res.write(e.name + ": " + e.message + "|"); } }
		};`,
		"many.js":     `module.exports = (req, res) => { ` + made + ` JSON.parse(s); };`,
		"deep.js":     `module.exports = (req, res) => { ` + made + ` JSON.parse(deep); };`,
		"reviver.js":  `module.exports = (req, res) => { let n = 0; JSON.parse('[1,[2,3],{"a":4}]', (k, v) => { n++; return v; }); res.write(String(n)); };`,
		"tostring.js": `module.exports = (req, res) => { let n = 0; const v = JSON.parse({toString() { n++; return "[1]"; }}); res.write(n + " " + v[0]); };`,
	})
	r := serve(a.mustVM("caught.js"), get("/"))
	if r.err != nil || !strings.Contains(r.body, "RangeError: JSON.parse: JSON.parse has too many JSON values: 2000002 > limit") ||
		!strings.Contains(r.body, "SyntaxError: JSON.parse: JSON.parse is nested more than 10000 levels deep") {
		t.Errorf("caught: %q (err %v)", r.body, r.err)
	}
	for _, f := range []string{"many.js", "deep.js"} {
		r := serve(a.mustVM(f), get("/"))
		if !errors.Is(r.err, sandbox.ErrTooLarge) || errors.Is(r.err, script.ErrTooManyValues) || errors.Is(r.err, script.ErrBadRequest) {
			t.Errorf("%s uncaught: err = %v, want a limit hit (sandbox.ErrTooLarge, 500)", f, r.err)
		}
	}
	if r := serve(a.mustVM("reviver.js"), get("/")); r.err != nil || r.body != "7" {
		t.Errorf("reviver: %q %v", r.body, r.err)
	}
	if r := serve(a.mustVM("tostring.js"), get("/")); r.err != nil || r.body != "1 1" {
		t.Errorf("toString once: %q %v", r.body, r.err)
	}
}

type bodyFetcher []byte

func (b bodyFetcher) Fetch(ctx context.Context, req *script.FetchRequest) (*script.FetchResponse, error) {
	return &script.FetchResponse{Status: 200, URL: req.URL, Headers: http.Header{}, Body: b}, nil
}

// TestFetchJSONBudget: a fetched body's json() is priced like any text
// the script parses.
func TestFetchJSONBudget(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = async (req, res) => {
		const r = await fetch("https://api.example/");
		try { await r.json(); return "parsed"; } catch (e) { return e.name + ": " + e.message; }
	};`})
	a.opts.Fetch = bodyFetcher(eightMiB())
	r := serve(a.mustVM("app.js"), get("/"))
	if r.err != nil || !strings.HasPrefix(r.body, "RangeError: json(): body has too many JSON values") {
		t.Errorf("got %q (%v)", r.body, r.err)
	}
}
