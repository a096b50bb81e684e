-- apps/hello.lua — top-level code runs once per VM
local hits = 0
return function(req, res)
  hits = hits + 1
  res:header("Content-Type", "text/plain")
  res:write("hello ", req.query.name or "world", " #", hits)
end
