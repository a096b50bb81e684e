package lua

// Tests for what the per-request fast path reuses or builds by itself:
// the VM's one reqState and its slab of req/res userdata, req.query and
// req.headers built without script.Request's maps, and the JSON encoder's
// reused buffers.

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/script"
	glua "github.com/yuin/gopher-lua"
)

// TestReuse_NoDataBetweenRequests serves requests that read every field
// of req to one VM, alternating with requests that carry nothing: what
// one request showed must never appear in the next.
func TestReuse_NoDataBetweenRequests(t *testing.T) {
	a := newApp(t, `return function(req, res)
  local function dump(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. t[k] end
    return table.concat(out, ",")
  end
  local form = ""
  if req.method == "POST" then form = dump(req:form()) end
  res:write(req.method, " ", req.path, " q[", dump(req.query), "] h[", dump(req.headers),
    "] c[", dump(req.cookies), "] b[", req.body, "] f[", form, "] p=", tostring(req.params.X_SECRET))
end`, nil)
	v := a.vm(t)
	full := func(i int) (*script.Request, string) {
		r := request("POST", fmt.Sprintf("/full?q=%d&q=x&k=v", i), fmt.Sprintf("a=%d", i), map[string]string{
			"HTTP_X_TOKEN": fmt.Sprint("tok", i), "HTTP_COOKIE": fmt.Sprintf("sid=s%d", i),
			"CONTENT_TYPE": "application/x-www-form-urlencoded", "X_SECRET": fmt.Sprint("secret", i)})
		want := fmt.Sprintf("POST /full q[k=v,q=%d] h[content-type=application/x-www-form-urlencoded,cookie=sid=s%d,x-token=tok%d] c[sid=s%d] b[a=%d] f[a=%d] p=secret%d",
			i, i, i, i, i, i, i)
		return r, want
	}
	empty := func() (*script.Request, string) {
		return request("GET", "/empty", "", nil), "GET /empty q[] h[] c[] b[] f[] p=nil"
	}
	for i := range 2*udSlabSize + 3 { // past a slab boundary
		mk := empty
		if i%2 == 0 {
			mk = func() (*script.Request, string) { return full(i) }
		}
		r, want := mk()
		s, err := serve(t, v, r)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := s.body.String(); got != want {
			t.Fatalf("request %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if v.(*vm).rs.req != nil || v.(*vm).rs.query != nil || v.(*vm).rs.headers != nil {
		t.Error("the VM still holds the last request after Serve")
	}
}

// TestReuse_StaleReqRes keeps req, res and the tables of one request and
// uses them in later ones (more than a slab's worth): every use of the old
// req or res fails, the kept tables still hold the old request's data,
// and the current request's output is untouched.
func TestReuse_StaleReqRes(t *testing.T) {
	a := newApp(t, `local old
return function(req, res)
  if not old then
    old = {req = req, res = res, query = req.query, headers = req.headers, write = res.write}
    return "first"
  end
  local out = {}
  local function try(name, f)
    local ok, err = pcall(f)
    out[#out + 1] = name .. "=" .. (ok and "ok" or (tostring(err):match("after its request finished") and "stale" or tostring(err)))
  end
  try("req.query", function() return old.req.query end)
  try("req.method", function() return old.req.method end)
  try("req:json", function() return old.req:json() end)
  try("res:write", function() old.res:write("LEAK") end)
  try("res:status", function() old.res:status(500) end)
  try("res.write(old)", function() res.write(old.res, "LEAK") end)
  try("write(oldres)", function() old.write(old.res, "LEAK") end)
  out[#out + 1] = "kept=" .. tostring(old.query.n) .. "/" .. tostring(old.headers["x-n"])
  out[#out + 1] = "now=" .. req.query.n .. "/" .. req.headers["x-n"]
  res:write(table.concat(out, " "))
end`, nil)
	v := a.vm(t)
	req := func(i int) *script.Request {
		return request("GET", fmt.Sprintf("/?n=%d", i), "", map[string]string{"HTTP_X_N": fmt.Sprint(i)})
	}
	if s, err := serve(t, v, req(0)); err != nil || s.body.String() != "first" {
		t.Fatalf("first request: %q, %v", s.body.String(), err)
	}
	for i := 1; i <= udSlabSize+2; i++ {
		s, err := serve(t, v, req(i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		want := fmt.Sprintf("req.query=stale req.method=stale req:json=stale res:write=stale res:status=stale res.write(old)=stale write(oldres)=stale kept=0/0 now=%d/%d", i, i)
		if got := s.body.String(); got != want {
			t.Fatalf("request %d:\n got %s\nwant %s", i, got, want)
		}
		if s.status != 200 {
			t.Fatalf("request %d: status %d", i, s.status)
		}
	}
}

// TestReuse_StaleAfterError: a request that fails still retires its
// req and res.
func TestReuse_StaleAfterError(t *testing.T) {
	a := newApp(t, `local old
return function(req, res)
  if not old then old = res; error("boom") end
  local ok, err = pcall(function() old:write("LEAK") end)
  res:write(ok and "reused" or "stale")
end`, nil)
	v := a.vm(t)
	if _, err := serve(t, v, request("GET", "/", "", nil)); err == nil {
		t.Fatal("first request: want the error")
	}
	s, err := serve(t, v, request("GET", "/", "", nil))
	if err != nil || s.body.String() != "stale" {
		t.Fatalf("second request: %q, %v", s.body.String(), err)
	}
}

// luaTableDump renders a string→string Lua table sorted, for comparison.
func luaTableDump(t *glua.LTable) string {
	var out []string
	t.ForEach(func(k, v glua.LValue) { out = append(out, k.String()+"="+v.String()) })
	sort.Strings(out)
	return strings.Join(out, "&")
}

func goMapDump(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, "&")
}

func TestQueryTable_MatchesRequest(t *testing.T) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, q := range []string{"", "a=1", "a=1&a=2&b=", "&&a&=x&b=%zz&%41=%42", "sp=a+b&u=%C3%A9t%C3%A9&k%20x=1",
		"a;b=1&c=2;d", "x=%", "=", "a==b", "a=1&A=2", "%ZZ=1&%ZZ=2", "+=+"} {
		r := &script.Request{RawQuery: q}
		if got, want := luaTableDump(queryTable(L, q)), goMapDump(r.Query()); got != want {
			t.Errorf("query %q: table %q, Request.Query %q", q, got, want)
		}
	}
}

func FuzzQueryTable(f *testing.F) {
	for _, s := range []string{"a=1&a=2", "%41=%zz&+=", "&;=&"} {
		f.Add(s)
	}
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	f.Fuzz(func(t *testing.T, q string) {
		r := &script.Request{RawQuery: q}
		if got, want := luaTableDump(queryTable(L, q)), goMapDump(r.Query()); got != want {
			t.Errorf("query %q: table %q, Request.Query %q", q, got, want)
		}
	})
}

func TestHeadersTable_MatchesRequest(t *testing.T) {
	a := newApp(t, "return function() end", nil)
	v := a.vm(t).(*vm)
	for _, params := range []map[string]string{
		{},
		{"HTTP_HOST": "h", "HTTP_X_API_KEY": "k", "HTTP_ACCEPT": "", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "3", "HTTPS": "on", "SCRIPT_NAME": "/x"},
		{"CONTENT_TYPE": "", "CONTENT_LENGTH": "", "HTTP_": "empty name", "HTTP_lower_Case": "1"},
	} {
		for range 2 { // the second time through the name cache
			r := &script.Request{Params: params}
			if got, want := luaTableDump(v.headersTable(v.L, params)), goMapDump(r.Headers()); got != want {
				t.Errorf("params %v: table %q, Request.Headers %q", params, got, want)
			}
		}
	}
	// Two params for one name: the smaller param name wins, every time.
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"CONTENT_TYPE": "cgi", "HTTP_CONTENT_TYPE": "http"}, "content-type=cgi"},
		{map[string]string{"CONTENT_TYPE": "", "HTTP_CONTENT_TYPE": "http"}, "content-type=http"},
		{map[string]string{"HTTP_X_A": "underscore", "HTTP_X-A": "dash", "HTTP_x_a": "lower", "HTTP_B": "b"}, "b=b&x-a=dash"},
	} {
		for range 20 { // map order varies from run to run
			if got := luaTableDump(v.headersTable(v.L, tc.params)); got != tc.want {
				t.Fatalf("params %v: %q, want %q", tc.params, got, tc.want)
			}
		}
	}
	many := map[string]string{}
	for i := range 2 * maxHeaderNames {
		many[fmt.Sprintf("HTTP_X_H%d", i)] = fmt.Sprint(i)
	}
	r := &script.Request{Params: many}
	if got, want := luaTableDump(v.headersTable(v.L, many)), goMapDump(r.Headers()); got != want {
		t.Errorf("many headers: table %q, Request.Headers %q", got, want)
	}
	if len(v.hdrNames) > maxHeaderNames {
		t.Errorf("header name cache has %d entries, bound %d", len(v.hdrNames), maxHeaderNames)
	}
}

// referenceEncodeJSON is json.encode as it was before the encoder reused
// its buffers and walked tables with Next: ForEach twice and sort.Slice.
func referenceEncodeJSON(val glua.LValue, depth int) (string, error) {
	switch x := val.(type) {
	case *glua.LNilType:
		return "null", nil
	case glua.LBool:
		return fmt.Sprint(bool(x)), nil
	case glua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("cannot encode %v", f)
		}
		return string(appendNumber(nil, f)), nil
	case glua.LString:
		return string(appendJSONString(nil, string(x))), nil
	case *glua.LUserData:
		if _, ok := x.Value.(jsonNull); ok {
			return "null", nil
		}
		return "", fmt.Errorf("cannot encode a userdata value")
	case *glua.LTable:
		if depth >= maxJSONDepth {
			return "", fmt.Errorf("too deep")
		}
		n, count := x.Len(), 0
		var keyErr error
		x.ForEach(func(k, _ glua.LValue) {
			count++
			switch k.(type) {
			case glua.LString, glua.LNumber:
			default:
				keyErr = fmt.Errorf("cannot encode a table key of type %s", k.Type())
			}
		})
		if keyErr != nil {
			return "", keyErr
		}
		var b strings.Builder
		if (n > 0 && count == n) || (count == 0 && isArrayMarked(x)) {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				s, err := referenceEncodeJSON(x.RawGetInt(i), depth+1)
				if err != nil {
					return "", err
				}
				b.WriteString(s)
			}
			b.WriteByte(']')
			return b.String(), nil
		}
		type kv struct {
			k string
			v glua.LValue
		}
		var items []kv
		x.ForEach(func(k, v glua.LValue) { items = append(items, kv{glua.LVAsString(k), v}) })
		sort.Slice(items, func(i, j int) bool { return items[i].k < items[j].k })
		b.WriteByte('{')
		for i, it := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(appendJSONString(nil, it.k))
			b.WriteByte(':')
			s, err := referenceEncodeJSON(it.v, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		}
		b.WriteByte('}')
		return b.String(), nil
	}
	return "", fmt.Errorf("cannot encode a %s value", val.Type())
}

// TestEncodeJSON_MatchesReference encodes tables built every way the
// table's parts can be shaped (array and hash parts, holes, deleted keys,
// numeric hash keys, nesting, marks) and compares with the reference.
func TestEncodeJSON_MatchesReference(t *testing.T) {
	a := newApp(t, `return function(req, res)
  local shrunk = {1, 2, 3}; shrunk[3] = nil
  local deleted = {a = 1, b = 2, c = 3}; deleted.b = nil
  local emptied = {x = 1}; emptied.x = nil
  local emptiedArr = {1}; emptiedArr[1] = nil
  local mixed = {10, 20, x = "y"}
  local numkeys = {[0] = "z", [-1] = "m", [1.5] = "h", [2^40] = "big", [1] = "one"}
  local holes = {1, nil, 3}
  local holesPlus = {1, nil, 3, x = 1}
  local late = {}; late[3] = "c"; late[1] = "a"; late[2] = "b"
  local nested = {list = {{a = {1, {b = {}}}}, json.array()}, obj = {k = {deep = {deeper = "x"}}}}
  return {shrunk, deleted, emptied, emptiedArr, mixed, numkeys, holes, holesPlus, late, nested,
    json.array({}), json.array({1, 2}), {json.null, false, 0.1, -0, 1e300, "\u{2028}"}}
end`, nil)
	v := a.vm(t).(*vm)
	L := v.L
	L.Push(v.handler)
	L.Push(glua.LNil)
	L.Push(glua.LNil)
	if err := L.PCall(2, 1, nil); err != nil {
		t.Fatal(err)
	}
	cases := L.Get(-1).(*glua.LTable)
	L.Pop(1)
	for i := 1; i <= cases.Len(); i++ {
		val := cases.RawGetInt(i)
		want, werr := referenceEncodeJSON(val, 0)
		got, gerr := v.encodeJSON(val, "test")
		if (werr == nil) != (gerr == nil) || string(got) != want {
			t.Errorf("case %d: got %s (%v), want %s (%v)", i, got, gerr, want, werr)
		}
	}
	// Errors: a bad key anywhere, nested or not.
	for _, code := range []string{`{[true] = 1}`, `{1, 2, [{}] = 3}`, `{a = {b = {[print] = 1}}}`} {
		if err := L.DoString("return " + code); err != nil {
			t.Fatal(err)
		}
		val := L.Get(-1)
		L.Pop(1)
		if _, err := v.encodeJSON(val, "test"); err == nil || !strings.Contains(err.Error(), "table key of type") {
			t.Errorf("%s: error %v, want a key type error", code, err)
		}
	}
	// Nothing of the script's values stays in the encoder after a call.
	for _, it := range v.enc.items[:cap(v.enc.items)] {
		if it.v != nil {
			t.Fatalf("encoder keeps %v after the call", it.v)
		}
	}
}

// TestResWrite_Pieces: res:write gathers its arguments; long strings,
// numbers and a bad argument keep their order and effect.
func TestResWrite_Pieces(t *testing.T) {
	long := strings.Repeat("L", maxScratch+10)
	tests := []struct {
		name, code, want, err string
	}{
		{"numbers", `res:write(1, " ", -2, " ", 2.5, " ", 1e100, " ", 2^53, " ", 0/0 ~= 0/0 and "nan")`, "1 -2 2.5 1e+100 9007199254740992 nan", ""},
		{"long in the middle", `res:write("a", string.rep("L", ` + fmt.Sprint(len(long)) + `), "b")`, "a" + long + "b", ""},
		{"bad arg writes what came before", `pcall(res.write, res, "before", {}, "after"); res:write("|next")`, "before|next", ""},
		{"returned number", `return 42`, "42", ""},
		{"returned float", `return 0.5`, "0.5", ""},
		{"returned string", `res:write("a"); return "b"`, "ab", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := run(t, "return function(req, res) "+tt.code+" end")
			if err != nil {
				t.Fatal(err)
			}
			if got := s.body.String(); got != tt.want {
				t.Errorf("body %.60q…, want %.60q…", got, tt.want)
			}
		})
	}
}

// TestResWrite_MaxResponse: the gathered write is cut at max_response
// like one write per argument was.
func TestResWrite_MaxResponse(t *testing.T) {
	a := newApp(t, `return function(req, res)
  local ok, err = pcall(res.write, res, "12345", 678, "90")
  res:header("X-Err", tostring(err))
end`, nil)
	s := &sink{}
	res := script.NewResponse(s, 7, false)
	if err := a.vm(t).Serve(context.Background(), request("GET", "/", "", nil), res); err != nil {
		t.Fatal(err)
	}
	if err := res.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := s.body.String(); got != "1234567" {
		t.Errorf("body %q, want the first 7 bytes", got)
	}
	if !strings.Contains(s.header.Get("X-Err"), "max_response") {
		t.Errorf("error %q, want the max_response error", s.header.Get("X-Err"))
	}
}

func TestNumberString_MatchesGopherLua(t *testing.T) {
	for _, f := range []float64{0, -0.0, 1, -1, 42, 1e15, 2e15 + 1, 1 << 53, -(1 << 62), 1e19, 1e300, 0.1, -2.5, 1.0 / 3,
		math.MaxInt64, math.MinInt64, math.Inf(1), math.Inf(-1), math.NaN(), 5e-324} {
		n := glua.LNumber(f)
		if got, want := numberString(n), n.String(); got != want {
			t.Errorf("numberString(%v) = %q, want %q", f, got, want)
		}
		if got, want := string(appendNumberText([]byte("x"), n)), "x"+n.String(); got != want {
			t.Errorf("appendNumberText(%v) = %q, want %q", f, got, want)
		}
	}
}
