// apps/hello.js — top-level code runs once per VM
let hits = 0;
module.exports = function (req, res) {
  hits++;
  res.header("Content-Type", "text/plain");
  res.write("hello " + (req.query.name || "world") + " #" + hits);
};
