-- apps/guestbook.lua — the guestbook of apps/guestbook.js in Lua. Both files
-- sit in one apps dir, so this one is reached as /guestbook.lua and keeps
-- its own entries (each app has its own kv namespace).
--
--   GET  /guestbook.lua              → the form and the newest entries (HTML)
--   GET  /guestbook.lua?format=json  → {"total": n, "entries": [{id, name, message, time}, …]}
--   POST /guestbook.lua              → form fields name and message: 303 back
--                                      to the page, or 422 with the form and
--                                      the errors; a JSON body gets 201 or 422 JSON
--
-- Storage: kv.incr("seq") hands out ids (atomic across VMs and hosts); each
-- entry is one key "entry:" .. (1e12 - id), zero-padded, holding JSON, so
-- the sorted kv.list("entry:") starts with the newest; "count" counts the
-- entries stored.
local PAGE = 50
local MAX_NAME = 60
local MAX_MESSAGE = 1000
local SPAN = 1e12

local function entry_key(id)
  return string.format("entry:%012d", SPAN - id)
end

local escapes = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function escape_html(s)
  return (tostring(s):gsub("[&<>\"']", escapes))
end

local function trim(s)
  return (tostring(s or ""):match("^%s*(.-)%s*$"))
end

-- utf8_len counts characters, not bytes, like the JS version's length
-- (close enough: JS counts UTF-16 units).
local function utf8_len(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function validate(input)
  local entry = { name = trim(input.name), message = trim(input.message) }
  local errors, n = {}, 0
  if entry.name == "" then errors.name = "is required"; n = n + 1
  elseif utf8_len(entry.name) > MAX_NAME then errors.name = "is longer than " .. MAX_NAME .. " characters"; n = n + 1 end
  if entry.message == "" then errors.message = "is required"; n = n + 1
  elseif utf8_len(entry.message) > MAX_MESSAGE then errors.message = "is longer than " .. MAX_MESSAGE .. " characters"; n = n + 1 end
  return entry, errors, n
end

local function recent()
  local entries = {}
  for _, key in ipairs(kv.list("entry:", { limit = PAGE })) do
    local v = kv.get(key)
    if v then entries[#entries + 1] = json.decode(v) end
  end
  return entries
end

local function total()
  return tonumber(kv.get("count") or "0")
end

-- root is where the apps are mounted: req.base without this app's name
-- ("" at the URL root, "/app" under a prefix); the stylesheet is there.
local function page(root, entries, form, errors)
  local function err(f)
    if not errors[f] then return "" end
    return ' <em class="error">' .. escape_html(f .. " " .. errors[f]) .. "</em>"
  end
  local items = {}
  for i, e in ipairs(entries) do
    items[i] = '<li><p class="message">' .. escape_html(e.message) .. '</p>\n  <p class="by">— '
      .. escape_html(e.name) .. ', <time datetime="' .. escape_html(e.time) .. '">'
      .. escape_html(e.time:sub(1, 16):gsub("T", " ")) .. "</time></p></li>"
  end
  local n = total()
  return table.concat({ [[<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Guestbook</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="]], escape_html(root), [[/assets/style.css">
</head><body>
<main>
<h1>Guestbook</h1>
<form method="post">
<label>Name]], err("name"), '<input name="name" maxlength="', MAX_NAME, '" value="', escape_html(form.name or ""), [[" required></label>
<label>Message]], err("message"), '<textarea name="message" rows="4" maxlength="', MAX_MESSAGE, '" required>',
    escape_html(form.message or ""), [[</textarea></label>
<button>Sign the guestbook</button>
</form>
<h2>]], n, n == 1 and " entry" or " entries", [[</h2>
<ol class="list entries">
]], table.concat(items, "\n"), [[

</ol>
</main>
</body></html>
]] })
end

return function(req, res)
  local wants_json = req.query.format == "json"
    or (req.headers["content-type"] or ""):find("^application/json") ~= nil
  if req.method == "GET" or req.method == "HEAD" then
    if wants_json then
      return res:json({ total = total(), entries = json.array(recent()) })
    end
    return page((req.base:gsub("/[^/]*$", "")), recent(), {}, {})
  end
  if req.method ~= "POST" then
    res:status(405):header("Allow", "GET, HEAD, POST")
    return res:json({ error = "method not allowed" })
  end
  local input
  if wants_json then input = req:json() else input = req:form() end
  if type(input) ~= "table" then input = {} end
  local entry, errors, n = validate(input)
  if n > 0 then
    res:status(422)
    if wants_json then return res:json({ errors = errors }) end
    return page((req.base:gsub("/[^/]*$", "")), recent(), entry, errors)
  end
  entry.id = kv.incr("seq")
  entry.time = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
  kv.set(entry_key(entry.id), json.encode(entry))
  kv.incr("count")
  log("guestbook: entry", entry.id, "by", entry.name)
  if wants_json then
    res:status(201)
    return res:json(entry)
  end
  res:redirect((req.uri:gsub("%?.*$", "")), 303)
end
