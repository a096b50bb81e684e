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
