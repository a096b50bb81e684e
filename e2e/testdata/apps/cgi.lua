-- cgi.lua — CGI style: returns no handler; runs whole per request with
-- fresh globals (so counter is always 1).
counter = (counter or 0) + 1
local body = io.read("a")
print("Status: 201 Created")
print("Content-Type: text/plain")
print("X-Counter: " .. counter)
print("")
io.write("method=", os.getenv("REQUEST_METHOD"), "\n")
io.write("query=", os.getenv("QUERY_STRING"), "\n")
io.write("body=", body, "\n")
