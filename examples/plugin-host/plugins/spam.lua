-- Refuses sign-ups from throwaway domains. Lua.
local store = require("host.store")

local blocked = { ["mailinator.com"] = true, ["example.org"] = true }

local M = {}

function M.onEvent(ev)
  if ev.type ~= "signup" then return nil end
  local domain = ev.email and ev.email:match("@(.+)$")
  if not domain then
    error("signup without a valid email")
  end
  if blocked[domain] then
    store.incr("blocked")
    return { action = "reject", reason = "throwaway domain " .. domain }
  end
  return { action = "accept" }
end

return M
