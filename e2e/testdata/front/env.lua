-- env.lua — reports what the front end sent, so the deployment tests in
-- e2e/frontends_test.go can compare it with what each server should send.
-- GET …/env.lua/throw?token=T raises an error, to put T in the server's
-- error log.
return function(req, res)
  if req.path == "/throw" then
    error("deliberate failure " .. (req.query.token or ""))
  end
  local p = req.params
  res:header("X-Engine", "lua")
  res:json({
    engine = "lua",
    method = req.method,
    path = req.path,
    x = req.query.x or "",
    body = req.body,
    script_name = p.SCRIPT_NAME or "",
    path_info = p.PATH_INFO or "",
    script_filename = p.SCRIPT_FILENAME or "",
    request_uri = p.REQUEST_URI or "",
    document_root = p.DOCUMENT_ROOT or "",
    auth_via = p.AUTH_VIA or "",
    remote_user = p.REMOTE_USER or "",
    role = p.FCGI_ROLE or "",
  })
end
