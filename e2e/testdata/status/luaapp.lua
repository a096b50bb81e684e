-- luaapp.lua — drives the status counters in e2e/status_test.go.
local function spin(ms)
  local x, stop = 0, os.clock() + ms / 1000
  while os.clock() < stop do x = x + 1 end -- line 4: the slow log names it
  return x
end
return function(req, res)
  local p = req.path
  if p == "/throw" then error("deliberate failure") end
  if p == "/loop" then while true do end end
  local code = p:match("^/status/(%d+)$")
  if code then res:status(tonumber(code)); return "status" end
  if p == "/slow" then return "spun " .. spin(tonumber(req.query.ms or "1")) end
  return "ok"
end
