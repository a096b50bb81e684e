package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// Workers-style apps (README.md "Coming from Workers / Node") through the
// real binary behind nginx: a TypeScript module graph with a router on
// new URL(request.url), JSON in and out, redirects, repeated Set-Cookie,
// env vars, KV, waitUntil and errors.
func TestNginx_WorkersApps(t *testing.T) {
	t.Parallel()
	apps := t.TempDir()
	files := map[string]string{
		"worker/index.ts": `import { route } from "./router";
interface Env { GREETING: string; KV: any }
export default {
  async fetch(request: Request, env: Env, ctx: any): Promise<Response> {
    return route(request, env, ctx);
  },
};`,
		"worker/router.ts": `import { json } from "./util/json.mjs";
export async function route(request: Request, env: any, ctx: any): Promise<Response> {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/worker/hello": return new Response("hello " + (url.searchParams.get("name") ?? "world"));
    case "/worker/echo": return json({ got: await request.json(), method: request.method, host: url.host });
    case "/worker/go": return Response.redirect(url.origin + "/worker/hello", 302);
    case "/worker/cookies": {
      const h = new Headers({ "Content-Type": "text/plain" });
      h.append("Set-Cookie", "a=1; Path=/");
      h.append("Set-Cookie", "b=2; Path=/");
      return new Response("ok", { headers: h });
    }
    case "/worker/env": return new Response(env.GREETING);
    case "/worker/kv": {
      await env.KV.put("count", String(Number(await env.KV.get("count") ?? 0) + 1));
      ctx.waitUntil(env.KV.put("seen", url.search));
      return json({ count: await env.KV.get("count"), seen: await env.KV.get("seen"), list: (await env.KV.list()).keys.length });
    }
    case "/worker/form": {
      const fd = await request.formData();
      const up = fd.get("up");
      return json({ names: fd.getAll("name"), file: up.name, type: up.type, text: await up.text() });
    }
    case "/worker/blob": return new Response(new Blob(["<p>", "blob"], { type: "text/html" }));
    case "/worker/throw": throw new Error("boom from the router");
    case "/worker/wrong": return 42 as any;
  }
  return new Response("no route", { status: 404 });
}`,
		"worker/util/json.mjs": `export const json = (v, status = 200) => Response.json(v, { status });`,
		"escape.mjs":           `import x from "../outside.js";` + "\nexport default () => x;\n",
	}
	for name, content := range files {
		p := filepath.Join(apps, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf("workers = 1\ndata_dir = %q\nenv = [\"GREETING=hi from env\"]\n", t.TempDir())
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
	n := testutil.StartNginx(t, h, nginxRoot)

	r := testutil.Get(t, n.URL+"/worker/hello?name=ann")
	if r.StatusCode != 200 || r.Body != "hello ann" {
		t.Errorf("hello: %d %q", r.StatusCode, r.Body)
	}
	r = testutil.Do(t, newReq(t, "POST", n.URL+"/worker/echo", []byte(`{"x":[1,"y"]}`), "application/json"))
	if m := decode(t, r); r.StatusCode != 200 || fmt.Sprint(m["got"]) != "map[x:[1 y]]" || m["method"] != "POST" || !strings.HasPrefix(m["host"].(string), "127.0.0.1") {
		t.Errorf("echo: %d %v", r.StatusCode, m)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("echo content type %q", ct)
	}
	r = testutil.Get(t, n.URL+"/worker/go")
	if r.StatusCode != 302 || !strings.HasSuffix(r.Header.Get("Location"), "/worker/hello") {
		t.Errorf("redirect: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = testutil.Get(t, n.URL+"/worker/cookies")
	if c := r.Header.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1; Path=/" || c[1] != "b=2; Path=/" {
		t.Errorf("cookies: %q", c)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("name", "ann")
	_ = mw.WriteField("name", "bob")
	fw, _ := mw.CreateFormFile("up", "notes.txt")
	_, _ = fw.Write([]byte("file body"))
	_ = mw.Close()
	r = testutil.Do(t, newReq(t, "POST", n.URL+"/worker/form", form.Bytes(), mw.FormDataContentType()))
	if m := decode(t, r); r.StatusCode != 200 || fmt.Sprint(m["names"]) != "[ann bob]" || m["file"] != "notes.txt" || m["type"] != "application/octet-stream" || m["text"] != "file body" {
		t.Errorf("form: %d %v", r.StatusCode, m)
	}
	if r = testutil.Get(t, n.URL+"/worker/blob"); r.Body != "<p>blob" || r.Header.Get("Content-Type") != "text/html" {
		t.Errorf("blob: %d %q %v", r.StatusCode, r.Body, r.Header)
	}
	if r = testutil.Get(t, n.URL+"/worker/env"); r.Body != "hi from env" {
		t.Errorf("env: %d %q", r.StatusCode, r.Body)
	}
	testutil.Get(t, n.URL+"/worker/kv?first")
	r = testutil.Get(t, n.URL+"/worker/kv?second")
	if m := decode(t, r); m["count"] != "2" || m["seen"] != "?second" {
		t.Errorf("kv: %v", m)
	}
	for _, p := range []string{"/worker/throw", "/worker/wrong", "/escape"} {
		if r = testutil.Get(t, n.URL+p); r.StatusCode != 500 {
			t.Errorf("%s: %d %q", p, r.StatusCode, r.Body)
		}
	}
	if r = testutil.Get(t, n.URL+"/worker/nothing"); r.StatusCode != 404 || r.Body != "no route" {
		t.Errorf("404: %d %q", r.StatusCode, r.Body)
	}
	// A worker's log lines reach the master's output through a relay,
	// a moment after the response.
	for _, want := range []string{"router.ts:26", "returned a number", "outside the app folder"} {
		testutil.Eventually(t, 30*time.Second, "log line "+want, func() bool { return strings.Contains(h.Output(), want) })
	}
}

// Changing a file a module app imports reloads the app, for a one-file app
// (whose imports sit in the apps dir and its node_modules) and a folder app.
func TestNginx_ModuleAppReloadsOnImportChange(t *testing.T) {
	t.Parallel()
	apps := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(apps, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one.ts", "import { v } from \"./shared/v\";\nexport default () => v;\n")
	write("shared/v.ts", "export const v: string = \"v1\";\n")
	write("dir/index.mjs", "import { w } from \"./deep/w.mjs\";\nexport default () => w;\n")
	write("dir/deep/w.mjs", "export const w = \"w1\";\n")
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: "workers = 1\n"})
	n := testutil.StartNginx(t, h, nginxRoot)
	if r := testutil.Get(t, n.URL+"/one"); r.Body != "v1" {
		t.Fatalf("/one: %d %q", r.StatusCode, r.Body)
	}
	if r := testutil.Get(t, n.URL+"/dir/"); r.Body != "w1" {
		t.Fatalf("/dir/: %d %q", r.StatusCode, r.Body)
	}
	write("shared/v.ts", "export const v: string = \"v2\";\n")
	write("dir/deep/w.mjs", "export const w = \"w2\";\n")
	testutil.Eventually(t, 15*time.Second, "one.ts reloaded after its import changed", func() bool {
		return testutil.Get(t, n.URL+"/one").Body == "v2"
	})
	testutil.Eventually(t, 15*time.Second, "dir reloaded after its import changed", func() bool {
		return testutil.Get(t, n.URL+"/dir/").Body == "w2"
	})
}

// ctx.waitUntil work runs after the response went out (README.md "Coming
// from Workers / Node"): the work waits, on a timer, for a KV flag that
// only a later request sets, so the first client can only get its answer
// if it is sent before the work is done; the work's own write shows up
// afterwards.
func TestNginx_WorkersWaitUntilAfterResponse(t *testing.T) {
	t.Parallel()
	apps := t.TempDir()
	code := `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/bg/start") {
      ctx.waitUntil(new Promise((resolve) => {
        const iv = setInterval(async () => {
          if (await env.KV.get("go")) {
            clearInterval(iv);
            await env.KV.put("done", "after " + (await env.KV.get("go")));
            resolve();
          }
        }, 20);
      }));
      return new Response("started");
    }
    if (url.pathname === "/bg/go") { await env.KV.put("go", "go"); return new Response("ok"); }
    const waited = await new Promise((r) => setTimeout(() => r("slept"), 30));
    return Response.json({ done: await env.KV.get("done"), waited });
  },
};`
	if err := os.WriteFile(filepath.Join(apps, "bg.mjs"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("workers = 2\ntimeout = \"120s\"\ndata_dir = %q\n", t.TempDir())
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
	n := testutil.StartNginx(t, h, nginxRoot)

	// The first client keeps its connection open and sends nothing more
	// on it: nginx holds a connection whose FastCGI request is still
	// running (README.md "Coming from Workers / Node").
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := conn.Write([]byte("GET /bg/start HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(body) != "started" {
		t.Fatalf("start: %d %q %v", resp.StatusCode, body, err)
	}
	if r := testutil.Get(t, n.URL+"/bg/status"); r.Body != `{"done":null,"waited":"slept"}` {
		t.Errorf("status before go: %d %q", r.StatusCode, r.Body)
	}
	if r := testutil.Get(t, n.URL+"/bg/go"); r.Body != "ok" {
		t.Fatalf("go: %d %q", r.StatusCode, r.Body)
	}
	testutil.Eventually(t, 60*time.Second, "the waitUntil work's KV write", func() bool {
		return testutil.Get(t, n.URL+"/bg/status").Body == `{"done":"after go","waited":"slept"}`
	})
}

// A ReadableStream body is streamed to the client as its chunks come: the
// second chunk waits for a KV flag that only a later request sets, so the
// client can only read the first one if it went out on its own.
func TestNginx_WorkersStreamedBody(t *testing.T) {
	t.Parallel()
	apps := t.TempDir()
	code := `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/st/go") { await env.KV.put("go", "1"); return new Response("ok"); }
    const enc = new TextEncoder();
    let step = 0;
    return new Response(new ReadableStream({
      async pull(c) {
        step++;
        if (step === 1) { c.enqueue(enc.encode("first;")); return; }
        if (step === 2) {
          await new Promise((resolve) => {
            const iv = setInterval(async () => { if (await env.KV.get("go")) { clearInterval(iv); resolve(); } }, 20);
          });
          c.enqueue(enc.encode("second;"));
          return;
        }
        c.close();
      },
    }), { headers: { "content-type": "text/plain" } });
  },
};`
	if err := os.WriteFile(filepath.Join(apps, "st.mjs"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("workers = 2\ntimeout = \"120s\"\ndata_dir = %q\n", t.TempDir())
	h := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true, Config: cfg})
	n := testutil.StartNginx(t, h, nginxRoot)

	c := &http.Client{Timeout: 90 * time.Second}
	resp, err := c.Get(n.URL + "/st/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(br, first); err != nil || string(first) != "first;" {
		t.Fatalf("first chunk: %q %v", first, err)
	}
	if r := testutil.Get(t, n.URL+"/st/go"); r.Body != "ok" {
		t.Fatalf("go: %d %q", r.StatusCode, r.Body)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second;" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("rest %q %v, head %v", rest, err, resp.Header)
	}
}
