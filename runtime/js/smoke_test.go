package js

import "testing"

func TestSmoke(t *testing.T) {
	a := newApp(t, map[string]string{"hello.js": `let hits = 0;
module.exports = function (req, res) {
  hits++;
  res.header("Content-Type", "text/plain");
  res.write("hello " + (req.query.name || "world") + " #" + hits);
};`})
	vm := a.mustVM("hello.js")
	r := serve(vm, get("/?name=bob"))
	t.Logf("%+v", r)
	r = serve(vm, get("/"))
	t.Logf("%+v", r)
}
