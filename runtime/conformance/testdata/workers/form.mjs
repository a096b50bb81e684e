// Forms: an application/x-www-form-urlencoded body read through
// URLSearchParams, and a URLSearchParams body sent back.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/echo") {
      const form = new URLSearchParams(await request.text());
      const out = new URLSearchParams();
      for (const [k, v] of form) out.append(k.toUpperCase(), v);
      out.sort();
      return new Response(out);
    }
    const form = new URLSearchParams(await request.text());
    return Response.json({
      name: form.get("name"), tags: form.getAll("tag"), missing: form.get("nope"),
      has: form.has("tag", "b"), size: form.size, serialized: form.toString(),
      type: request.headers.get("content-type"),
    });
  },
};
