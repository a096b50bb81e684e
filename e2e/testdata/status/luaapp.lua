-- luaapp.lua — drives the status counters in e2e/status_test.go.
local function spin(n)
  local x = 0
  for i = 1, n do x = x + i % 7 end -- line 4: the slow log names it
  return x
end
return function(req, res)
  local p = req.path
  if p == "/throw" then error("deliberate failure") end
  if p == "/loop" then while true do end end
  local code = p:match("^/status/(%d+)$")
  if code then res:status(tonumber(code)); return "status" end
  if p == "/slow" then return "spun " .. spin(tonumber(req.query.n or "1000")) end
  return "ok"
end
