// apps/cgi-env.js — a CGI-style script: it exports no handler, so the whole
// file runs on every request with fresh globals, and prints a CGI
// response. The same file runs under `fcgihost run` (Apache mod_cgi).
const body = stdin.read();
print("Content-Type: text/plain");
print("X-Style: cgi");
print("");
print("method=" + env.REQUEST_METHOD);
print("query=" + (env.QUERY_STRING || ""));
print("body=" + body);
print("body_bytes=" + body.length);
