// JSON in and out: request.json(), Response.json with status and headers,
// a malformed body answered 400.
export default {
  async fetch(request) {
    if (request.method !== "POST") return Response.json({ error: "POST only" }, { status: 405 });
    let data;
    try {
      data = await request.json();
    } catch (e) {
      return Response.json({ error: "bad json" }, { status: 400 });
    }
    const items = Array.isArray(data.items) ? data.items : [];
    const total = items.reduce((s, i) => s + i.price * (i.qty ?? 1), 0);
    return Response.json(
      { customer: data.customer, count: items.length, total, names: items.map((i) => i.name).sort(), nested: { ok: true, none: null }, unicode: data.note },
      { status: 201, headers: { "x-order": "accepted" } },
    );
  },
};
