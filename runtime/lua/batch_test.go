package lua

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	kvstore "github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/script"
)

// TestKVBatch runs kv.batch against a real bbolt namespace: a batch is
// applied whole or not at all, and malformed operations are argument errors.
func TestKVBatch(t *testing.T) {
	st, err := kvstore.OpenBolt(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ns := st.Namespace("test", kvstore.Quota{MaxKeys: 3})
	a := newApp(t, `return function(req, res)
  local t = req.query.t
  if t == "ok" then
    kv.set("gone", "x")
    kv.batch{ {op = "set", key = "a", value = "1"}, {op = "set", key = "b", value = 2, ttl = 60}, {op = "delete", key = "gone"} }
    return json.encode({kv.get("a"), kv.get("b"), tostring(kv.get("gone"))})
  elseif t == "quota" then
    local ok = pcall(kv.batch, { {op = "set", key = "c", value = "3"}, {op = "set", key = "d", value = "4"} })
    if ok then return "applied" end
    return "refused " .. table.concat(kv.list(""), ",")
  elseif t == "empty" then kv.batch{}; return "ok"
  elseif t == "badop" then kv.batch{ {op = "incr", key = "a"} }
  elseif t == "nokey" then kv.batch{ {op = "set", value = "1"} }
  elseif t == "notable" then kv.batch("a")
  elseif t == "tablevalue" then kv.batch{ {op = "set", key = "a", value = {}} }
  elseif t == "quotaerr" then kv.batch{ {op = "set", key = "x", value = "1"}, {op = "set", key = "y", value = "1"} }
  end
  return "unreachable"
end`, nil, withKV(ns))
	v := a.vm(t)
	for _, tt := range []struct{ q, want, wantErr string }{
		{"ok", `["1","2","nil"]`, ""},
		{"quota", "refused a,b", ""},
		{"empty", "ok", ""},
		{"badop", "", `op must be "set" or "delete"`},
		{"nokey", "", "key must be a string"},
		{"notable", "", "table expected"},
		{"tablevalue", "", "value must be a string"},
		{"quotaerr", "", "kv quota exceeded"},
	} {
		t.Run(tt.q, func(t *testing.T) {
			s, err := serve(t, v, request("GET", "/?t="+tt.q, "", map[string]string{"QUERY_STRING": "t=" + tt.q}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.q == "quotaerr" && !errors.Is(err, kvstore.ErrQuota) {
					t.Errorf("err = %v, want a wrap of kv.ErrQuota", err)
				}
				return
			}
			if err != nil || s.body.String() != tt.want {
				t.Fatalf("got %q (%v), want %q", s.body.String(), err, tt.want)
			}
		})
	}
}

// noBatchKV is a script.KV without kv.Batcher.
type noBatchKV struct{ script.KV }

func TestKVBatch_NotSupported(t *testing.T) {
	a := newApp(t, `return function(req, res) kv.batch{} end`, nil, withKV(noBatchKV{newFakeKV()}))
	_, err := serve(t, a.vm(t), request("GET", "/", "", nil))
	if !errors.Is(err, script.ErrNotConfigured) {
		t.Fatalf("err = %v, want ErrNotConfigured", err)
	}
}
