// apps/assets.js — the bundled apps' shared stylesheet, served by an app:
// a static asset with caching done right.
//
//   GET /assets/style.css   → text/css with an ETag and
//                             Cache-Control: public, max-age=3600;
//                             If-None-Match with that ETag → 304, no body
//
// The stylesheet is a string compiled into the app, so its ETag (a hash of
// the content) is computed once per VM, and a changed file gets a new one
// on reload. The other apps link it as ROOT + "/assets/style.css", ROOT
// being their req.base without their own name ("" at the URL root, "/app"
// under a prefix).
const CSS = `:root{--fg:#1d232b;--muted:#5d6875;--line:#dfe3e8;--bg:#f6f7f9;--card:#fff;--accent:#2a6db0;--bad:#b3261e}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:42rem;margin:0 auto;padding:1.5rem 1rem 3rem}
header.site{border-bottom:1px solid var(--line);background:var(--card)}
header.site nav{max-width:42rem;margin:0 auto;padding:.6rem 1rem;display:flex;gap:1rem;flex-wrap:wrap}
header.site a{color:var(--muted);text-decoration:none}header.site a:hover{color:var(--accent)}
h1{font-size:1.7rem;line-height:1.2;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
a{color:var(--accent)}
article,form,.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem 1.2rem;margin:0 0 1rem}
ul.list,ol.list{list-style:none;padding:0;margin:0}ul.list li,ol.list li{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.7rem 1rem;margin:0 0 .5rem}
label{display:block;margin:0 0 .8rem;font-weight:600}
input,textarea{display:block;width:100%;font:inherit;margin-top:.25rem;padding:.45rem .6rem;border:1px solid var(--line);border-radius:6px}
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:6px;background:var(--accent);color:#fff;cursor:pointer}
.error{color:var(--bad);font-weight:normal}.muted,.by{color:var(--muted);font-size:.9rem}
em{font-style:italic;color:var(--accent)}
`;
const ETAG = '"' + crypto.sha256(CSS).slice(0, 16) + '"';

module.exports = function (req, res) {
  if (req.path === "/") {
    res.header("Content-Type", "text/plain; charset=utf-8");
    return "style.css\n";
  }
  if (req.path !== "/style.css") {
    res.status(404).header("Content-Type", "text/plain");
    return "no such asset\n";
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.status(405).header("Allow", "GET, HEAD");
    return "";
  }
  res.header("ETag", ETAG).header("Cache-Control", "public, max-age=3600");
  const inm = req.headers["if-none-match"] || "";
  if (inm.split(/\s*,\s*/).includes(ETAG) || inm === "*") {
    res.status(304);
    return;
  }
  res.header("Content-Type", "text/css; charset=utf-8");
  return CSS;
};
