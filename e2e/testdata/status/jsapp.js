// jsapp.js — drives the status counters in e2e/status_test.go.
function spin(n) {
  let x = 0;
  for (let i = 0; i < n; i++) { x += "ab".concat(i % 7).length; } // line 4: the slow log names it (a JS stack is taken at a built-in call)
  return x;
}
module.exports = function (req, res) {
  const p = req.path;
  if (p === "/throw") throw new Error("deliberate failure");
  if (p === "/loop") { for (;;) {} }
  if (p.startsWith("/status/")) { res.status(Number(p.slice(8))); return "status"; }
  if (p === "/slow") return "spun " + spin(Number(req.query.n || "1000"));
  return "ok";
};
