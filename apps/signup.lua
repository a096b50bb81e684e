-- apps/signup.lua — a form with validation, in Lua: one set of rules for
-- a browser's form and for a JSON client.
--
--   GET  /signup   → the HTML form
--   POST /signup   → urlencoded or multipart form, or JSON:
--                    201 {"ok":true,"user":...} or 422 {"errors":{...}}
--
-- A user name is taken atomically in kv (kv.cas from absent to the
-- record), so two VMs — or two hosts on one Redis — never both accept it.

local function validate(input)
  local errors, n = {}, 0
  local user = tostring(input.user or ""):match("^%s*(.-)%s*$")
  local age = tonumber(input.age)
  if user == "" then errors.user = "is required"; n = n + 1
  elseif #user > 40 then errors.user = "is longer than 40 characters"; n = n + 1
  elseif not user:match("^[%w_]+$") then errors.user = "may hold only letters, digits and _"; n = n + 1 end
  if not age or age < 13 or age > 150 or age % 1 ~= 0 then
    errors.age = "must be a whole number from 13 to 150"; n = n + 1
  end
  return { user = user, age = age }, errors, n
end

local function form(root)
  return [[<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign up</title><link rel="stylesheet" href="]] .. root .. [[/assets/style.css"></head>
<body><main><h1>Sign up</h1>
<form method="post">
<label>User name <input name="user" maxlength="40" pattern="[A-Za-z0-9_]+" required></label>
<label>Age <input name="age" type="number" min="13" max="150" required></label>
<button>Sign up</button>
</form>
<p class="muted">The same rules answer a JSON client: POST {"user": …, "age": …}.</p>
</main></body></html>
]]
end

return function(req, res)
  if req.method == "GET" then
    local root = req.base:gsub("/[^/]*$", ""):gsub("[&<>\"']", "")
    return form(root)
  end
  if req.method ~= "POST" then
    res:status(405):header("Allow", "GET, POST")
    return res:json({ error = "method not allowed" })
  end
  local input
  if (req.headers["content-type"] or ""):find("^application/json") then
    input = req:json()
  else
    input = req:form()
  end
  local value, errors, n = validate(input or {})
  if n == 0 and not kv.cas("user:" .. value.user, nil, json.encode(value)) then
    errors.user = "is taken"; n = n + 1
  end
  if n > 0 then
    res:status(422)
    return res:json({ errors = errors })
  end
  res:status(201)
  res:json({ ok = true, user = value })
end
