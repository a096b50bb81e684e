// Errors: a thrown error and a rejected promise are a 500; an error caught
// by the app is its own answer.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/throw") throw new Error("boom");
    if (url.pathname === "/reject") return Promise.reject(new TypeError("nope"));
    if (url.pathname === "/later") { await null; null.x; }
    try {
      JSON.parse("{");
    } catch (e) {
      return new Response("caught " + e.name, { status: 422 });
    }
  },
};
