-- echo.lua — answers with a JSON description of the request, so the tests
-- can compare what the script saw with what the client sent.
local hits = 0
return function(req, res)
  hits = hits + 1
  local p = req.path
  local code = p:match("^/status/(%d+)$")
  if code then
    res:status(tonumber(code))
    return "status " .. code
  end
  if p == "/redirect" then return res:redirect("/echo.lua/target") end
  if p == "/redirect301" then return res:redirect("/x", 301) end
  if p == "/cookie" then
    res:cookie("a", "1", { path = "/", http_only = true, max_age = 60 })
    res:cookie("b", "2", { same_site = "Lax", secure = true })
    res:add_header("X-Multi", "one")
    res:add_header("X-Multi", "two")
    return "cookies set"
  end
  if p == "/throw" then error("deliberate failure") end
  if p == "/bytes" then
    res:header("Content-Type", "application/octet-stream")
    res:write(req.body)
    return
  end
  if p == "/hits" then return "hits=" .. hits end
  local out = {
    method = req.method, path = p, uri = req.uri, query = req.query,
    k = req:query_all("k"), headers = req.headers, cookies = req.cookies,
    remote = req.remote_addr, body_len = #req.body,
    body_sha256 = crypto.sha256(req.body), hits = hits,
  }
  local ct = req.headers["content-type"] or ""
  if ct:find("^application/json") then out.json = req:json() end
  if ct:find("^application/x%-www%-form%-urlencoded") or ct:find("^multipart/form%-data") then
    out.form = req:form()
    out.files = {}
    for k, f in pairs(req:files()) do
      out.files[k] = { filename = f.filename, type = f.type, size = f.size, first = #f.data > 0 and f.data:byte(1) or -1 }
    end
  end
  res:json(out)
end
