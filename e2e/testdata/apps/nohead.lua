-- nohead.lua — a broken CGI script: prints a body with no header block.
print("just a body, no headers")
