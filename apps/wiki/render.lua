-- render.lua — a module of the wiki app: HTML escaping and the page layout.
-- *text* is emphasis, [name] a link to the page name under base (req.base);
-- the stylesheet is the assets app's, next to this app.
local M = {}

function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

function M.page(base, title, text)
  local body = M.escape(text):gsub("%*(.-)%*", "<em>%1</em>")
  body = body:gsub("%[([%w_-]+)%]", function(name)
    return '<a href="' .. M.escape(base) .. "/" .. name .. '">' .. name .. "</a>"
  end)
  local root = base:gsub("/[^/]*$", "")
  return '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    .. '<meta name="viewport" content="width=device-width, initial-scale=1">'
    .. "<title>" .. M.escape(title) .. "</title>"
    .. '<link rel="stylesheet" href="' .. M.escape(root) .. '/assets/style.css"></head>'
    .. '<body><header class="site"><nav><a href="' .. M.escape(base) .. '/">Wiki home</a></nav></header>'
    .. "<main><h1>" .. M.escape(title) .. "</h1><article><p>" .. body .. "</p></article></main></body></html>"
end

return M
