// env.js — reports what the front end sent, so the deployment tests in
// e2e/frontends_test.go can compare it with what each server should send.
// GET …/env.js/throw?token=T throws, to put T in the server's error log.
module.exports = function (req, res) {
  if (req.path === "/throw") {
    throw new Error("deliberate failure " + (req.query.token || ""));
  }
  const p = req.params;
  res.header("X-Engine", "js");
  return {
    engine: "js",
    method: req.method,
    path: req.path,
    x: req.query.x || "",
    body: req.body,
    script_name: p.SCRIPT_NAME || "",
    path_info: p.PATH_INFO || "",
    script_filename: p.SCRIPT_FILENAME || "",
    request_uri: p.REQUEST_URI || "",
    document_root: p.DOCUMENT_ROOT || "",
    auth_via: p.AUTH_VIA || "",
    remote_user: p.REMOTE_USER || "",
    role: p.FCGI_ROLE || "",
  };
};
