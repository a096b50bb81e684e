-- auth.lua — a FastCGI Authorizer (docs/deploy/README.md): the front end asks it before
-- serving anything under the protected folder. 200 lets the request through
-- and every "Variable-NAME: value" header becomes NAME in the environment of
-- the protected request; any other status is what the client gets.
-- Allowed: the user alice (HTTP authentication done by the front end), or a
-- request carrying "X-Token: open-sesame".
return function(req, res)
  local user = req.params.REMOTE_USER or ""
  if user == "alice" or req.headers["x-token"] == "open-sesame" then
    res:header("Variable-AUTH_VIA", "auth.lua:" .. (user ~= "" and user or "token"))
    return ""
  end
  res:status(403)
  res:header("Content-Type", "text/plain")
  return "denied by auth.lua\n"
end
