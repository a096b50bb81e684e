// apps/contacts.js — a small JSON API with a form and validation.
//
//   GET  /contacts            → {"contacts": [...]}
//   GET  /contacts/ID         → one contact, or 404
//   POST /contacts            → create from a JSON body or a form
//                               (urlencoded or multipart); 201, or 422 with
//                               {"errors": {"field": "message"}}
//   DELETE /contacts/ID       → 204
//
// The list lives in module state: it persists across requests in one VM
// and is not shared between VMs (run with workers = 1 to see one list; use
// kv for real storage).
const contacts = [];
let nextId = 1;

function validate(input) {
  const errors = {};
  const name = String(input.name || "").trim();
  const email = String(input.email || "").trim();
  if (name.length === 0) errors.name = "is required";
  else if (name.length > 100) errors.name = "is longer than 100 characters";
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) errors.email = "is not an email address";
  return { value: { name, email }, errors };
}

module.exports = function (req, res) {
  const id = req.path.split("/")[1];
  if (req.method === "GET" && !id) {
    return { contacts };
  }
  if (req.method === "GET") {
    const c = contacts.find((c) => String(c.id) === id);
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
    const c = { id: nextId++, name: value.name, email: value.email };
    contacts.push(c);
    res.status(201).header("Location", "/contacts/" + c.id);
    return res.json(c);
  }
  if (req.method === "DELETE" && id) {
    const i = contacts.findIndex((c) => String(c.id) === id);
    if (i < 0) return res.status(404).json({ error: "no such contact" });
    contacts.splice(i, 1);
    res.status(204);
    return;
  }
  res.status(405).header("Allow", "GET, POST, DELETE").json({ error: "method not allowed" });
};
