// A tiny template module: escape and render pages. Every link is built on
// base (req.base), so it stays inside the app behind any front end; the
// stylesheet is the assets app's, next to this app (root: base without
// "/blog").
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

const pages = {
  list: (d) => `<ul class="list">` + d.posts.map((p) => `<li><a href="${esc(d.base)}/${esc(p.slug)}">${esc(p.title)}</a></li>`).join("") + `</ul>`,
  post: (d) => `<article><h2>${esc(d.title)}</h2><p>${esc(d.body)}</p></article><p><a href="${esc(d.base)}/">All posts</a></p>`,
  missing: (d) => `<p>No post called ${esc(d.slug)}. <a href="${esc(d.base)}/">All posts</a></p>`,
};

module.exports = function render(page, data) {
  const root = String(data.base).replace(/\/[^/]*$/, "");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title><link rel="stylesheet" href="${esc(root)}/assets/style.css"></head>
<body><header class="site"><nav><a href="${esc(data.base)}/">Blog</a></nav></header>
<main><h1>${esc(data.title)}</h1>` + pages[page](data) + `</main></body></html>`;
};
