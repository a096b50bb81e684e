// env vars: the app's variables reach fetch as env.KEY.
export default {
  async fetch(request, env) {
    const api = new URL("items?limit=10", env.API_URL);
    return new Response(`${env.GREETING}, world. api=${api.href} missing=${env.NOPE === undefined}`);
  },
};
