package plugin_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/plugin"
)

// TestCall_Builtins: the script API that needs no request works inside a
// call (log, json, kv, crypto, base64), in both languages.
func TestCall_Builtins(t *testing.T) {
	h, _ := newHost(t, map[string]string{
		"bj.js": `exports.run = async (k) => {
  console.log("called"); log("also");
  await kv.set(k, "v1");
  const got = await kv.get(k);
  const id = crypto.randomUUID();
  return [got, JSON.parse(JSON.stringify({a: 1})).a, id.length, btoa("hi")];
};`,
		"bl.lua": `return {run = function (k)
  print("called") log("also")
  kv.set(k, "v1")
  return {kv.get(k), json.decode(json.encode({a = 1})).a, #crypto.random_uuid(), base64.encode("hi")}
end}`,
	}, nil, nil)
	for _, app := range []string{"bj", "bl"} {
		v, err := h.Call(context.Background(), app, "run", "key-"+app)
		if want := []any{"v1", int64(1), int64(36), "aGk="}; err != nil || !reflect.DeepEqual(v, want) {
			t.Errorf("%s: %#v, %v; want %#v", app, v, err, want)
		}
	}
}

// TestModule_Panic: a Go function that panics fails the call that made
// it (the VM is replaced), not the host; the next call works.
func TestModule_Panic(t *testing.T) {
	mod := &plugin.Module{Name: "bad", Funcs: []plugin.Func{{Name: "boom",
		Fn: func(context.Context, *plugin.CallInfo) (any, error) { panic("host bug") }}}}
	h, _ := newHost(t, map[string]string{
		"pj.js":  `const b = require("host:bad"); exports.go = () => b.boom(); exports.ok = () => 1;`,
		"pl.lua": `local b = require("host.bad") return {go = function () return b.boom() end, ok = function () return 1 end}`,
	}, []*plugin.Module{mod}, nil)
	for _, app := range []string{"pj", "pl"} {
		if _, err := h.Call(context.Background(), app, "go"); err == nil || !strings.Contains(err.Error(), "host bug") {
			t.Errorf("%s: %v, want the panic as an error", app, err)
		}
		if v, err := h.Call(context.Background(), app, "ok"); err != nil || v != int64(1) {
			t.Errorf("%s after the panic: %v, %v", app, v, err)
		}
	}
}

// TestHandler_NoHandler: a plugin that exports functions only answers an
// HTTP request with a 500, and one that has a handler is served.
func TestHandler_NoHandler(t *testing.T) {
	h, _ := newHost(t, map[string]string{
		"fn.js":  `exports.f = () => 1;`,
		"web.js": `exports.handle = (req, res) => "hello"; exports.f = () => 2;`,
	}, nil, nil)
	for path, want := range map[string]int{"/fn": 500, "/web": 200} {
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
	if v, err := h.Call(context.Background(), "web", "f"); err != nil || v != int64(2) {
		t.Errorf("web.f: %v, %v", v, err)
	}
}

// TestModule_CGIFresh: a CGI-style script gets a fresh module table per
// request, so a change one request makes is not seen by the next.
func TestModule_CGIFresh(t *testing.T) {
	mod := &plugin.Module{Name: "kit", Values: map[string]any{"v": 1}}
	h, _ := newHost(t, map[string]string{
		"c.lua": "local k = require('host.kit')\nk.seen = (k.seen or 0) + 1\nprint('Content-Type: text/plain\\n')\nprint(k.seen)\n",
		"c2.js": "const k = require('host:kit');\nk.seen = (k.seen || 0) + 1;\nprint('Content-Type: text/plain\\n');\nprint(String(k.seen));\n",
	}, []*plugin.Module{mod}, func(c *config.Config) { c.Defaults.Workers = 1 })
	for _, path := range []string{"/c", "/c2"} {
		for i := 0; i < 2; i++ {
			rec := httptest.NewRecorder()
			h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "1" {
				t.Errorf("GET %s #%d: %d %q, want 200 \"1\"", path, i+1, rec.Code, rec.Body.String())
			}
		}
	}
}
