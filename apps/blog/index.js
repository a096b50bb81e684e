// apps/blog — a folder app: index.js requires its modules, and the page is
// rendered by a small template module. Links are built on req.base, the
// path the app is mounted at ("/blog", or "/app/blog" under a prefix), so
// they stay inside the app behind any front end.
const posts = require("./lib/posts");
const render = require("./lib/template");

module.exports = function (req, res) {
  const slug = req.path.replace(/^\/+|\/+$/g, "");
  if (slug === "") {
    return render("list", { title: "Blog", posts: posts.all(), base: req.base });
  }
  const post = posts.find(slug);
  if (!post) {
    res.status(404);
    return render("missing", { title: "Not found", slug, base: req.base });
  }
  return render("post", Object.assign({ base: req.base }, post));
};
