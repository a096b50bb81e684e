package lua

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// fakeKV is an in-memory script.KV that records the contexts it is given.
type fakeKV struct {
	mu   sync.Mutex
	data map[string]string
	ttls map[string]time.Duration
	ctxs []context.Context
	err  error
}

func newFakeKV() *fakeKV { return &fakeKV{data: map[string]string{}, ttls: map[string]time.Duration{}} }

func (k *fakeKV) seen(ctx context.Context) error {
	k.ctxs = append(k.ctxs, ctx)
	return k.err
}

func (k *fakeKV) Get(ctx context.Context, key string) (string, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.seen(ctx); err != nil {
		return "", false, err
	}
	v, ok := k.data[key]
	return v, ok, nil
}

func (k *fakeKV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.seen(ctx); err != nil {
		return err
	}
	k.data[key], k.ttls[key] = value, ttl
	return nil
}

func (k *fakeKV) Delete(ctx context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.data, key)
	return k.seen(ctx)
}

func (k *fakeKV) Incr(ctx context.Context, key string, n int64) (int64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.seen(ctx); err != nil {
		return 0, err
	}
	cur, _ := strconv.ParseInt(k.data[key], 10, 64)
	cur += n
	k.data[key] = strconv.FormatInt(cur, 10)
	return cur, nil
}

func (k *fakeKV) CAS(ctx context.Context, key string, old *string, new string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.seen(ctx); err != nil {
		return false, err
	}
	cur, ok := k.data[key]
	if (old == nil && ok) || (old != nil && (!ok || cur != *old)) {
		return false, nil
	}
	k.data[key] = new
	return true, nil
}

func (k *fakeKV) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.seen(ctx); err != nil {
		return nil, err
	}
	var out []string
	for key := range k.data {
		if strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func withKV(kv script.KV) func(*script.Options) { return func(o *script.Options) { o.KV = kv } }

func TestKV_Bindings(t *testing.T) {
	tests := []struct {
		name  string
		seed  map[string]string
		code  string
		want  string
		check func(t *testing.T, kv *fakeKV)
	}{
		{"get missing", nil, `res:write(tostring(kv.get("nope")))`, "nil", nil},
		{"get", map[string]string{"a": "1"}, `res:write(kv.get("a"))`, "1", nil},
		{"set and get", nil, `kv.set("k", "v"); res:write(kv.get("k"))`, "v", nil},
		{"set number", nil, `kv.set("n", 42); res:write(kv.get("n"))`, "42", nil},
		{"set ttl", nil, `kv.set("t", "x", {ttl = 1.5})`, "", func(t *testing.T, kv *fakeKV) {
			if kv.ttls["t"] != 1500*time.Millisecond {
				t.Errorf("ttl %v, want 1.5s", kv.ttls["t"])
			}
		}},
		{"set bad value", nil, `kv.set("t", {})`, "error", nil},
		{"delete", map[string]string{"a": "1"}, `kv.delete("a"); res:write(tostring(kv.get("a")))`, "nil", nil},
		{"incr default", nil, `res:write(kv.incr("c"), ",", kv.incr("c"))`, "1,2", nil},
		{"incr by n", map[string]string{"c": "5"}, `res:write(kv.incr("c", 10))`, "15", nil},
		{"incr fraction", nil, `kv.incr("c", 1.5)`, "error", nil},
		{"cas absent", nil, `res:write(tostring(kv.cas("k", nil, "first")), tostring(kv.cas("k", nil, "second")), kv.get("k"))`, "truefalsefirst", nil},
		{"cas value", map[string]string{"k": "a"}, `res:write(tostring(kv.cas("k", "b", "x")), tostring(kv.cas("k", "a", "y")), kv.get("k"))`, "falsetruey", nil},
		{"list", map[string]string{"u:2": "", "u:1": "", "v:1": "", "u:3": ""}, `res:write(table.concat(kv.list("u:"), ","))`, "u:1,u:2,u:3", nil},
		{"list limit", map[string]string{"u:2": "", "u:1": "", "u:3": ""}, `res:write(table.concat(kv.list("u:", {limit = 2}), ","))`, "u:1,u:2", nil},
		{"list empty is array", nil, `res:write(json.encode(kv.list("none")))`, "[]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := newFakeKV()
			for k, v := range tt.seed {
				kv.data[k] = v
			}
			a := newApp(t, "return function(req, res) "+tt.code+" end", nil, withKV(kv))
			ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "req"))
			defer cancel()
			s, err := serveCtx(ctx, a.vm(t), request("GET", "/", "", nil))
			if tt.want == "error" {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil || s.body.String() != tt.want {
				t.Fatalf("%q, %v; want %q", s.body.String(), err, tt.want)
			}
			for _, c := range kv.ctxs {
				if c.Value(ctxKey{}) != "req" {
					t.Error("kv call did not get the request context")
				}
			}
			if tt.check != nil {
				tt.check(t, kv)
			}
		})
	}
}

type ctxKey struct{}

func TestKV_ErrorsAndNotConfigured(t *testing.T) {
	kv := newFakeKV()
	kv.err = errors.New("store down")
	a := newApp(t, "return function(req, res)\n kv.get('x')\nend", nil, withKV(kv))
	_, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	if err == nil || !strings.Contains(err.Error(), "kv.get: store down") {
		t.Fatalf("error %v, want kv.get: store down", err)
	}
	var se *script.ScriptError
	if !errors.As(err, &se) || se.Line != 2 {
		t.Errorf("error not located at the call: %v", err)
	}

	for _, code := range []string{"kv.get('x')", "kv.set('x', 'y')", "kv.list('')"} {
		_, err := run(t, "return function(req, res) "+code+" end")
		if !errors.Is(err, script.ErrNotConfigured) || !strings.Contains(err.Error(), "kv is not configured") {
			t.Errorf("%s without KV: error %v, want 'kv is not configured'", code, err)
		}
	}
}

// fakeFetcher answers every request with a canned response and records it.
type fakeFetcher struct {
	got *script.FetchRequest
	ctx context.Context
}

func (f *fakeFetcher) Fetch(ctx context.Context, req *script.FetchRequest) (*script.FetchResponse, error) {
	f.got, f.ctx = req, ctx
	if strings.Contains(req.URL, "fail") {
		return nil, errors.New("host not allowed")
	}
	return &script.FetchResponse{Status: 201, URL: req.URL + "#final",
		Headers: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}}, Body: []byte(`{"ok":true}`)}, nil
}

func TestHTTP_Request(t *testing.T) {
	f := &fakeFetcher{}
	a := newApp(t, `return function(req, res)
  local r = http.request{url = "https://api.example.com/x", method = "post", headers = {["X-Token"] = "t", Accept = {"a/b", "c/d"}}, body = "payload"}
  local r2 = http.request("https://api.example.com/plain")
  res:write(r.status, "|", r.headers["content-type"], "|", r.headers["x-multi"], "|", r.body, "|", r.url, "|", tostring(json.decode(r.body).ok), "|", r2.status)
end`, nil, func(o *script.Options) { o.Fetch = f })
	ctx := context.WithValue(context.Background(), ctxKey{}, "req")
	s, err := serveCtx(ctx, a.vm(t), request("GET", "/", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `201|application/json|a, b|{"ok":true}|https://api.example.com/x#final|true|201`
	if got := s.body.String(); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if f.got.Method != "GET" || f.got.URL != "https://api.example.com/plain" {
		t.Errorf("last request %s %s", f.got.Method, f.got.URL)
	}
	if f.ctx.Value(ctxKey{}) != "req" {
		t.Error("fetch did not get the request context")
	}

	f2 := &fakeFetcher{}
	a2 := newApp(t, `return function(req, res)
  http.request{url = "https://x/", method = "post", headers = {["X-Token"] = "t", Accept = {"a/b", "c/d"}}, body = "payload"}
end`, nil, func(o *script.Options) { o.Fetch = f2 })
	if _, err := serve(t, a2.vm(t), request("GET", "/", "", nil)); err != nil {
		t.Fatal(err)
	}
	if f2.got.Method != "POST" || string(f2.got.Body) != "payload" || f2.got.Headers.Get("X-Token") != "t" ||
		strings.Join(f2.got.Headers.Values("Accept"), ",") != "a/b,c/d" {
		t.Errorf("request sent: %+v", f2.got)
	}
}

func TestHTTP_Errors(t *testing.T) {
	_, err := run(t, `return function(req, res) http.request{url = "https://x/"} end`)
	if !errors.Is(err, script.ErrNotConfigured) {
		t.Errorf("without a fetcher: %v, want ErrNotConfigured", err)
	}
	a := newApp(t, `return function(req, res) http.request{url = "https://fail/"} end`, nil, func(o *script.Options) { o.Fetch = &fakeFetcher{} })
	if _, err := serve(t, a.vm(t), request("GET", "/", "", nil)); err == nil || !strings.Contains(err.Error(), "host not allowed") {
		t.Errorf("fetch error: %v", err)
	}
	a = newApp(t, `return function(req, res) http.request{method = "GET"} end`, nil, func(o *script.Options) { o.Fetch = &fakeFetcher{} })
	if _, err := serve(t, a.vm(t), request("GET", "/", "", nil)); err == nil || !strings.Contains(err.Error(), "url") {
		t.Errorf("missing url: %v", err)
	}
}

func TestBuiltins(t *testing.T) {
	fixed := time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, expr, want string
	}{
		{"sha256", `crypto.sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha256 binary", `crypto.sha256("\0\255")`, "06eb7d6a69ee19e5fbdf749018d3d2abfa04bcbd1365db312eb86dc7169389b8"},
		{"hmac_sha256", `crypto.hmac_sha256("key", "The quick brown fox jumps over the lazy dog")`, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
		{"base64 encode", `base64.encode("hello\0")`, "aGVsbG8A"},
		{"base64 decode", `base64.decode("aGVsbG8A")`, "hello\x00"},
		{"base64 decode unpadded", `base64.decode("aGk")`, "hi"},
		{"base64 decode invalid", `tostring(pcall(base64.decode, "!!"))`, "false"},
		{"json encode", `json.encode({a = {1, 2, {b = json.null}}, s = "q\"\n\1", t = true, f = 1.5, e = {}, ea = json.array()})`,
			`{"a":[1,2,{"b":null}],"e":{},"ea":[],"f":1.5,"s":"q\"\n\u0001","t":true}`},
		{"json encode sparse", `json.encode({[1] = "a", [3] = "c"})`, `{"1":"a","3":"c"}`},
		{"json encode nil", `json.encode(nil)`, "null"},
		{"json encode big int", `json.encode(2^53)`, "9007199254740992"},
		{"json encode cycle", `select(2, pcall(json.encode, (function() local t = {}; t.t = t; return t end)()))`, "~nesting deeper"},
		{"json encode function", `select(2, pcall(json.encode, {f = print}))`, "~cannot encode a function"},
		{"json encode nan", `select(2, pcall(json.encode, 0/0))`, "~cannot encode"},
		{"json encode bad key", `select(2, pcall(json.encode, {[true] = 1}))`, "~table key of type boolean"},
		{"json decode", `(function() local v = json.decode('{"a":[1,"x",null,{"b":false}],"n":-2.5e2}'); return #v.a .. tostring(v.a[3] == json.null) .. tostring(v.a[4].b) .. v.n end)()`, "4truefalse-250"},
		{"json roundtrip empty array", `json.encode(json.decode('{"list":[],"obj":{}}'))`, `{"list":[],"obj":{}}`},
		{"json decode invalid", `tostring(pcall(json.decode, '{'))`, "false"},
		{"json decode trailing", `tostring(pcall(json.decode, '1 2'))`, "false"},
		{"json.null tostring", `tostring(json.null)`, "null"},
		{"os.time fixed clock", `os.time()`, "1795316645"},
		{"os.date fixed clock", `os.date("!%Y-%m-%d %H:%M:%S")`, "2026-11-22 03:04:05"},
		{"os.date explicit", `os.date("!%Y", 0)`, "1970"},
		{"os.date table", `os.date("!*t").year`, "2026"},
		{"os.difftime", `os.difftime(10, 4)`, "6"},
		{"os.clock", `type(os.clock())`, "number"},
		{"log is callable", `type(log)`, "table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, "return function(req, res) res:write("+tt.expr+") end", nil, func(o *script.Options) { o.Now = func() time.Time { return fixed } })
			s, err := serve(t, a.vm(t), request("GET", "/", "", nil))
			if err != nil {
				t.Fatal(err)
			}
			got := s.body.String()
			if sub, ok := strings.CutPrefix(tt.want, "~"); ok && strings.Contains(got, sub) {
				return
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}
