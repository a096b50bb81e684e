package js

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

// queryCases are raw query strings with every shape the parser treats
// specially.
var queryCases = []string{
	"",
	"a=1",
	"b=2&a=1&a=3",
	"a",
	"a=",
	"=x",
	"=x&=y",
	"&&a=1&&",
	"a=%zz&%zz=b",
	"%41=%42&A=c",
	"a+b=c+d&a%20b=e",
	"a=1;b=2",
	"é=ü&%C3%A9=x",
	"10=a&2=b&x=y&1=c",
	"__proto__=x&constructor=y&toString=z&hasOwnProperty=w",
	"a=%",
	"a==b&c=d=e",
	"z=1&y=2&x=3&w=4&v=5&u=6&t=7&s=8&r=9&q=10&z=11",
	// More pairs than an insertion sort takes, names repeated: the first
	// value of each must win.
	"m=1&k=1&m=2&a=1&k=2&m=3&b=1&k=3&c=1&m=4&d=1&k=4&e=1&m=5&f=1&k=5&g=1&m=6&h=1&k=6&i=1&m=7&j=1&k=7&a=2&b=2&c=2&d=2&e=2&f=2&g=2&h=2",
}

// queryShape runs in vm: keys, values, prototype and a lookup of each key
// of the object o, as one JSON text.
const queryShape = `(o) => JSON.stringify([Object.keys(o), Object.values(o),
  Object.getPrototypeOf(o) === Object.prototype, Object.keys(o).map(k => o[k]), String(o.__proto__ === Object.prototype)])`

// queryOps runs in vm: what a script can see of an object o, after each of
// a series of changes, one JSON text per line.
const queryOps = `(o) => {
  const out = [];
  const look = ["a", "A", "%41", "a b", "a+b", "%zz", "é", "__proto__", "10", "2", "constructor", "", "toString", "zzz",
    "content-type", "content-length", "host", "x-h1", "\uFFFD", "CONTENT_TYPE", "HTTP_HOST"];
  const snap = () => out.push(JSON.stringify([
    Object.keys(o), Object.values(o), Object.entries(o), Object.getOwnPropertyNames(o),
    (() => { const r = []; for (const k in o) r.push(k); return r; })(),
    JSON.stringify(o), {...o}, Object.assign({}, o),
    look.map(k => [String(o[k]), k in o, Object.prototype.hasOwnProperty.call(o, k), Object.getOwnPropertyDescriptor(o, k)]),
    Object.getPrototypeOf(o) === Object.prototype, typeof o,
    (() => { try { return String(o); } catch (e) { return e.name; } })(), Object.isExtensible(o), Object.isFrozen(o)]));
  snap();
  o.x = "1"; o.a = "changed"; snap();
  delete o.b; delete o.x; delete o.nothing; snap();
  o.b = "back"; o[5] = 5; o["07"] = 7; o.z = undefined; o[""] = "empty"; snap();
  delete o.a; o.a = "again"; delete o.z; o.z = "z"; snap();
  for (let i = 0; i < 20; i++) o["n" + i] = i;
  delete o.n3; o.n3 = 3; delete o.n5; o.b = "b2"; delete o.b; o.b = "b3"; snap();
  o.__proto__ = {inherited: 1}; snap(); out.push(String(o.inherited));
  return out.join("\n");
}`

// TestQueryViewMatchesObject holds req.query, a view over the raw query
// string, to the plain object built from script.Request.Query, through
// reads, enumeration and changes.
func TestQueryViewMatchesObject(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = () => "";`})
	v := a.mustCompile("app.js").(*bundle).newJSVM()
	for _, fnSrc := range []string{queryShape, queryOps} {
		fnVal, err := v.rt.RunString(fnSrc)
		if err != nil {
			t.Fatal(err)
		}
		fn, _ := goja.AssertFunction(fnVal)
		long := strings.Repeat("k%00=v&", maxScan) + "a=1&%zz=2&b=3&a=4&\xff=5&\xfe=6&10=7"
		for _, raw := range append(queryCases, long) {
			for _, indexed := range []bool{false, true} { // read by scanning the string, and from the index
				req := &script.Request{RawQuery: raw}
				x := &exchange{v: v, req: req}
				if indexed {
					x.queryIx = indexQuery(raw)
				}
				got, err := fn(goja.Undefined(), v.rt.NewDynamicObject((*queryView)(x)))
				if err != nil {
					t.Fatalf("query %q: view: %v", raw, err)
				}
				want, err := fn(goja.Undefined(), v.stringMap(req.Query()))
				if err != nil {
					t.Fatalf("query %q: object: %v", raw, err)
				}
				if got.String() != want.String() {
					t.Errorf("query %q (indexed %v):\n got  %s\n want %s", raw, indexed, got, want)
				}
			}
		}
	}
}

func TestArrayIndex(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"0", true}, {"7", true}, {"10", true}, {"4294967294", true},
		{"", false}, {"-1", false}, {"01", false}, {"+1", false}, {"1.0", false}, {"1e3", false},
		{"4294967295", false}, {"4294967296", false}, {"99999999999", false}, {"a", false}, {" 1", false},
	}
	for _, tt := range tests {
		if _, ok := arrayIndex(tt.s); ok != tt.ok {
			t.Errorf("arrayIndex(%q) = %v, want %v", tt.s, ok, tt.ok)
		}
	}
}

// TestHeadersViewMatchesObject holds req.headers, a view over the params,
// to the plain object built from script.Request.Headers, through reads,
// enumeration and changes.
func TestHeadersViewMatchesObject(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = () => "";`})
	v := a.mustCompile("app.js").(*bundle).newJSVM()
	shapeVal, err := v.rt.RunString(queryOps)
	if err != nil {
		t.Fatal(err)
	}
	shape, _ := goja.AssertFunction(shapeVal)
	many := map[string]string{}
	for i := range 2 * maxHeaderNames {
		many["HTTP_X_H"+itoa(int64(i))] = itoa(int64(i))
	}
	tests := []struct {
		name   string
		params map[string]string
	}{
		{"none", map[string]string{"REQUEST_METHOD": "GET"}},
		{"browser", map[string]string{
			"REQUEST_METHOD": "GET", "QUERY_STRING": "a=1", "HTTP_HOST": "example.org", "HTTP_USER_AGENT": "Mozilla/5.0",
			"HTTP_ACCEPT": "text/html", "HTTP_ACCEPT_LANGUAGE": "en", "HTTP_ACCEPT_ENCODING": "gzip", "HTTP_COOKIE": "a=b",
			"HTTP_X_FORWARDED_FOR": "10.0.0.1", "HTTP_CONNECTION": "keep-alive", "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
			"HTTP_SEC_FETCH_MODE": "navigate", "HTTP_CACHE_CONTROL": "no-cache", "HTTP_PRAGMA": "no-cache", "HTTP_DNT": "1"}},
		{"body", map[string]string{"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "12", "HTTP_HOST": "h"}},
		{"empty content type", map[string]string{"CONTENT_TYPE": "", "CONTENT_LENGTH": "", "HTTP_X": ""}},
		{"both spellings", map[string]string{"CONTENT_TYPE": "text/plain", "HTTP_CONTENT_TYPE": "text/plain",
			"CONTENT_LENGTH": "3", "HTTP_CONTENT_LENGTH": "3"}},
		{"odd names", map[string]string{"HTTP_": "empty", "HTTP_10": "ten", "HTTP_2": "two", "HTTP___PROTO__": "p",
			"HTTP_CONSTRUCTOR": "c", "HTTP_UTF": "é"}},
		{"more names than the cache", many},
		// (No two params with the same header name: Request.Headers keeps
		// a random one; TestHeadersCGIWins checks the view's choice.)
		{"invalid utf-8", map[string]string{"HTTP_X\x80": "d", "HTTP_Y": "e", "HTTP_Z\xff\xfe": "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // cold and warm name cache
				x := &exchange{v: v, req: &script.Request{Params: tt.params}}
				got, err := shape(goja.Undefined(), v.rt.NewDynamicObject((*headersView)(x)))
				if err != nil {
					t.Fatal(err)
				}
				want, err := shape(goja.Undefined(), v.stringMap((&script.Request{Params: tt.params}).Headers()))
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			}
		})
	}
	if n := len(v.scratch.hdrNames); n > maxHeaderNames {
		t.Errorf("header name cache holds %d names, want ≤ %d", n, maxHeaderNames)
	}
}

// TestHeadersCGIWins: of CONTENT_TYPE and HTTP_CONTENT_TYPE, which
// disagree, req.headers always shows the CGI one.
func TestHeadersCGIWins(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req) => req.headers["content-type"] + " " + req.headers["content-length"];`})
	vm := a.mustVM("app.js")
	req := post("/", "text/cgi", []byte("abc"))
	req.Params["HTTP_CONTENT_TYPE"] = "text/http"
	req.Params["HTTP_CONTENT_LENGTH"] = "999"
	for i := range 20 { // map order varies from one iteration to the next
		if r := serve(vm, req); r.body != "text/cgi 3" {
			t.Fatalf("request %d: %q %v, want %q", i, r.body, r.err, "text/cgi 3")
		}
	}
}

func FuzzQueryView(f *testing.F) {
	for _, q := range queryCases {
		f.Add(q)
	}
	a := newApp(&testing.T{}, map[string]string{"app.js": `module.exports = () => "";`})
	b, err := a.compile("app.js")
	if err != nil {
		f.Fatal(err)
	}
	v := b.(*bundle).newJSVM()
	fnVal, err := v.rt.RunString(queryOps)
	if err != nil {
		f.Fatal(err)
	}
	fn, _ := goja.AssertFunction(fnVal)
	f.Fuzz(func(t *testing.T, raw string) {
		req := &script.Request{RawQuery: raw}
		got, err1 := fn(goja.Undefined(), v.rt.NewDynamicObject((*queryView)(&exchange{v: v, req: req})))
		want, err2 := fn(goja.Undefined(), v.stringMap(req.Query()))
		if (err1 == nil) != (err2 == nil) || err1 == nil && got.String() != want.String() {
			t.Errorf("query %q:\n got  %v %v\n want %v %v", raw, got, err1, want, err2)
		}
	})
}

// TestRequestsDoNotShare serves different requests in a row on one VM:
// each sees its own members and nothing of the one before, whichever
// members the one before read or set.
func TestRequestsDoNotShare(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => {
  const out = [req.method, JSON.stringify(req.query), req.headers["x-n"], req.cookies.c, req.user, res.mark, req.body];
  req.user = "u" + req.query.n;
  res.mark = "m" + req.query.n;
  if (req.query.n === "1") res.header("X-Only-First", "1");
  res.write(out.map(String).join("|"));
};`})
	vm := a.mustVM("app.js")
	first := get("/?n=1&a=x&b=y")
	first.Params["HTTP_X_N"] = "one"
	first.Params["HTTP_COOKIE"] = "c=first"
	second := post("/?n=2", "text/plain", []byte("body2"))
	third := get("/?n=3")
	cases := []struct {
		req        *script.Request
		want       string
		wantHeader string
	}{
		{first, `GET|{"a":"x","b":"y","n":"1"}|one|first|undefined|undefined|`, "1"},
		{second, `POST|{"n":"2"}|undefined|undefined|undefined|undefined|body2`, ""},
		{third, `GET|{"n":"3"}|undefined|undefined|undefined|undefined|`, ""},
		{first, `GET|{"a":"x","b":"y","n":"1"}|one|first|undefined|undefined|`, "1"},
	}
	for i, c := range cases {
		r := serve(vm, c.req)
		if r.err != nil || r.body != c.want {
			t.Errorf("request %d: %q %v, want %q", i+1, r.body, r.err, c.want)
		}
		if got := r.header.Get("X-Only-First"); got != c.wantHeader {
			t.Errorf("request %d: X-Only-First = %q, want %q", i+1, got, c.wantHeader)
		}
	}
}

// TestStaleRequestThrows: a req kept past its request throws on every read
// (its memory is reused for later requests, so it can never show a later
// request's data), as do its methods and its res; objects read from it
// during its request keep their values.
func TestStaleRequestThrows(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `let saved, savedRes, savedQuery, savedHeaders, n;
module.exports = (req, res) => {
  if (!saved) { saved = req; savedRes = res; savedQuery = req.query; savedHeaders = req.headers; n = req.query.n; return "kept " + n; }
  const out = [saved === req, n, req.query.n];
  for (const f of [() => saved.method, () => saved.query, () => saved.headers, () => saved.path, () => saved.body,
                   () => saved.params, () => saved.cookies, () => Object.keys(saved), () => savedQuery.n,
                   () => Object.keys(savedQuery), () => savedHeaders["x-n"], () => saved.queryAll("n"), () => saved.json(),
                   () => savedRes.write("x"), () => savedRes.header("X-Late", "1"), () => savedRes.status(500),
                   () => savedRes.json({}), () => res.write.call(savedRes, "y")]) {
    try { f(); out.push("no error"); } catch (e) { out.push(e.message.includes("request has ended") ? "ended" : e.message); }
  }
  return out.join("|");
};`})
	vm := a.mustVM("app.js")
	first := post("/one?n=1", "application/json", []byte(`{"a":1}`))
	first.Params["HTTP_X_N"] = "h1"
	if r := serve(vm, first); r.body != "kept 1" {
		t.Fatalf("first: %q %v", r.body, r.err)
	}
	second := get("/two?n=2")
	second.Params["HTTP_X_N"] = "h2"
	r := serve(vm, second)
	want := "false|1|2" + strings.Repeat("|ended", 18)
	if r.err != nil || r.body != want {
		t.Errorf("second:\n got  %q %v\n want %q", r.body, r.err, want)
	}
	if r.header.Get("X-Late") != "" || r.status != 200 {
		t.Errorf("the stale res changed the live one: status %d, X-Late %q", r.status, r.header.Get("X-Late"))
	}
}

// TestNestedStringify: JSON.stringify inside JSON.stringify (a toJSON, a
// replacer) and after one that threw keeps each call's bounds and output.
func TestNestedStringify(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req, res) => {
  const inner = {toJSON() { return JSON.stringify({x: [1, {y: 2}]}); }};
  const out = [JSON.stringify({a: inner, b: [inner]})];
  out.push(JSON.stringify({p: 1, q: {r: 2}}, (k, v) => k === "p" ? JSON.stringify([v, {s: v}], null, 1) : v));
  try { JSON.stringify(new Array(100).fill("x".repeat(1e6))); out.push("no error"); } catch (e) { out.push(e.name); }
  try { JSON.stringify({t: {toJSON() { return new Array(100).fill("x".repeat(1e6)); }}}); out.push("no error"); } catch (e) { out.push(e.name); }
  try { JSON.stringify([inner, new Array(100).fill("x".repeat(1e6))]); out.push("no error"); } catch (e) { out.push(e.name); }
  out.push(JSON.stringify({after: [1, 2, {c: "d"}]}));
  res.json({out});
};`})
	a.opts.Limits.MaxStringSize = 8 << 20
	vm := a.mustVM("app.js")
	want := `{"out":["{\"a\":\"{\\\"x\\\":[1,{\\\"y\\\":2}]}\",\"b\":[\"{\\\"x\\\":[1,{\\\"y\\\":2}]}\"]}",` +
		`"{\"p\":\"[\\n 1,\\n {\\n  \\\"s\\\": 1\\n }\\n]\",\"q\":{\"r\":2}}","RangeError","RangeError","RangeError","{\"after\":[1,2,{\"c\":\"d\"}]}"]}`
	for i := range 2 { // the second time on state left by the first
		r := serve(vm, get("/"))
		if r.err != nil || r.body != want {
			t.Errorf("request %d:\n got  %s %v\n want %s", i+1, r.body, r.err, want)
		}
	}
}

// TestServeWithPlainContext: contexts without an AfterFunc method still
// interrupt and still serve in a row.
func TestServeWithPlainContext(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = (req) => "n=" + req.query.n;`})
	vm := a.mustVM("app.js")
	for i, q := range []string{"1", "2", "3"} {
		ctx, cancel := context.WithCancel(context.Background())
		r := serveCtx(ctx, vm, get("/?n="+url.QueryEscape(q)))
		cancel()
		if r.err != nil || r.body != "n="+q {
			t.Errorf("request %d: %q %v", i+1, r.body, r.err)
		}
	}
}
