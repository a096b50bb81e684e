// Redirects: Response.redirect with a relative target resolved on the
// request URL, the default 302, a 301 and 307, and an invalid status.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/old":
        return Response.redirect(new URL("/new?from=old", url).href, 301);
      case "/login":
        return Response.redirect("https://auth.example/login?next=" + encodeURIComponent(url.href));
      case "/temp":
        return Response.redirect(new URL("../elsewhere/", url), 307);
      case "/norm":
        return Response.redirect("HTTP://Example.COM:80/a b/../c?x y#f", 308);
      case "/bad":
        try { Response.redirect("/x", 200); return new Response("no error"); } catch (e) { return new Response(e.name, { status: 400 }); }
    }
    return new Response("ok");
  },
};
