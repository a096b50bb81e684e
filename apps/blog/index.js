// apps/blog — a folder app: index.js requires its modules, and the page is
// rendered by a small template module.
const posts = require("./lib/posts");
const render = require("./lib/template");

module.exports = function (req, res) {
  const slug = req.path.replace(/^\/+|\/+$/g, "");
  if (slug === "") {
    return render("list", { title: "Blog", posts: posts.all() });
  }
  const post = posts.find(slug);
  if (!post) {
    res.status(404);
    return render("missing", { title: "Not found", slug });
  }
  return render("post", post);
};
