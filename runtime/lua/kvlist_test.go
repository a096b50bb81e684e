package lua

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
	a := newApp(t, `return function(req, res)
  for i = 0, 6 do kv.set("p:" .. i, "v") end
  kv.set("q", "v")
  local pages, after = {}, nil
  while true do
    local keys = kv.list("p:", { limit = 3, after = after })
    pages[#pages + 1] = table.concat(keys, ",")
    if #keys < 3 then break end
    after = keys[#keys]
  end
  return table.concat(pages, "|")
end`, nil, withKV(ns))
	v := a.vm(t)
	s, err := serve(t, v, request("GET", "/", "", nil))
	if want := "p:0,p:1,p:2|p:3,p:4,p:5|p:6"; err != nil || s.body.String() != want {
		t.Fatalf("got %q (%v), want %q", s.body.String(), err, want)
	}
}
