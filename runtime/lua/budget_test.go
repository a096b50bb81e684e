package lua

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// costShapes are JSON texts of n values of one shape each, the shapes
// whose values cost the most per byte of text.
func costShapes(n int) map[string]string {
	list := func(item string, k int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", k), ",") + "]"
	}
	var keys strings.Builder
	keys.WriteString("{")
	for i := 0; i < n; i++ {
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

// TestValueCost: what the decoder's values really take (the live heap
// after a GC) stays within what luaCost estimates, for every shape, so a
// text the budget lets through cannot grow past memory_limit.
func TestValueCost(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	a := newApp(t, "return function(req, res) end", nil)
	v := a.vm(t).(*vm)
	b := v.budget()
	b.Memory = 1 << 40 // measure, do not refuse
	for name, text := range costShapes(60000) {
		h0 := heapNow()
		val, err := v.decodeJSON(text, "test", false, false)
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

// eightMiB is the body of issue 13 row 4: "[{},{},…]" of max_body bytes.
func eightMiB() string {
	n := (sandbox.DefaultMaxBody - 2) / 3
	return "[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]"
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
	var mp strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&mp, "--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n", i)
	}
	mp.WriteString("--b--\r\n")
	var mpFiles strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&mpFiles, "--b\r\nContent-Disposition: form-data; name=\"f%d\"; filename=\"x\"\r\n\r\nx\r\n", i)
	}
	mpFiles.WriteString("--b--\r\n")
	cookie := strings.Repeat("c=1; ", 200000)
	jsonCT := map[string]string{"CONTENT_TYPE": "application/json"}
	formCT := map[string]string{"CONTENT_TYPE": "application/x-www-form-urlencoded"}
	mpCT := map[string]string{"CONTENT_TYPE": "multipart/form-data; boundary=b"}
	tests := []struct {
		name string
		req  *script.Request
		expr string
		want string // in the error's text
	}{
		{"req:json 8 MiB of {}", request("POST", "/", big, jsonCT), "req:json()", fmt.Sprintf("request body has too many JSON values: %d > limit", 1+(sandbox.DefaultMaxBody-2)/3)},
		{"json.decode(req.body)", request("POST", "/", big, jsonCT), "json.decode(req.body)", "request body has too many JSON values"},
		{"req:form urlencoded", request("POST", "/", form.String(), formCT), "req:form()", "request body has too many form fields"},
		{"req:form multipart 100k parts", request("POST", "/", mp.String(), mpCT), "req:form()", "request body has too many form fields"},
		{"req:files multipart 100k files", request("POST", "/", mpFiles.String(), mpCT), "req:files()", "request body has too many form fields"},
		{"req.query a&a&a 1 MiB", request("GET", "/?"+q.String(), "", nil), "req.query", "request query has too many parameters"},
		{"req:query_all", request("GET", "/?"+q.String(), "", nil), "req:query_all('a')", "request query has too many parameters"},
		{"req.cookies", request("GET", "/", "", map[string]string{"HTTP_COOKIE": cookie}), "req.cookies", "request Cookie header has too many cookies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res) local x = "+tt.expr+"; res:write('built') end", nil)
			v := a.vm(t)
			_, err := serve(t, v, tt.req)
			if !errors.Is(err, script.ErrTooManyValues) {
				t.Fatalf("err = %v, want one wrapping ErrTooManyValues (413)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
			if !v.Healthy() {
				t.Error("the VM was discarded; nothing was built, it may serve again")
			}
			// Caught, it is an ordinary Lua error naming the limit.
			c := newApp(t, "return function(req, res) local ok, e = pcall(function() return "+tt.expr+" end); res:write(tostring(ok), ' ', e) end", nil)
			s, err := serve(t, c.vm(t), tt.req)
			if err != nil || !strings.HasPrefix(s.body.String(), "false ") || !strings.Contains(s.body.String(), "memory_limit") {
				t.Errorf("caught: body %q err %v", s.body.String(), err)
			}
		})
	}
}

// TestRequestBudget_Fits: input within the budget parses as before.
func TestRequestBudget_Fits(t *testing.T) {
	nums := "[" + strings.TrimSuffix(strings.Repeat("1,", 200000), ",") + "]"
	a := newApp(t, `return function(req, res)
  local j = req:json()
  local q = req.query
  res:write(#j, " ", j[200000], " ", q.x, " ", req:form().a or "-")
end`, nil)
	s, err := serve(t, a.vm(t), request("POST", "/?x=7&y=8", nums, map[string]string{"CONTENT_TYPE": "application/json"}))
	if err != nil || s.body.String() != "200000 1 7 -" {
		t.Fatalf("body %q err %v", s.body.String(), err)
	}
}

func TestRequestBudget_BadBodies(t *testing.T) {
	tests := []struct{ name, body string }{
		{"malformed", `{"a":`},
		{"too deep", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
		{"trailing", `{} x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res) req:json() end", nil)
			_, err := serve(t, a.vm(t), request("POST", "/", tt.body, nil))
			if !errors.Is(err, script.ErrBadRequest) || errors.Is(err, script.ErrTooManyValues) {
				t.Fatalf("err = %v, want one wrapping ErrBadRequest (400)", err)
			}
		})
	}
}

// TestJSONDecodeBudget: json.decode of text the script made is bounded by
// the same budget, as a catchable error naming the limit; uncaught it is
// a limit hit (500), not the client's 413.
func TestJSONDecodeBudget(t *testing.T) {
	const made = `local s = "[" .. string.rep("{},", 2000000) .. "{}]"
  local deep = string.rep("[", 20000) .. string.rep("]", 20000)
`
	a := newApp(t, `return function(req, res)
  `+made+`
  local ok, e = pcall(json.decode, s)
  res:write(tostring(ok), "|", e, "|")
  ok, e = pcall(json.decode, deep)
  res:write(tostring(ok), "|", e, "|")
end`, nil)
	s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	body := s.body.String()
	if err != nil || !strings.HasPrefix(body, "false|") || !strings.Contains(body, "json.decode has too many JSON values: 2000002 > limit 262144") || !strings.Contains(body, "nested more than 10000 levels") {
		t.Errorf("caught: %q (err %v)", body, err)
	}
	for _, expr := range []string{"json.decode(s)", "json.decode(deep)"} {
		a := newApp(t, "return function(req, res)\n"+made+"\nreturn "+expr+"\nend", nil)
		v := a.vm(t)
		_, err := serve(t, v, request("GET", "/", "", nil))
		if !errors.Is(err, sandbox.ErrTooLarge) || errors.Is(err, script.ErrTooManyValues) || errors.Is(err, script.ErrBadRequest) {
			t.Errorf("uncaught %s: err = %v, want a limit hit (sandbox.ErrTooLarge, 500)", expr, err)
		}
	}
}

// TestDecoder_AgreesWithEncodingJSON: the decoder accepts exactly what
// encoding/json accepts, and gives the same values.
func TestDecoder_AgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`null`, `true`, `false`, `0`, `-0`, `1.5e3`, `-12.25E-2`, `1e999`, `"x"`, `""`, `"\u00e9\ud83d\ude00\n\"\\\/"`,
		`"\ud800"`, "\"\xff\"", `[]`, `{}`, ` [1, "a", null, {"b": [true]}] `, `{"a":1,"a":2}`,
		`01`, `1.`, `.5`, `-`, `+1`, `1e`, `[1,]`, `{"a":1,}`, `{"a"}`, `{a:1}`, `[1 2]`, `tru`, `nul`, `"a`, "\"\x01\"",
		`"\x"`, `"\u12"`, `[`, `{`, ``, ` `, `1 2`, `{"a":1}}`, `[]]`, `NaN`, `Infinity`,
	}
	a := newApp(t, "return function(req, res) end", nil)
	v := a.vm(t).(*vm)
	for _, doc := range docs {
		var want any
		var werr error
		if !json.Valid([]byte(doc)) {
			werr = errors.New("invalid")
		} else {
			dec := json.NewDecoder(strings.NewReader(doc))
			dec.UseNumber()
			_ = dec.Decode(&want)
		}
		got, gerr := v.decodeJSON(doc, "test", false, false)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%q: encoding/json err %v, decoder err %v", doc, werr, gerr)
			continue
		}
		if werr != nil {
			continue
		}
		b, err := v.encodeJSON(got, "test")
		if err != nil {
			t.Errorf("%q: encode back: %v", doc, err)
			continue
		}
		if doc == `1e999` || doc == `-0` { // kept as text; no sign on zero
			continue
		}
		wb, _ := json.Marshal(want)
		var g, w any
		_ = json.Unmarshal(b, &g)
		_ = json.Unmarshal(wb, &w)
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%q: decoded %s, want %s", doc, b, wb)
		}
	}
	if val, err := v.decodeJSON(`1e999`, "test", false, false); err != nil || val != glua.LString("1e999") {
		t.Errorf("1e999 = %v, %v; want the text kept", val, err)
	}
}

// TestFieldCost: what one form field, file, query parameter or cookie
// really takes once parsed and built stays within luaCost.Field.
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
	tests := []struct {
		name, expr string
		req        *script.Request
		text       string
	}{
		{"urlencoded", "req:form()", request("POST", "/", form.String(), map[string]string{"CONTENT_TYPE": "application/x-www-form-urlencoded"}), form.String()},
		{"multipart fields", "req:form()", request("POST", "/", mp.String(), map[string]string{"CONTENT_TYPE": "multipart/form-data; boundary=b"}), mp.String()},
		{"multipart files", "req:files()", request("POST", "/", mpFiles.String(), map[string]string{"CONTENT_TYPE": "multipart/form-data; boundary=b"}), mpFiles.String()},
		{"query", "req.query", request("GET", "/?"+q.String(), "", nil), q.String()},
		{"cookies", "req.cookies", request("GET", "/", "", map[string]string{"HTTP_COOKIE": ck.String()}), ck.String()},
	}
	for _, tt := range tests {
		a := newApp(t, "kept = nil\nreturn function(req, res) kept = "+tt.expr+" end", nil)
		v := a.vm(t)
		h0 := heapNow()
		if _, err := serve(t, v, tt.req); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		h1 := heapNow()
		got := (int64(h1) - int64(h0))
		est := luaCost.Field*n + luaCost.Byte*int64(len(tt.text))
		t.Logf("%-16s %6.1f bytes/field measured, %6.1f estimated", tt.name, float64(got)/n, float64(est)/n)
		if got > est {
			t.Errorf("%s: %d fields take %d bytes, more than the %d estimated", tt.name, n, got, est)
		}
		runtime.KeepAlive(tt.req)
	}
}
