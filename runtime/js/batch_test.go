package js

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	kvstore "github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/script"
)

// TestKVBatch runs kv.batch against a real bbolt namespace: a batch is
// applied whole or not at all, and malformed operations are TypeErrors.
func TestKVBatch(t *testing.T) {
	st, err := kvstore.OpenBolt(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ns := st.Namespace("test", kvstore.Quota{MaxKeys: 3})
	a := newApp(t, map[string]string{"app.js": `module.exports = (req) => {
  switch (req.query.t) {
  case "ok":
    kv.set("gone", "x");
    kv.batch([{op: "set", key: "a", value: "1"}, {op: "set", key: "b", value: 2, ttl: 60}, {op: "delete", key: "gone"}]);
    return JSON.stringify([kv.get("a"), kv.get("b"), kv.get("gone")]);
  case "quota":
    try { kv.batch([{op: "set", key: "c", value: "3"}, {op: "set", key: "d", value: "4"}]); } catch (e) { return "refused " + kv.list("").join(","); }
    return "applied";
  case "empty":
    kv.batch([]); return "ok";
  case "badop": kv.batch([{op: "incr", key: "a"}]); return "unreachable";
  case "nokey": kv.batch([{op: "set", value: "1"}]); return "unreachable";
  case "notarray": kv.batch({op: "set", key: "a", value: "1"}); return "unreachable";
  case "objvalue": kv.batch([{op: "set", key: "a", value: {}}]); return "unreachable";
  }
};`})
	a.opts.KV = ns
	vm := a.mustVM("app.js")
	for _, tt := range []struct{ q, want, wantErr string }{
		{"ok", `["1","2",null]`, ""},
		{"quota", "refused a,b", ""},
		{"empty", "ok", ""},
		{"badop", "", `op must be "set" or "delete"`},
		{"nokey", "", "key must be a string"},
		{"notarray", "", "expected an array"},
		{"objvalue", "", "value must be a string or a number"},
	} {
		t.Run(tt.q, func(t *testing.T) {
			r := serve(vm, get("/?t="+tt.q))
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) || !strings.Contains(r.err.Error(), "TypeError") {
					t.Fatalf("err = %v, want a TypeError with %q", r.err, tt.wantErr)
				}
				return
			}
			if r.err != nil || r.body != tt.want {
				t.Fatalf("got %q (%v), want %q", r.body, r.err, tt.want)
			}
		})
	}
	// Quota errors reach the handler as script errors wrapping kv.ErrQuota.
	b := newApp(t, map[string]string{"app.js": `module.exports = () => { kv.batch([{op: "set", key: "x", value: "1"}, {op: "set", key: "y", value: "1"}]); };`})
	b.opts.KV = ns
	if r := serve(b.mustVM("app.js"), get("/")); !errors.Is(r.err, kvstore.ErrQuota) {
		t.Errorf("over quota: err = %v, want kv.ErrQuota", r.err)
	}
}

// noBatchKV is a script.KV without kv.Batcher.
type noBatchKV struct{ script.KV }

func TestKVBatch_NotSupported(t *testing.T) {
	a := newApp(t, map[string]string{"app.js": `module.exports = () => { kv.batch([]); };`})
	a.opts.KV = noBatchKV{newFakeKV()}
	r := serveCtx(context.Background(), a.mustVM("app.js"), get("/"))
	if !errors.Is(r.err, script.ErrNotConfigured) {
		t.Fatalf("err = %v, want ErrNotConfigured", r.err)
	}
}
