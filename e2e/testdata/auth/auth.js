// auth.js — a FastCGI Authorizer (docs/deploy/README.md): the front end asks it before
// serving anything under the protected folder. 200 lets the request through
// and every "Variable-NAME: value" header becomes NAME in the environment of
// the protected request; any other status is what the client gets.
// Allowed: the user alice (HTTP authentication done by the front end), or a
// request carrying "X-Token: open-sesame".
module.exports = function (req, res) {
  const user = req.params.REMOTE_USER || "";
  if (user === "alice" || req.headers["x-token"] === "open-sesame") {
    res.header("Variable-AUTH_VIA", "auth.js:" + (user || "token"));
    return "";
  }
  res.status(403);
  res.header("Content-Type", "text/plain");
  return "denied by auth.js\n";
};
