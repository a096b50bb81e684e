package js

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/sandbox"
)

func TestBlobAndFormData(t *testing.T) {
	tests := []struct{ code, want string }{
		{`const b = new Blob(["hé", new Uint8Array([33]), new Blob(["?"])], {type: "Text/Plain"}); return [b.size, b.type, b instanceof Blob].join()`, "5,text/plain,true"},
		{`const b = new Blob(["hello world"]); const s = b.slice(-5); let t; s.text().then((x) => t = x); return [s.size, s.type === ""].join()`, "5,true"},
		{`const b = new Blob(["abcdef"]); return [b.slice(1, 3).size, b.slice(4, 2).size, b.slice(-100).size, new Blob().size].join()`, "2,0,6,0"},
		{`const f = new File(["x"], "a.txt", {type: "text/plain", lastModified: 5}); return [f.name, f.lastModified, f.size, f instanceof Blob, Object.prototype.toString.call(f)].join()`, "a.txt,5,1,true,[object File]"},
		{`const fd = new FormData(); fd.append("a", "1"); fd.append("a", "2"); fd.append("b", 3); fd.set("a", "x"); return [fd.get("a"), fd.getAll("a").length, fd.has("b"), fd.get("nope"), [...fd.keys()].join("+")].join()`, "x,1,true,,a+b"},
		{`const fd = new FormData(); fd.append("f", new Blob(["data"], {type: "text/csv"}), "d.csv"); const f = fd.get("f"); fd.delete("f"); return [f.name, f.type, f.size, fd.has("f")].join()`, "d.csv,text/csv,4,false"},
		{`const fd = new FormData(); fd.append("b", new Blob(["z"])); return fd.get("b").name`, "blob"},
		{`try { new FormData().append("a", "b", "c.txt"); } catch (e) { return e.name; }`, "TypeError"},
		{`const fd = new FormData(); fd.append("x", "1"); fd.append("y", "2"); const out = []; fd.forEach((v, k) => out.push(k + "=" + v)); for (const [k, v] of fd) out.push(k + v); return out.join()`, "x=1,y=2,x1,y2"},
	}
	for _, tt := range tests {
		got, err := evalJS(t, tt.code)
		if err != nil || got != tt.want {
			t.Errorf("%s\n got %q %v\nwant %q", tt.code, got, err, tt.want)
		}
	}
}

// formData() of urlencoded and multipart bodies, Blob and FormData bodies,
// and a FormData round trip through a Response.
func TestFormDataBodies(t *testing.T) {
	a := newApp(t, map[string]string{"w.mjs": `export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/parse") {
      const fd = await request.formData();
      const out = [];
      for (const [k, v] of fd) out.push(typeof v === "string" ? k + "=" + v : k + ":" + v.name + ":" + v.type + ":" + (await v.text()));
      return new Response(out.join("|"));
    }
    if (url.pathname === "/blob") return new Response(new Blob(["<b>hi</b>"], {type: "text/html"}));
    if (url.pathname === "/roundtrip") {
      const fd = new FormData();
      fd.append("name", "ann \"q\"");
      fd.append("up", new File(["line1\nline2"], "f.txt", {type: "text/plain"}));
      const res = new Response(fd);
      const back = await res.formData();
      return Response.json({ct: res.headers.get("content-type").split(";")[0], name: back.get("name"), file: await back.get("up").text(), fname: back.get("up").name});
    }
    if (url.pathname === "/reqblob") { const b = await request.blob(); return new Response(b.type + " " + b.size); }
    try { await request.formData(); } catch (e) { return new Response(e.name, {status: 400}); }
    return new Response("parsed?");
  },
};`})
	vm := a.mustVM("w.mjs")
	got := serve(vm, post("/parse", "application/x-www-form-urlencoded", []byte("a=1&b=x+y&a=%C3%A9")))
	if got.err != nil || got.body != "a=1|b=x y|a=é" {
		t.Errorf("urlencoded: %q %v", got.body, got.err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("k", "v1")
	fw, _ := mw.CreateFormFile("up", "a.bin")
	_, _ = fw.Write([]byte("bytes"))
	_ = mw.WriteField("k", "v2")
	_ = mw.Close()
	got = serve(vm, post("/parse", mw.FormDataContentType(), buf.Bytes()))
	if got.err != nil || got.body != "k=v1|up:a.bin:application/octet-stream:bytes|k=v2" {
		t.Errorf("multipart: %q %v", got.body, got.err)
	}
	if got = serve(vm, get("/blob")); got.body != "<b>hi</b>" || got.header.Get("Content-Type") != "text/html" {
		t.Errorf("blob body: %q %v", got.body, got.header)
	}
	got = serve(vm, get("/roundtrip"))
	if got.err != nil || got.body != `{"ct":"multipart/form-data","name":"ann \"q\"","file":"line1\nline2","fname":"f.txt"}` {
		t.Errorf("roundtrip: %q %v", got.body, got.err)
	}
	if got = serve(vm, post("/reqblob", "image/png", []byte("12345"))); got.body != "image/png 5" {
		t.Errorf("request blob: %q %v", got.body, got.err)
	}
	if got = serve(vm, post("/other", "application/json", []byte("{}"))); got.status != 400 || got.body != "TypeError" {
		t.Errorf("not a form: %d %q %v", got.status, got.body, got.err)
	}
	// A malformed multipart body uncaught is a 400 (script.ErrBadRequest).
	b := newApp(t, map[string]string{"m.mjs": `export default { async fetch(r) { await r.formData(); return new Response("x"); } };`})
	got = serve(b.mustVM("m.mjs"), post("/", "multipart/form-data; boundary=zz", []byte("--zz\r\nbroken")))
	if got.err == nil || !strings.Contains(got.err.Error(), "bad request") {
		t.Errorf("malformed multipart: %v", got.err)
	}
	// More fields than maxFormEntries.
	got = serve(b.mustVM("m.mjs"), post("/", "application/x-www-form-urlencoded", []byte(strings.Repeat("a=1&", maxFormEntries+1))))
	if got.err == nil || !strings.Contains(got.err.Error(), "form entries") && !strings.Contains(got.err.Error(), "too many") {
		t.Errorf("too many fields: %v", got.err)
	}
}

// Blob and FormData stay inside their bounds.
func TestBlobAndFormDataBounded(t *testing.T) {
	limits := sandbox.Limits{MaxStringSize: 1 << 20}
	for _, tt := range []struct{ code, want string }{
		{`const p = new Uint8Array(1 << 19); new Blob([p, p, p])`, "Blob: more than"},
		{`const b = new Blob([new Uint8Array(1 << 19)]); new Blob([b, b, "x"])`, "Blob: more than"},
		{`const fd = new FormData(); for (;;) fd.append("a", "b")`, "more than 10000 entries"},
		{`const fd = new FormData(); const b = new Blob([new Uint8Array(400000)]); for (let i = 0; i < 3; i++) fd.append("f", b); new Response(fd)`, "FormData body: more than"},
	} {
		_, err := evalJS(t, tt.code, limits)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.code, err, tt.want)
		}
	}
}
