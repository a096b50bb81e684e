// Package lua is fcgihost's Lua engine: it compiles app scripts with
// gopher-lua (Lua 5.1) into FunctionProtos once per app version (a Bundle),
// instantiates sandboxed VMs (*lua.LState) from them, and binds the script
// API of docs/reference.md §3 (req, res, json, crypto, base64, kv, http, log,
// require, and the CGI-style env/io/print) to script.Request and
// script.Response.
//
// # Styles
//
// A script's style is decided at Compile, from the syntax tree, without
// running anything: if the main chunk's last top-level statement is a
// return with at least one expression, the script is handler style and the
// value it returns must be a function(req, res) or a table with a handle
// function (called as t.handle(req, res)); otherwise it is CGI style, and
// the whole chunk runs on every request in fresh globals, printing a CGI
// response (header lines, a blank line, the body).
//
// # Sandbox
//
// A VM opens only what is listed in testdata/globals_handler.txt and
// testdata/globals_cgi.txt (a test keeps the lists and the VMs in step):
// the Lua 5.1 base library without dofile, loadfile, load, loadstring
// (no code from strings or files other than through require),
// collectgarbage, getfenv, setfenv, newproxy and module; string, table
// and math; os with only time, date, clock, difftime and getenv (getenv
// reads the current request's FastCGI params, never the host
// environment, and is nil outside a request); no io (CGI style gets
// io.read and io.write on the request body and response only), no
// debug, no package, no coroutine, no channel. print writes to the
// response in CGI style and to the log (info) in handler style.
// getmetatable honours __metatable, and the metatables the engine hands
// out (strings, req, res, json.null) are protected.
//
// Call depth is bounded by the LState's call stack (Limits.MaxCallStack/4,
// 64 to 1000 frames) and its registry; every Lua-to-Go-to-Lua re-entry
// (pcall, metamethods, gsub callbacks, sort comparators) takes a frame, so
// runaway recursion always ends as a "stack overflow" script error and
// never as a Go stack overflow. Built-ins that could allocate or loop
// inside one native call are bounded before they start: string.rep,
// string.format (widths and precisions of at most two digits, as in C
// Lua), table.concat, string.gsub output, json.encode, and the pattern
// functions, which use this package's own matcher (recursion depth bounded
// by the pattern, ctx checked while it backtracks, back-references
// counted by the bytes they compare). Built-ins whose time grows faster
// than their input look at the context as they go (tablelib.go):
// table.sort (this package's, comparing strings with memcmp) and
// json.encode (a table that holds the same table many times is walked once
// a reference). json.decode and req:json() are priced before they build
// anything (decode.go, docs/sandbox.md "Request-body budgets"). The
// interrupt is raised by the engine with a bounded stack (stack.go), not
// by gopher-lua, whose traceback lists every tail call. The engine lowers
// gopher-lua's MaxArrayIndex (a package variable) so that one assignment
// t[n] = v cannot allocate a giant array part.
//
// # Script API notes
//
// req is a userdata whose fields are computed on first access (a request
// that never reads req.headers does not pay for it); req.body is the exact
// bytes; req:json() gives json.null for JSON null and raises an error
// wrapping script.ErrBadRequest (400 unless caught) on a bad body, as do
// req:form() and req:files() on a malformed form. Methods also work with a
// dot (req.json(), res.write("x")): without the object they act on the
// current request. req and res must not be used after their request has
// finished (an error says so). res:status, res:header, res:add_header,
// res:cookie, res:write, res:json and res:redirect return res, so a
// handler may end with "return res:json(v)". A handler returns nothing,
// res, or a string or number (the body); anything else is an error.
//
// log(...) logs at info, log.debug/info/warn/error(...) at their level;
// the arguments are tostring'd and joined by spaces (lines past 16 KiB are
// cut). kv and http.request use the request's context; calling them when
// the app has no store or no outbound access raises an error wrapping
// script.ErrNotConfigured. kv.batch{ {op = "set", key =, value =, ttl =},
// {op = "delete", key =}, … } applies the list all or nothing (through
// kv.Batcher). See json.go for json.encode/json.decode.
//
// An error raised by the script or by a built-in becomes a
// *script.ScriptError with the file and line where it was raised (the
// innermost script frame for errors without a position) and the Lua stack
// as "at fn (file:line)" lines; a Go error behind a built-in's error stays
// reachable with errors.Is. An interrupt (the request context ends) wraps
// context.Cause and ctx.Err(), and makes Healthy false, as do Go panics,
// stack overflows and size-limit hits (which wrap sandbox.ErrTooLarge).
// CurrentStack (script.StackCapturer) reads a running script's stack from
// another goroutine, taken safely between two instructions.
package lua
