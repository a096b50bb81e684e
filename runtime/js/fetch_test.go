package js

import (
	"context"
	"net/http"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// recordFetcher answers every call with the request it got, as JSON-ish
// text, and records it.
type recordFetcher struct{ last *script.FetchRequest }

func (f *recordFetcher) Fetch(ctx context.Context, req *script.FetchRequest) (*script.FetchResponse, error) {
	f.last = req
	h := http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Type": {"text/plain"}}
	return &script.FetchResponse{Status: 200, URL: req.URL + "#final", Headers: h,
		Body: []byte(req.Method + " " + req.Headers.Get("Content-Type") + " " + req.Headers.Get("X-A") + " " + string(req.Body))}, nil
}

// fetch returns a standard Response and takes a Request, Headers, the
// body types of Response and an AbortSignal.
func TestFetchStandardResponse(t *testing.T) {
	ff := &recordFetcher{}
	a := newApp(t, map[string]string{"w.mjs": `export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams.get("t");
    if (q === "proxy") return fetch("https://api.example/p", { method: "POST", headers: new Headers({ "X-A": "1" }), body: new URLSearchParams("x=1&y=2") });
    if (q === "request") {
      const r = await fetch(new Request("https://api.example/r", { method: "PUT", body: "b", headers: [["x-a", "2"]] }));
      return Response.json({ isResponse: r instanceof Response, ok: r.ok, redirected: r.redirected, cookies: r.headers.getSetCookie(), text: await r.text(), used: r.bodyUsed });
    }
    if (q === "abort") {
      try { await fetch("https://api.example/", { signal: AbortSignal.abort() }); return new Response("fetched"); } catch (e) { return new Response(e.name); }
    }
    if (q === "immutable") {
      const r = await fetch("https://api.example/");
      try { r.headers.set("x", "y"); return new Response("changed"); } catch (e) { return new Response(e.name); }
    }
    const fd = new FormData(); fd.append("k", "v");
    const r = await fetch("https://api.example/f", { method: "POST", body: fd });
    return new Response((await r.text()).startsWith("POST multipart/form-data; boundary=") ? "form ok" : "form bad");
  },
};`})
	a.opts.Fetch = ff
	vm := a.mustVM("w.mjs")
	got := serve(vm, get("/?t=proxy"))
	if got.err != nil || got.body != "POST application/x-www-form-urlencoded;charset=UTF-8 1 x=1&y=2" || len(got.header.Values("Set-Cookie")) != 2 {
		t.Errorf("proxy: %q %v %v", got.body, got.header, got.err)
	}
	got = serve(vm, get("/?t=request"))
	if want := `{"isResponse":true,"ok":true,"redirected":true,"cookies":["a=1","b=2"],"text":"PUT text/plain;charset=UTF-8 2 b","used":true}`; got.err != nil || got.body != want {
		t.Errorf("request:\n got %s %v\nwant %s", got.body, got.err, want)
	}
	for q, want := range map[string]string{"abort": "AbortError", "immutable": "TypeError", "form": "form ok"} {
		if got := serve(vm, get("/?t="+q)); got.err != nil || got.body != want {
			t.Errorf("%s: %q %v, want %q", q, got.body, got.err, want)
		}
	}
}
