// The posts of the blog app (a module: compiled once per app version,
// loaded once per VM).
const posts = [
  { slug: "hello", title: "Hello, FastCGI", body: "One process, many requests." },
  { slug: "reload", title: "Save and reload", body: "Edit a file; the next request sees it." },
];

exports.all = () => posts;
exports.find = (slug) => posts.find((p) => p.slug === slug);
