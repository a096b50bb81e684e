// Repeated Set-Cookie: Headers.append keeps each, getSetCookie lists them,
// and the request's Cookie header is read.
export default {
  async fetch(request) {
    const headers = new Headers({ "content-type": "text/plain" });
    headers.append("Set-Cookie", "session=abc123; Path=/; HttpOnly");
    headers.append("Set-Cookie", "theme=dark; Max-Age=3600");
    headers.append("set-cookie", "lang=en, fr; Path=/");
    const res = new Response("cookie header: " + (request.headers.get("cookie") ?? "none") + "\nset: " + headers.getSetCookie().length, { headers });
    res.headers.append("Set-Cookie", "late=1");
    return res;
  },
};
