-- apps/signup.lua — a form with validation, in Lua.
--
--   GET  /signup   → the HTML form
--   POST /signup   → urlencoded or multipart form, or JSON:
--                    201 {"ok":true,"user":...} or 422 {"errors":{...}}
local users = {}

local function validate(input)
  local errors, n = {}, 0
  local user = tostring(input.user or ""):match("^%s*(.-)%s*$")
  local age = tonumber(input.age)
  if user == "" then errors.user = "is required"; n = n + 1
  elseif not user:match("^[%w_]+$") then errors.user = "may hold only letters, digits and _"; n = n + 1
  elseif users[user] then errors.user = "is taken"; n = n + 1 end
  if not age or age < 13 or age > 150 or age % 1 ~= 0 then
    errors.age = "must be a whole number from 13 to 150"; n = n + 1
  end
  return { user = user, age = age }, errors, n
end

local form = [[<!doctype html>
<form method="post"><input name="user"> <input name="age"> <button>Sign up</button></form>
]]

return function(req, res)
  if req.method == "GET" then
    return form
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
  if n > 0 then
    res:status(422)
    return res:json({ errors = errors })
  end
  users[value.user] = true
  res:status(201)
  res:json({ ok = true, user = value })
end
