// A tiny template module: escape and render pages.
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

const pages = {
  list: (d) => "<ul>" + d.posts.map((p) => `<li><a href="${esc(d.base)}/${esc(p.slug)}">${esc(p.title)}</a></li>`).join("") + "</ul>",
  post: (d) => `<article><h2>${esc(d.title)}</h2><p>${esc(d.body)}</p></article><p><a href="${esc(d.base)}/">All posts</a></p>`,
  missing: (d) => `<p>No post called ${esc(d.slug)}. <a href="${esc(d.base)}/">All posts</a></p>`,
};

module.exports = function render(page, data) {
  return `<!doctype html><title>${esc(data.title)}</title><h1>${esc(data.title)}</h1>` + pages[page](data);
};
