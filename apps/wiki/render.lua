-- render.lua — a module of the wiki app: HTML escaping and the page layout.
-- *text* is emphasis, [name] a link to the page name under base.
local M = {}

function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

function M.page(base, title, text)
  local body = M.escape(text):gsub("%*(.-)%*", "<em>%1</em>")
  body = body:gsub("%[([%w_-]+)%]", function(name)
    return '<a href="' .. M.escape(base) .. "/" .. name .. '">' .. name .. "</a>"
  end)
  return "<!doctype html><title>" .. M.escape(title) .. "</title><h1>" .. M.escape(title) .. "</h1><p>" .. body .. "</p>"
end

return M
