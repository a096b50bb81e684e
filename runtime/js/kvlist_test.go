package js

import (
	"context"
	"path/filepath"
	"testing"

	kvstore "github.com/fcgihost/fcgihost/kv"
)

// TestKVListAfter pages through a prefix with kv.list's after option on
// the embedded store: every key once, in order.
func TestKVListAfter(t *testing.T) {
	st, err := kvstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kv.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ns := st.Namespace("test", kvstore.Quota{})
	a := newApp(t, map[string]string{"app.js": `module.exports = () => {
  for (let i = 0; i < 7; i++) kv.set("p:" + i, "v");
  kv.set("q", "v");
  const pages = [];
  let after;
  for (;;) {
    const keys = kv.list("p:", {limit: 3, after});
    pages.push(keys.join(","));
    if (keys.length < 3) break;
    after = keys[keys.length - 1];
  }
  return pages.join("|");
};`})
	a.opts.KV = ns
	vm := a.mustVM("app.js")
	r := serve(vm, get("/"))
	if want := "p:0,p:1,p:2|p:3,p:4,p:5|p:6"; r.err != nil || r.body != want {
		t.Fatalf("got %q (%v), want %q", r.body, r.err, want)
	}
}

// TestWorkersKVListPages pages through a prefix with env.KV.list's cursor
// on the embedded store (a kv.Pager): every key once, in order, the last
// page complete.
func TestWorkersKVListPages(t *testing.T) {
	st, err := kvstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kv.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := newApp(t, map[string]string{"w.mjs": `export default {
  async fetch(request, env) {
    for (let i = 0; i < 7; i++) await env.KV.put("p:" + i, "v");
    await env.KV.put("q", "v");
    const pages = [];
    let cursor;
    for (;;) {
      const r = await env.KV.list({prefix: "p:", limit: 3, cursor});
      pages.push(r.keys.map((k) => k.name).join(",") + (r.list_complete ? "." : ""));
      if (r.list_complete) break;
      cursor = r.cursor;
    }
    const exact = await env.KV.list({prefix: "p:", limit: 7});
    return new Response(pages.join("|") + " " + exact.list_complete + " " + (exact.cursor === undefined));
  },
};`})
	a.opts.KV = st.Namespace("test", kvstore.Quota{})
	r := serve(a.mustVM("w.mjs"), get("/"))
	if want := "p:0,p:1,p:2|p:3,p:4,p:5|p:6. true true"; r.err != nil || r.body != want {
		t.Fatalf("got %q (%v), want %q", r.body, r.err, want)
	}
}
