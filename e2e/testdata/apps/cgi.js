// cgi.js — CGI style: no handler exported; runs whole per request with
// fresh globals (so `counter` is always 1).
var counter = (typeof counter === "undefined" ? 0 : counter) + 1;
const body = stdin.read();
print("Status: 201 Created");
print("Content-Type: text/plain");
print("X-Counter: " + counter);
print("");
write("method=" + env.REQUEST_METHOD + "\n");
write("query=" + env.QUERY_STRING + "\n");
write("body=" + body + "\n");
