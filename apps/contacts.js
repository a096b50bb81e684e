// apps/contacts.js — a small JSON API with a form and validation, its data
// in kv (shared by every VM of the app, and by every host on one Redis;
// surviving a restart).
//
//   GET    /contacts/            → {"contacts": [...]}, oldest first
//   GET    /contacts/ID          → one contact, or 404
//   POST   /contacts/            → create from a JSON body or a form
//                                  (urlencoded or multipart): 201 with
//                                  Location: BASE/ID, or 422 with
//                                  {"errors": {"field": "message"}}
//   DELETE /contacts/ID          → 204, or 404
//
// Storage: kv.incr("seq") hands out ids, atomic across VMs and hosts (two
// POSTs get 1 and 2 whichever VM serves them); each contact is one key
// "contact:" + the id zero-padded to 12 digits, so kv.list sorts them by
// id. req.base is where the app is mounted ("/contacts", or
// "/app/contacts" under a prefix), so the Location is right behind any
// front end.
const LIST_MAX = 100;

function key(id) {
  return "contact:" + String(id).padStart(12, "0");
}

function validate(input) {
  const errors = {};
  const name = String(input.name || "").trim();
  const email = String(input.email || "").trim();
  if (name.length === 0) errors.name = "is required";
  else if (name.length > 100) errors.name = "is longer than 100 characters";
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) errors.email = "is not an email address";
  return { value: { name, email }, errors };
}

function load(id) {
  if (!/^[0-9]{1,12}$/.test(id)) return null;
  const v = kv.get(key(Number(id)));
  return v === null ? null : JSON.parse(v);
}

module.exports = function (req, res) {
  const id = req.path.split("/")[1];
  if (req.method === "GET" && !id) {
    const contacts = [];
    for (const k of kv.list("contact:", { limit: LIST_MAX })) {
      const v = kv.get(k);
      if (v !== null) contacts.push(JSON.parse(v));
    }
    return { contacts };
  }
  if (req.method === "GET") {
    const c = load(id);
    if (!c) return res.status(404).json({ error: "no such contact" });
    return c;
  }
  if (req.method === "POST" && !id) {
    const type = req.headers["content-type"] || "";
    const input = type.startsWith("application/json") ? req.json() : req.form();
    const { value, errors } = validate(input || {});
    if (Object.keys(errors).length > 0) {
      return res.status(422).json({ errors });
    }
    const c = { id: kv.incr("seq"), name: value.name, email: value.email };
    kv.set(key(c.id), JSON.stringify(c));
    res.status(201).header("Location", req.base + "/" + c.id);
    return res.json(c);
  }
  if (req.method === "DELETE" && id) {
    if (!load(id)) return res.status(404).json({ error: "no such contact" });
    kv.delete(key(Number(id)));
    res.status(204);
    return;
  }
  res.status(405).header("Allow", "GET, POST, DELETE").json({ error: "method not allowed" });
};
