package plugin_test

import (
	"context"
	"reflect"
	"testing"
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
