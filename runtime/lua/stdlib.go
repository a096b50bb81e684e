package lua

// This file assembles a VM's globals from an allowlist: the parts of
// gopher-lua's base, string, table, math and os libraries that are safe,
// replacements for the ones that are not, and the fcgihost API.

import (
	"context"
	"log/slog"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// field is one name of a library table or of the globals.
type field struct {
	name string
	v    glua.LValue
}

// libTable is a library table (string, table, json…) to build per env.
type libTable struct {
	name   string
	fields []field
}

// libs are a VM's prebuilt function values; newEnv makes fresh tables of
// them (once per VM in handler style, once per request in CGI style), so
// nothing a script stores in a table survives into another request's
// globals.
type libs struct {
	globals []field
	tables  []libTable
	logFns  []field
	logCall *glua.LFunction
	ioRead  *glua.LFunction
	ioWrite *glua.LFunction

	reqQueryAll, reqJSON, reqForm, reqFiles *glua.LFunction
	utf8Iter                                *glua.LFunction
}

// allowed members of gopher-lua's libraries; anything else is dropped.
var (
	allowBase = []string{"assert", "error", "ipairs", "next", "pairs", "pcall",
		"rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber",
		"tostring", "type", "unpack", "xpcall"}
	allowString = []string{"byte", "char", "len", "lower", "reverse", "sub", "upper"}
	allowTable  = []string{"insert", "maxn", "remove"}
	allowOS     = []string{"clock", "difftime"}
)

// newLibs opens gopher-lua's libraries in the fresh state, keeps what the
// allowlists name and adds the engine's own functions.
func (v *vm) newLibs() *libs {
	L := v.L
	for _, lib := range []struct {
		name string
		fn   glua.LGFunction
	}{{"", glua.OpenBase}, {glua.StringLibName, glua.OpenString}, {glua.TabLibName, glua.OpenTable},
		{glua.MathLibName, glua.OpenMath}, {glua.OsLibName, glua.OpenOs}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	pick := func(t *glua.LTable, names []string) []field {
		out := make([]field, 0, len(names))
		for _, n := range names {
			if fv := t.RawGetString(n); fv != glua.LNil {
				out = append(out, field{n, fv})
			}
		}
		return out
	}
	fn := func(f glua.LGFunction) *glua.LFunction { return L.NewFunction(f) }
	lb := &libs{}

	lb.globals = pick(g, allowBase)
	lb.globals = append(lb.globals,
		field{"getmetatable", fn(baseGetMetatable)},
		field{"require", fn(v.require)},
		field{"_VERSION", glua.LString(glua.LuaVersion)},
	)
	if v.cgi {
		lb.globals = append(lb.globals, field{"print", fn(v.cgiPrint)})
		lb.ioRead, lb.ioWrite = fn(v.ioRead), fn(v.ioWrite)
	} else {
		lb.globals = append(lb.globals, field{"print", fn(v.logFunc(slog.LevelInfo, "\t"))})
	}

	str := pick(g.RawGetString("string").(*glua.LTable), allowString)
	str = append(str,
		field{"find", fn(v.strFind)}, field{"match", fn(v.strMatch)},
		field{"gmatch", fn(v.strGmatch)}, field{"gsub", fn(v.strGsub)},
		field{"format", fn(v.strFormat)}, field{"rep", fn(v.strRep)})
	tbl := pick(g.RawGetString("table").(*glua.LTable), allowTable)
	tbl = append(tbl, field{"concat", fn(v.tableConcat)}, field{"sort", fn(v.tableSort)})
	var math []field
	g.RawGetString("math").(*glua.LTable).ForEach(func(k, val glua.LValue) {
		if ks, ok := k.(glua.LString); ok {
			math = append(math, field{string(ks), val})
		}
	})
	osT := g.RawGetString("os").(*glua.LTable)
	os := pick(osT, allowOS)
	os = append(os,
		field{"getenv", fn(v.osGetenv)},
		field{"time", fn(v.osTime(osT.RawGetString("time").(*glua.LFunction)))},
		field{"date", fn(v.osDate(osT.RawGetString("date").(*glua.LFunction)))})

	v.null = L.NewUserData()
	v.null.Value = jsonNull{}
	v.null.Metatable = protectedMT(L, map[string]glua.LValue{"__tostring": fn(func(L *glua.LState) int {
		L.Push(glua.LString("null"))
		return 1
	})})

	lb.tables = []libTable{
		{"string", str},
		{"table", tbl},
		{"math", math},
		{"os", os},
		{"json", []field{{"encode", fn(v.jsonEncode)}, {"decode", fn(v.jsonDecode)},
			{"null", v.null}, {"array", fn(v.jsonArray)}}},
		{"crypto", []field{{"sha256", fn(cryptoSHA256)}, {"hmac_sha256", fn(cryptoHMACSHA256)},
			{"random_bytes", fn(v.cryptoRandomBytes)}, {"random_uuid", fn(cryptoRandomUUID)}}},
		{"base64", []field{{"encode", fn(base64Encode)}, {"decode", fn(v.base64Decode)}}},
		{"kv", []field{{"get", fn(v.kvGet)}, {"set", fn(v.kvSet)}, {"delete", fn(v.kvDelete)},
			{"incr", fn(v.kvIncr)}, {"cas", fn(v.kvCAS)}, {"list", fn(v.kvList)},
			{"batch", fn(v.kvBatch)}}},
		{"http", []field{{"request", fn(v.httpRequest)}}},
	}
	lb.tables = append(lb.tables, v.groundTables(lb, fn)...)
	lb.logFns = []field{
		{"debug", fn(v.logFunc(slog.LevelDebug, " "))},
		{"info", fn(v.logFunc(slog.LevelInfo, " "))},
		{"warn", fn(v.logFunc(slog.LevelWarn, " "))},
		{"error", fn(v.logFunc(slog.LevelError, " "))},
	}
	info := v.logFunc(slog.LevelInfo, " ")
	lb.logCall = fn(func(L *glua.LState) int {
		L.Remove(1) // the log table itself
		return info(L)
	})

	lb.reqQueryAll, lb.reqJSON = fn(v.reqQueryAll), fn(v.reqJSON)
	lb.reqForm, lb.reqFiles = fn(v.reqForm), fn(v.reqFiles)
	v.reqMT = protectedMT(L, map[string]glua.LValue{
		"__index":    fn(v.reqIndex),
		"__tostring": fn(func(L *glua.LState) int { L.Push(glua.LString("request")); return 1 }),
	})
	resMethods := L.CreateTable(0, 8)
	for name, f := range map[string]glua.LGFunction{
		"status": v.resStatus, "header": v.resHeader, "add_header": v.resAddHeader,
		"cookie": v.resCookie, "write": v.resWrite, "json": v.resJSON, "redirect": v.resRedirect,
	} {
		resMethods.RawSetString(name, fn(f))
	}
	v.resMT = protectedMT(L, map[string]glua.LValue{
		"__index":    resMethods,
		"__tostring": fn(func(L *glua.LState) int { L.Push(glua.LString("response")); return 1 }),
	})

	// Drop the state's own globals: every function runs in an env of ours.
	L.G.Global = L.CreateTable(0, 0)
	L.Env = L.G.Global
	return lb
}

// protectedMT makes a metatable that getmetatable does not reveal and
// setmetatable cannot replace.
func protectedMT(L *glua.LState, fields map[string]glua.LValue) *glua.LTable {
	mt := L.CreateTable(0, len(fields)+1)
	for k, val := range fields {
		mt.RawSetString(k, val)
	}
	mt.RawSetString("__metatable", glua.LFalse)
	return mt
}

// newEnv builds a globals table; rs is the request in CGI style (for env).
func (v *vm) newEnv(rs *reqState) *glua.LTable {
	L, lb := v.L, v.lib
	env := L.CreateTable(0, len(lb.globals)+len(lb.tables)+6)
	for _, f := range lb.globals {
		env.RawSetString(f.name, f.v)
	}
	var strT *glua.LTable
	for _, lt := range lb.tables {
		t := L.CreateTable(0, len(lt.fields))
		for _, f := range lt.fields {
			t.RawSetString(f.name, f.v)
		}
		env.RawSetString(lt.name, t)
		if lt.name == "string" {
			strT = t
		}
	}
	logT := L.CreateTable(0, len(lb.logFns))
	for _, f := range lb.logFns {
		logT.RawSetString(f.name, f.v)
	}
	logMT := L.CreateTable(0, 1)
	logMT.RawSetString("__call", lb.logCall)
	logT.Metatable = logMT
	env.RawSetString("log", logT)
	env.RawSetString("_G", env)

	// Strings index the env's string table, through a protected metatable.
	L.SetMetatable(glua.LString(""), protectedMT(L, map[string]glua.LValue{"__index": strT}))
	v.arrayMT = L.CreateTable(0, 1)
	v.arrayMT.RawSetString("__jsontype", glua.LString("array"))

	if v.cgi {
		envT := L.CreateTable(0, 32)
		if rs != nil {
			for k, val := range rs.req.Params {
				envT.RawSetString(k, glua.LString(val))
			}
		}
		env.RawSetString("env", envT)
		io := L.CreateTable(0, 2)
		io.RawSetString("read", lb.ioRead)
		io.RawSetString("write", lb.ioWrite)
		env.RawSetString("io", io)
	}
	L.G.Global, L.Env = env, env
	return env
}

// baseGetMetatable is getmetatable honouring __metatable (gopher-lua's
// returns the raw metatable).
func baseGetMetatable(L *glua.LState) int {
	mt := L.GetMetatable(L.CheckAny(1))
	if t, ok := mt.(*glua.LTable); ok {
		if p := t.RawGetString("__metatable"); p != glua.LNil {
			L.Push(p)
			return 1
		}
	}
	L.Push(mt)
	return 1
}

// joinArgs renders the arguments from index first on with tostring.
//
// It stops once more than limit bytes are joined (the rest is not converted):
// print(unpack(t)) with t holding many references to one large string would
// otherwise build their sum in one native call (docs/sandbox.md, "The three
// lines of defence").
func joinArgs(L *glua.LState, first int, sep string, limit int) string {
	top := L.GetTop()
	var b strings.Builder
	for i := first; i <= top && b.Len() <= limit; i++ {
		if i > first {
			b.WriteString(sep)
		}
		s := L.ToStringMeta(L.Get(i)).String()
		if room := limit + 1 - b.Len(); len(s) > room {
			s = s[:max(room, 0)]
		}
		b.WriteString(s)
	}
	return b.String()
}

// maxLogMessage bounds one log line from a script.
const maxLogMessage = 16 << 10

// logFunc makes log.info & co: the arguments, tostring'd and joined by sep,
// go to the app's logger at level.
func (v *vm) logFunc(level slog.Level, sep string) glua.LGFunction {
	return func(L *glua.LState) int {
		lg := v.b.opts.Logger
		ctx := v.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if !lg.Enabled(ctx, level) {
			return 0
		}
		msg := joinArgs(L, 1, sep, maxLogMessage)
		if len(msg) > maxLogMessage {
			msg = msg[:maxLogMessage] + "…(truncated)"
		}
		lg.Log(ctx, level, msg)
		return 0
	}
}

// osGetenv reads the current request's params (the CGI environment), never
// the host's environment; nil outside a request.
func (v *vm) osGetenv(L *glua.LState) int {
	name := L.CheckString(1)
	if val, ok := v.b.opts.Env[name]; ok { // the app's env wins over request params
		L.Push(glua.LString(val))
		return 1
	}
	if v.cur != nil {
		if val, ok := v.cur.req.Params[name]; ok {
			L.Push(glua.LString(val))
			return 1
		}
	}
	L.Push(glua.LNil)
	return 1
}

// osTime is os.time with the app's clock for "now".
func (v *vm) osTime(orig *glua.LFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		if L.GetTop() == 0 || L.Get(1) == glua.LNil {
			L.Push(glua.LNumber(v.now().Unix()))
			return 1
		}
		return orig.GFunction(L)
	}
}

// osDate is os.date with the app's clock for "now".
func (v *vm) osDate(orig *glua.LFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		if L.GetTop() == 0 {
			L.Push(glua.LString("%c"))
		}
		if f, ok := L.Get(1).(glua.LString); ok {
			v.checkSize("os.date", float64(len(f))*16) // %c is 24 bytes
		}
		if L.GetTop() < 2 || L.Get(2) == glua.LNil {
			L.SetTop(1)
			L.Push(glua.LNumber(v.now().Unix()))
		}
		return orig.GFunction(L)
	}
}
