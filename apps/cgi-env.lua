-- apps/cgi-env.lua — a CGI-style script: it returns no handler, so the
-- whole file runs on every request with fresh globals, and prints a CGI
-- response. The same file runs under `fcgihost run` (Apache mod_cgi).
local body = io.read("a") or ""
print("Content-Type: text/plain")
print("X-Style: cgi")
print("")
print("method=" .. (os.getenv("REQUEST_METHOD") or ""))
print("query=" .. (os.getenv("QUERY_STRING") or ""))
print("body=" .. body)
print("body_bytes=" .. #body)
