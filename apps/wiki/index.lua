-- apps/wiki — a Lua folder app: require loads render.lua from this folder.
local render = require("render")
local pages = {
  home = "Welcome to the *wiki*.",
  lua = "Lua apps return a handler function.",
}

return function(req, res)
  local name = req.path:match("^/([%w_-]*)") or ""
  if name == "" then name = "home" end
  local text = pages[name]
  if not text then
    res:status(404)
    return render.page("Not found", "No page called " .. name .. ".")
  end
  return render.page(name, text)
end
