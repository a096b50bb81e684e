-- render.lua — a module of the wiki app: HTML escaping and the page layout.
local M = {}

function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

function M.page(title, text)
  local body = M.escape(text):gsub("%*(.-)%*", "<em>%1</em>")
  return "<!doctype html><title>" .. M.escape(title) .. "</title><h1>" .. M.escape(title) .. "</h1><p>" .. body .. "</p>"
end

return M
