// echo.js — answers with a JSON description of the request, so the tests
// can compare what the script saw with what the client sent.
let hits = 0;
module.exports = function (req, res) {
  hits++;
  const p = req.path;
  if (p.startsWith("/status/")) {
    res.status(Number(p.slice(8)));
    return "status " + p.slice(8);
  }
  if (p === "/redirect") return res.redirect("/echo.js/target");
  if (p === "/redirect301") return res.redirect("/x", 301);
  if (p === "/cookie") {
    res.cookie("a", "1", { path: "/", httpOnly: true, maxAge: 60 });
    res.cookie("b", "2", { sameSite: "Lax", secure: true });
    res.addHeader("X-Multi", "one");
    res.addHeader("X-Multi", "two");
    return "cookies set";
  }
  if (p === "/throw") throw new Error("deliberate failure");
  if (p === "/bytes") {
    const b = req.bytes();
    res.header("Content-Type", "application/octet-stream");
    res.write(b);
    return;
  }
  if (p === "/hits") return "hits=" + hits;
  const out = {
    method: req.method, path: p, uri: req.uri, query: req.query,
    k: req.queryAll("k"), headers: req.headers, cookies: req.cookies,
    remote: req.remoteAddr, body_len: req.body.length,
    body_sha256: crypto.sha256(req.body), hits,
  };
  const ct = req.headers["content-type"] || "";
  if (ct.startsWith("application/json")) out.json = req.json();
  if (ct.startsWith("application/x-www-form-urlencoded") || ct.startsWith("multipart/form-data")) {
    out.form = req.form();
    const files = req.files();
    out.files = {};
    for (const k in files) {
      const f = files[k];
      out.files[k] = { filename: f.filename, type: f.type, size: f.size, first: f.data.length > 0 ? f.data[0] : -1 };
    }
  }
  return out;
};
