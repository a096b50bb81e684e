// apps/guestbook.js — a guestbook whose entries live in kv, so they are
// shared by every VM and survive a restart (apps/guestbook.lua is the same
// app in Lua).
//
//   GET  /guestbook              → the form and the newest entries (HTML)
//   GET  /guestbook?format=json  → {"total": n, "entries": [{id, name, message, time}, …]}
//   POST /guestbook              → form fields name and message: 303 back to
//                                  the page, or 422 with the form and the errors;
//                                  a JSON body {"name", "message"} gets 201 or 422 JSON
//
// Storage: kv.incr("seq") hands out ids (atomic across VMs and hosts); each
// entry is one key "entry:" + (1e12 - id), zero-padded, holding JSON, so the
// sorted kv.list("entry:") starts with the newest; "count" counts the entries
// stored (an entry refused by the app's kv quota uses up its id, not a count).
const PAGE = 50;
const MAX_NAME = 60;
const MAX_MESSAGE = 1000;
const SPAN = 1e12;

function entryKey(id) {
  return "entry:" + String(SPAN - id).padStart(12, "0");
}

function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function validate(input) {
  const name = String(input.name || "").trim();
  const message = String(input.message || "").trim();
  const errors = {};
  if (!name) errors.name = "is required";
  else if (name.length > MAX_NAME) errors.name = "is longer than " + MAX_NAME + " characters";
  if (!message) errors.message = "is required";
  else if (message.length > MAX_MESSAGE) errors.message = "is longer than " + MAX_MESSAGE + " characters";
  return { entry: { name, message }, errors };
}

function recent() {
  const entries = [];
  for (const key of kv.list("entry:", { limit: PAGE })) {
    const v = kv.get(key);
    if (v !== null) entries.push(JSON.parse(v));
  }
  return entries;
}

// rootOf is where the apps are mounted: req.base without this app's name
// ("" at the URL root, "/app" under a prefix); the stylesheet is there.
function rootOf(req) {
  return req.base.replace(/\/[^/]*$/, "");
}

function total() {
  return Number(kv.get("count") || 0);
}

function page(root, entries, form, errors) {
  const n = total();
  const err = (f) => (errors[f] ? ` <em class="error">${escapeHTML(f + " " + errors[f])}</em>` : "");
  const items = entries.map((e) => `<li><p class="message">${escapeHTML(e.message)}</p>
  <p class="by">— ${escapeHTML(e.name)}, <time datetime="${escapeHTML(e.time)}">${escapeHTML(e.time.slice(0, 16).replace("T", " "))}</time></p></li>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Guestbook</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${escapeHTML(root)}/assets/style.css">
</head><body>
<main>
<h1>Guestbook</h1>
<form method="post">
<label>Name${err("name")}<input name="name" maxlength="${MAX_NAME}" value="${escapeHTML(form.name || "")}" required></label>
<label>Message${err("message")}<textarea name="message" rows="4" maxlength="${MAX_MESSAGE}" required>${escapeHTML(form.message || "")}</textarea></label>
<button>Sign the guestbook</button>
</form>
<h2>${n} ${n === 1 ? "entry" : "entries"}</h2>
<ol class="list entries">
${items.join("\n")}
</ol>
</main>
</body></html>
`;
}

module.exports = function (req, res) {
  const wantsJSON = req.query.format === "json" ||
    (req.headers["content-type"] || "").startsWith("application/json");
  if (req.method === "GET" || req.method === "HEAD") {
    if (wantsJSON) return { total: total(), entries: recent() };
    return page(rootOf(req), recent(), {}, {});
  }
  if (req.method !== "POST") {
    return res.status(405).header("Allow", "GET, HEAD, POST").json({ error: "method not allowed" });
  }
  const input = wantsJSON ? req.json() || {} : req.form();
  const { entry, errors } = validate(input);
  if (Object.keys(errors).length > 0) {
    res.status(422);
    return wantsJSON ? res.json({ errors }) : page(rootOf(req), recent(), entry, errors);
  }
  entry.id = kv.incr("seq");
  entry.time = new Date().toISOString();
  kv.set(entryKey(entry.id), JSON.stringify(entry));
  kv.incr("count");
  log("guestbook: entry", entry.id, "by", entry.name);
  if (wantsJSON) return res.status(201).json(entry);
  res.redirect(req.uri.split("?")[0], 303);
};
