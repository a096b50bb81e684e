-- apps/wiki — a Lua folder app: require loads render.lua from this folder.
-- Links between pages are built on req.base, the path the app is mounted
-- at ("/wiki", or "/app/wiki" under a prefix).
local render = require("render")
local pages = {
  home = "Welcome to the *wiki*. See [lua].",
  lua = "Lua apps return a handler function. Back [home].",
}

return function(req, res)
  local name = req.path:match("^/([%w_-]*)") or ""
  if name == "" then name = "home" end
  local text = pages[name]
  if not text then
    res:status(404)
    return render.page(req.base, "Not found", "No page called " .. name .. ". Go [home].")
  end
  return render.page(req.base, name, text)
end
