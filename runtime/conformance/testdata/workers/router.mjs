// Routing on new URL(request.url): a path table, a parameter, the query,
// the method, 404 and 405.
const routes = [
  ["GET", /^\/$/, () => new Response("home")],
  ["GET", /^\/users\/(\d+)$/, (url, m) => Response.json({ id: Number(m[1]), fields: url.searchParams.getAll("f") })],
  ["GET", /^\/search$/, (url) => {
    const q = url.searchParams.get("q") ?? "";
    return new Response(`q=${q} page=${url.searchParams.get("page") ?? 1} keys=${[...url.searchParams.keys()].join(",")}`);
  }],
  ["GET", /^\/url$/, (url) => Response.json({
    href: url.href, origin: url.origin, host: url.host, hostname: url.hostname, port: url.port,
    pathname: url.pathname, search: url.search, hash: url.hash, protocol: url.protocol,
    parent: new URL("..", url).href, sibling: new URL("./x?y=1#z", url).href,
  })],
];

export default {
  async fetch(request) {
    const url = new URL(request.url);
    let allowed = [];
    for (const [method, re, handler] of routes) {
      const m = url.pathname.match(re);
      if (!m) continue;
      if (method !== request.method) { allowed.push(method); continue; }
      return handler(url, m);
    }
    if (allowed.length) return new Response("method not allowed", { status: 405, headers: { allow: allowed.join(", ") } });
    return new Response("not found: " + url.pathname, { status: 404 });
  },
};
