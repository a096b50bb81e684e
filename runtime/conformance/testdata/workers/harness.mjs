// Runs a Workers-style app under node (20+, which has Request, Response,
// URL and Headers as globals) for the conformance test in
// ../../workers_node_test.go: node harness.mjs APP.mjs prints, for each
// request of APP.requests.json, what the app's fetch handler answers, in
// the format the test compares (see format below). A thrown error or a
// rejected promise is a 500 with an empty body, as the test expects of
// every runtime (fcgihost logs the error and answers 500).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const appFile = process.argv[2];
const name = appFile.replace(/\.mjs$/, "");
const requests = JSON.parse(readFileSync(name + ".requests.json", "utf8"));
const env = JSON.parse(readFileSync("env.json", "utf8"));
const app = (await import(pathToFileURL(resolve(appFile)).href)).default;

// format: "status N", the headers sorted by name (lower-case, one line per
// value, Set-Cookie in order), a blank line, the body, a line "---".
function format(status, headers, body) {
  const lines = [];
  const names = [...new Set([...headers.keys()])].sort();
  for (const n of names) {
    if (n === "set-cookie") for (const c of headers.getSetCookie()) lines.push("set-cookie: " + c);
    else lines.push(n + ": " + headers.get(n));
  }
  return "status " + status + "\n" + lines.join("\n") + (lines.length ? "\n" : "") + "\n" + body + "\n---\n";
}

let out = "";
for (const r of requests) {
  const init = { method: r.method || "GET", headers: r.headers || {} };
  if (r.body !== undefined) init.body = r.body;
  const request = new Request(r.url, init);
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  out += "=== " + (r.method || "GET") + " " + r.url + "\n";
  try {
    const res = await app.fetch(request, env, ctx);
    const body = res.body === null ? "" : await res.text();
    out += format(res.status, res.headers, body);
  } catch (e) {
    out += format(500, new Headers(), "");
  }
}
process.stdout.write(out);
