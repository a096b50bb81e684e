// jsapp.js — drives the status counters in e2e/status_test.go.
function spin(ms) {
  let x = 0, end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) { x += "ab".concat(i % 7).length; } // line 4: the slow log names it (a JS stack is taken at a built-in call)
  return x;
}
module.exports = function (req, res) {
  const p = req.path;
  if (p === "/throw") throw new Error("deliberate failure");
  if (p === "/loop") { for (;;) {} }
  if (p.startsWith("/status/")) { res.status(Number(p.slice(8))); return "status"; }
  if (p === "/slow") return "spun " + spin(Number(req.query.ms || "1"));
  return "ok";
};
