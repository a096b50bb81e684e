package e2e

// TestHostile is the red-team table of docs/sandbox.md ("Hostile input"):
// every attack a tenant's script or an anonymous client made against the
// host, in both languages where it applies, through the real binary
// behind nginx. For each row it asserts what the client saw, the log
// line, and then what must hold whatever the attack: the host process is
// the same one (same PID), every other app answered throughout (a
// poller asks hello_js and hello_lua all along), no core is left
// spinning once the row is over, and the row's peak RSS. Run with -v for
// the figures table.

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// hostileApps are written into the apps dir of TestHostile; op= picks
// one member of the row's class.
var hostileApps = map[string]string{
	"hello_js.js":   `module.exports = (req, res) => res.write("hello js");`,
	"hello_lua.lua": `return function(req, res) res:write("hello lua") end`,

	// Row 12: the web built-ins of README.md "Built-ins" at their bounds:
	// a timer storm, a timer loop that never lets the promise settle, a
	// huge Blob, a FormData flood; ctx.waitUntil work that never ends.
	"web_js.js": `module.exports = (req, res) => {
  switch (req.query.op) {
    case "timers": for (;;) setTimeout(() => {}, 1e9);
    case "interval": return new Promise(() => setInterval(() => {}, 0));
    case "blob": { const b = new Blob([new Uint8Array(8 << 20)]); const parts = []; for (let i = 0; i < 64; i++) parts.push(b); return String(new Blob(parts).size); }
    case "formdata": { const f = new FormData(); for (;;) f.append("a", "b"); }
  }
  return "?";
};`,
	"stream_js.mjs": `export default {
  fetch() {
    const mb = "x".repeat(1 << 20);
    return new Response(new ReadableStream({ pull(c) { c.enqueue(mb); } }));
  },
};`,
	"waituntil_js.mjs": `export default {
  fetch(request, env, ctx) {
    ctx.waitUntil(new Promise(() => setInterval(() => {}, 1)));
    return new Response("answered first");
  },
};`,

	// Row 1: a prototype chain that reaches itself through a Proxy, and
	// its relatives. goja's own cycle check stops at a Proxy.
	"cycle_js.js": `module.exports = (req, res) => {
  const op = req.query.op;
  if (op === "deep") {
    let p = {};
    for (let i = 0; i < 200000; i++) p = new Proxy(p, {});
    return String(p.x);
  }
  const a = {};
  const p = new Proxy(a, {});
  if (op === "proto") a.__proto__ = p;
  else if (op === "reflect") Reflect.setPrototypeOf(a, p);
  else if (op === "two") { const b = {}; const q = new Proxy(b, {}); Object.setPrototypeOf(a, q); Object.setPrototypeOf(b, p); }
  else Object.setPrototypeOf(a, p);
  switch (op) {
    case "has": return String("x" in a);
    case "set": a.x = 1; return "set";
    case "keys": for (const k in a) {} return "keys";
    case "instanceof": return String(a instanceof Date);
    case "isproto": return String(Date.prototype.isPrototypeOf(a));
    case "json": return JSON.stringify(a);
    default: return String(a.nothere);
  }
};`,
	// Lua's relative: a cycle of __index tables.
	"cycle_lua.lua": `return function(req, res)
  local a, b = {}, {}
  setmetatable(a, {__index = b})
  setmetatable(b, {__index = a})
  res:write(tostring(a.nothere))
end`,

	// Row 2: one native call building one value from many large ones.
	"big_js.js": `module.exports = (req, res) => {
  const s = "x".repeat((1 << 24) - 64);
  const a = new Array(100).fill(s);
  switch (req.query.op) {
    case "tostring": return String(a.toString().length);
    case "template": return String(` + "`${a}`" + `.length);
    case "typed": { const t = new Float64Array(1 << 22); t.fill(1.2345678901234567); return String(t.toLocaleString().length); }
    default: return String(a.toLocaleString().length);
  }
};`,
	"big_lua.lua": `return function(req, res)
  local s = string.rep("x", 16 * 1024 * 1024 - 64)
  local t = {}
  for i = 1, 100 do t[i] = s end
  res:write(#table.concat(t))
end`,

	// Row 3: native loops that never call back into script code.
	"spin_js.js": `module.exports = (req, res) => {
  if (req.query.op === "flat") { const a = []; a.push(a); return String(a.flat(Infinity).length); }
  if (req.query.op === "join") { const a = []; a.push(a, a); return String(a.join().length); }
  const a = {};
  Object.setPrototypeOf(a, new Proxy(a, {}));
  if (req.query.op === "isproto") return String(Date.prototype.isPrototypeOf(a));
  return String(a instanceof Date);
};`,

	// Row 4: a request body parsed into script values.
	"parse_js.js":    `module.exports = (req, res) => { const v = JSON.parse(req.body); return String(v.length); };`,
	"parse_lua.lua":  `return function(req, res) local v = req:json() res:write(#v) end`,
	"decode_lua.lua": `return function(req, res) local v = json.decode(req.body) res:write(#v) end`,

	// Row 5: built-ins whose cost grows faster than their input.
	"slow_js.js": `module.exports = (req, res) => {
  const s = "\u00e9".repeat(1 << 22);
  switch (req.query.op) {
    case "indexof": return String(s.indexOf("\u00e9".repeat(4000) + "x"));
    case "includes": return String(s.includes("\u00e9".repeat(4000) + "x"));
    case "lastindexof": return String(s.lastIndexOf("x" + "\u00e9".repeat(4000)));
    case "split": return String(s.split("\u00e9".repeat(4000) + "x").length);
    case "arrayindexof": { const n = "\u00e9".repeat((1 << 22) - 1) + "x"; return String(new Array(20000).fill(s).indexOf(n)); }
    case "arrayincludes": { const n = "\u00e9".repeat((1 << 22) - 1) + "x"; return String(new Array(20000).fill(s).includes(n)); }
    case "sort": return String(new Array(40000).fill(s).sort().length);
    case "lookahead": return String(new RegExp("(?=".repeat(1e5) + "a" + ")".repeat(1e5)).test("a"));
    case "replace": return ("a".repeat(28) + "b\n").repeat(200).replace(/(a+)+(?=c)/g, "x").length + "";
    default: return "?";
  }
};`,
	"slow_lua.lua": `return function(req, res)
  local s = string.rep("a", 1048576)
  local t = {}
  for i = 1, 40000 do t[i] = s end
  if req.query.op == "lt" then
    table.sort(t, function(a, b) return a < b end)
  else
    table.sort(t)
  end
  res:write(#t)
end`,

	// Row 6: one app floods the store while another does one small write.
	"flood_js.js": `module.exports = (req, res) => {
  const v = "v".repeat(1 << 20);
  const ops = [];
  for (let i = 0; i < 600; i++) ops.push({op: "set", key: "k" + i, value: v});
  kv.batch(ops);
  return "flooded";
};`,
	"flood_lua.lua": `return function(req, res)
  local v = string.rep("v", 1048576)
  local ops = {}
  for i = 1, 600 do ops[i] = {op = "set", key = "k" .. i, value = v} end
  kv.batch(ops)
  res:write("flooded")
end`,
	"small_js.js":   `module.exports = (req, res) => { kv.set("a", "b"); return "ok"; };`,
	"small_lua.lua": `return function(req, res) kv.set("a", "b") res:write("ok") end`,

	// Row 7: headers that make the front end serve a file.
	"accel_js.js": `module.exports = (req, res) => {
  res.header(req.query.h || "X-Accel-Redirect", "/internal/secret.txt");
  res.write("script body");
};`,
	"accel_lua.lua": `return function(req, res)
  res:header(req.query.h or "X-Accel-Redirect", "/internal/secret.txt")
  res:write("script body")
end`,

	// Row 8: control characters on their way to the web server's log.
	"forge_js.js":   `module.exports = (req, res) => { throw new Error("boom\r[crit] forged \u001b[2J"); };`,
	"forge_lua.lua": `return function(req, res) error("boom\r[crit] forged \27[2J") end`,

	// Row 11: a victim that allocates nothing, and a gradual allocator.
	"victim_js.js":   "module.exports = (req, res) => {\n  const t = Date.now();\n  while (Date.now() - t < 1200) {}\n  res.write('done');\n};",
	"victim_lua.lua": "return function(req, res)\n  local t = os.clock()\n  while os.clock() - t < 1.2 do end\n  res:write('done')\nend",
	"grower_js.js":   "module.exports = (req, res) => {\n  const a = [];\n  const t = Date.now();\n  for (let i = 0; ; i++) { a.push('abcdefgh' + i); if (i % 1000 === 0) { const s = Date.now(); while (Date.now() - s < 2) {} } }\n};",
	"grower_lua.lua": "return function(req, res)\n  local t = {}\n  local i = 0\n  while true do\n    i = i + 1\n    t[i] = 'abcdefgh' .. i\n    if i % 1000 == 0 then local s = os.clock() while os.clock() - s < 0.002 do end end\n  end\nend",
}

// The outside script row 9's symlink points at: if it ever runs, it says so.
const outsideScript = `module.exports = (req, res) => { log("OUTSIDE SCRIPT RAN"); res.write("outside"); };`

const hostileConfig = `timeout = "2s"
workers = 2
memory_limit = "64MiB"
log_level = "debug"

[app.flood_js]
timeout = "5s"
[app.flood_lua]
timeout = "5s"
[app.stream_js]
max_response = "4MiB"
[app.victim_js]
timeout = "10s"
[app.victim_lua]
timeout = "10s"
`

// hostileNginx adds an internal location holding another tenant's file.
const hostileNginx = `
    location /internal/ {
      internal;
      alias {{DIR}}/private/;
    }
    location / {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass fcgihost;
      fastcgi_keep_conn on;
    }
`

// hostileRow is one attack of the table.
type hostileRow struct {
	name string
	// req is the request: "GET /path" or "POST /path" with body.
	method, path string
	body         []byte
	// parallel sends that many copies at once (0 = 1).
	parallel int
	// want lists the acceptable statuses; every copy must get one of them
	// with a non-empty body.
	want []int
	// logRE must match the host's log after the row ("" = not checked);
	// with logIfError, only when the first copy did not get a 200.
	logRE      string
	logIfError bool
	// maxPeakMiB bounds the row's peak RSS over the host's RSS before it
	// (0 = not checked).
	maxPeakMiB int64
	// check, if set, looks at everything after the row.
	check func(t *testing.T, r hostileResult)
	// during, if set, runs while the row's requests are in flight.
	during func(t *testing.T)
}

// hostileResult is what one row produced.
type hostileResult struct {
	statuses []int
	bodies   []string
	headers  []http.Header
	log      string
	elapsed  time.Duration
}

// hostileFigure is one line of the figures table.
type hostileFigure struct {
	row, client string
	elapsed     time.Duration
	peakMiB     int64
	cpuAfter    float64 // cores busy in the window after the row
	pidSame, ok bool
}

func TestHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and the binary")
	}
	testutil.Need(t, "nginx")
	dir := t.TempDir()
	appsDir := filepath.Join(dir, "apps")
	for name, code := range hostileApps {
		testutil.WriteFile(t, filepath.Join(appsDir, name), code, 0o644)
	}
	// The bundled JSON API app, as a newcomer deploys it.
	contacts, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "apps", "contacts.js"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(appsDir, "contacts.js"), string(contacts), 0o644)
	outside := filepath.Join(dir, "outside", "evil.js")
	testutil.WriteFile(t, outside, outsideScript, 0o644)
	if err := os.Symlink(outside, filepath.Join(appsDir, "link.js")); err != nil {
		t.Fatal(err)
	}
	h := testutil.StartHost(t, testutil.HostOptions{Apps: appsDir, Unix: true, Config: hostileConfig, HTTP: true,
		Wrapper: []string{"prlimit", "--as=6000000000", "--"}})
	n := testutil.StartNginx(t, h, hostileNginx)
	testutil.WriteFile(t, filepath.Join(n.Dir, "private", "secret.txt"), "ANOTHER TENANT'S SECRET", 0o644)
	pid := h.Cmd.Process.Pid

	// The poller: other apps must answer all along.
	var polls, pollFails atomic.Int64
	var pollErr atomic.Value
	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: 10 * time.Second}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			app := []string{"/hello_js", "/hello_lua"}[i%2]
			polls.Add(1)
			r, err := c.Get(n.URL + app)
			if err != nil {
				pollFails.Add(1)
				pollErr.Store(fmt.Sprintf("%s: %v", app, err))
				continue
			}
			b := make([]byte, 64)
			k, _ := r.Body.Read(b)
			r.Body.Close()
			if r.StatusCode != 200 || !strings.HasPrefix(string(b[:k]), "hello") {
				pollFails.Add(1)
				pollErr.Store(fmt.Sprintf("%s: %d %q", app, r.StatusCode, b[:k]))
			}
		}
	}()
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt()

	jsonBomb := jsonArrayOfEmptyObjects(8 << 20)
	rows := []hostileRow{}
	add := func(r ...hostileRow) { rows = append(rows, r...) }

	// Row 1 (and relatives): the host must survive; the script gets an
	// error (Reflect.setPrototypeOf instead answers false, as the
	// language says, and the lookup then finds nothing: 200 "undefined").
	for _, op := range []string{"get", "has", "set", "keys", "proto", "reflect", "two", "json", "deep"} {
		want := []int{500}
		if op == "reflect" {
			want = []int{200, 500}
		}
		add(hostileRow{name: "1 proxy cycle " + op + " (js)", method: "GET", path: "/cycle_js?op=" + op, want: want,
			logRE: `app=cycle_js`, logIfError: true})
	}
	add(hostileRow{name: "1 __index cycle (lua)", method: "GET", path: "/cycle_lua", want: []int{500}, logRE: `app=cycle_lua`})

	// Row 2: 100 × 16 MiB into one string.
	for _, op := range []string{"locale", "tostring", "template", "typed"} {
		add(hostileRow{name: "2 huge " + op + " (js)", method: "GET", path: "/big_js?op=" + op, want: []int{500},
			logRE: `app=big_js`, maxPeakMiB: 400})
	}
	add(hostileRow{name: "2 huge table.concat (lua)", method: "GET", path: "/big_lua", want: []int{500}, logRE: `app=big_lua`, maxPeakMiB: 400})

	// Row 3: endless native loops: an error or a 504, and no core left
	// busy (join skips a cycle, as the language says: 200 is fine).
	for _, op := range []string{"instanceof", "isproto", "flat", "join"} {
		add(hostileRow{name: "3 native loop " + op + " (js)", method: "GET", path: "/spin_js?op=" + op, want: []int{200, 500, 504},
			logRE: `app=spin_js`, logIfError: true})
	}

	// Row 4: an 8 MiB JSON body of empty objects, by anyone, twice at once.
	add(
		hostileRow{name: "4 JSON bomb POST /contacts (js)", method: "POST", path: "/contacts", body: jsonBomb, parallel: 2,
			want: []int{400, 413}, maxPeakMiB: 100},
		hostileRow{name: "4 JSON bomb JSON.parse (js)", method: "POST", path: "/parse_js", body: jsonBomb, parallel: 2,
			want: []int{400, 413, 500}, logRE: `app=parse_js`, maxPeakMiB: 100},
		hostileRow{name: "4 JSON bomb req:json (lua)", method: "POST", path: "/parse_lua", body: jsonBomb, parallel: 2,
			want: []int{400, 413}, maxPeakMiB: 100},
		hostileRow{name: "4 JSON bomb json.decode (lua)", method: "POST", path: "/decode_lua", body: jsonBomb, parallel: 2,
			want: []int{400, 413, 500}, logRE: `app=decode_lua`, maxPeakMiB: 100},
	)

	// Row 5: super-linear built-ins against a 2 s timeout: a 504 (or a
	// limit error) near the deadline, never 9–29 s later.
	for _, op := range []string{"indexof", "includes", "lastindexof", "split", "arrayindexof", "arrayincludes", "sort", "lookahead", "replace"} {
		add(hostileRow{name: "5 slow built-in " + op + " (js)", method: "GET", path: "/slow_js?op=" + op, want: []int{200, 500, 504},
			logRE: `app=slow_js`, logIfError: true, check: withinDeadline(2 * time.Second)})
	}
	for _, op := range []string{"default", "lt"} {
		add(hostileRow{name: "5 table.sort " + op + " (lua)", method: "GET", path: "/slow_lua?op=" + op, want: []int{200, 500, 504},
			logRE: `app=slow_lua`, logIfError: true, check: withinDeadline(2 * time.Second)})
	}

	// Row 6: a flood in one app never costs another app's small write.
	for _, lang := range []string{"js", "lua"} {
		lang := lang
		add(hostileRow{name: "6 kv flood beside a small write (" + lang + ")", method: "GET", path: "/flood_" + lang,
			want: []int{200, 413, 500, 507}, during: func(t *testing.T) {
				for i := 0; i < 10; i++ {
					r := testutil.Get(t, n.URL+"/small_"+lang)
					if r.StatusCode != 200 || r.Body != "ok" {
						t.Errorf("small_%s during the flood: %d %q", lang, r.StatusCode, r.Body)
					}
				}
			}})
	}

	// Row 7: a script may not make nginx serve a file on its behalf.
	for _, lang := range []string{"js", "lua"} {
		for _, hdr := range []string{"X-Accel-Redirect", "x-accel-redirect", "X-Sendfile", "X-Accel-Buffering", "X-LIGHTTPD-send-file", "X-Sendfile2"} {
			hdr := hdr
			add(hostileRow{name: "7 " + hdr + " (" + lang + ")", method: "GET", path: "/accel_" + lang + "?h=" + hdr, want: []int{200},
				logRE: `(?i)app=accel_` + lang + `.*` + regexp.QuoteMeta(hdr),
				check: func(t *testing.T, r hostileResult) {
					if strings.Contains(r.bodies[0], "SECRET") || r.bodies[0] != "script body" {
						t.Errorf("client got %q, want the script's own body", r.bodies[0])
					}
					for name := range r.headers[0] {
						if strings.HasPrefix(strings.ToLower(name), "x-accel") || strings.Contains(strings.ToLower(name), "sendfile") || strings.Contains(strings.ToLower(name), "send-file") {
							t.Errorf("client got header %s", name)
						}
					}
				}})
		}
	}

	// Row 8: the web server's error log gets no raw control characters.
	for _, lang := range []string{"js", "lua"} {
		add(hostileRow{name: "8 control characters to stderr (" + lang + ")", method: "GET", path: "/forge_" + lang, want: []int{500},
			logRE: `app=forge_` + lang,
			check: func(t *testing.T, r hostileResult) {
				testutil.Eventually(t, 5*time.Second, "the error in nginx's log", func() bool { return strings.Contains(n.ErrorLog(), "boom") })
				el := n.ErrorLog()
				if strings.Contains(el, "\r") || strings.Contains(el, "\x1b") {
					t.Errorf("nginx error log holds a raw control character: %q", testutil.Tail(el, 600))
				}
				if strings.Contains(el, "\n[crit] forged") {
					t.Errorf("a forged line reached nginx's error log")
				}
			}})
	}

	// Row 9: a symlinked entry file pointing out of the apps dir.
	add(hostileRow{name: "9 symlink out by path (js)", method: "GET", path: "/link", want: []int{403},
		logRE: `status=403`,
		check: func(t *testing.T, r hostileResult) {
			if strings.Contains(h.Output(), "OUTSIDE SCRIPT RAN") {
				t.Errorf("the script outside the apps dir ran")
			}
		}})

	// Row 10: slow senders on the development HTTP listener are let go.
	add(hostileRow{name: "10 slow bodies on the HTTP listener", method: "GET", path: "/hello_js", want: []int{200},
		check: func(t *testing.T, r hostileResult) { slowBodies(t, strings.TrimPrefix(h.HTTP, "http://")) }})

	// Row 11: a victim that allocates nothing is never the one stopped.
	for _, lang := range []string{"js", "lua"} {
		lang := lang
		add(hostileRow{name: "11 busy victim beside a grower (" + lang + ")", method: "GET", path: "/grower_" + lang, want: []int{500, 504},
			during: func(t *testing.T) {
				for i := 0; i < 3; i++ {
					r := testutil.Get(t, n.URL+"/victim_"+lang)
					if r.StatusCode != 200 || r.Body != "done" {
						t.Errorf("victim_%s: %d %q (log: %s)", lang, r.StatusCode, r.Body, testutil.Tail(h.Output(), 800))
					}
				}
			}})
	}

	// Row 12: the web built-ins stay inside their bounds; waitUntil work
	// is stopped at the app's timeout after the client got its answer.
	for _, r := range []struct{ op, re string }{
		{"timers", `more than 10000 timers`}, {"interval", `script timed out`},
		{"blob", `Blob: more than`}, {"formdata", `more than 10000 entries`},
	} {
		want := []int{500}
		if r.op == "interval" {
			want = []int{504}
		}
		add(hostileRow{name: "12 web built-in " + r.op + " (js)", method: "GET", path: "/web_js?op=" + r.op, want: want, logRE: r.re, maxPeakMiB: 400})
	}
	add(hostileRow{name: "12 endless ReadableStream body (js)", method: "GET", path: "/stream_js", want: []int{200}, logRE: `response cut`, maxPeakMiB: 400})
	add(hostileRow{name: "12 endless ctx.waitUntil (js)", method: "GET", path: "/waituntil_js", want: []int{200}, logRE: `script timed out" app=waituntil_js`,
		check: func(t *testing.T, r hostileResult) {
			if r.bodies[0] != "answered first" {
				t.Errorf("body %q", r.bodies[0])
			}
		}})

	var figures []hostileFigure
	for _, row := range rows {
		row := row
		t.Run(row.name, func(t *testing.T) {
			resetPeak(pid)
			before := rssKiB(t, pid, "VmRSS")
			mark := len(h.Output())
			fig := hostileFigure{row: row.name, client: "(no answer)"}
			defer func() { // a row that stopped early still gets its line
				fig.ok = !t.Failed()
				figures = append(figures, fig)
			}()
			res := runHostile(t, n.URL, row)
			fig.elapsed = res.elapsed
			for i, st := range res.statuses {
				if i == 0 {
					fig.client = fmt.Sprintf("%d %s", st, summarize(res.bodies[i]))
				}
				if !containsInt(row.want, st) {
					t.Errorf("copy %d: status %d, want one of %v; body %q", i, st, row.want, testutil.Tail(res.bodies[i], 300))
				}
				if res.bodies[i] == "" && row.method != "HEAD" {
					t.Errorf("copy %d: empty body with status %d", i, st)
				}
			}
			if row.logRE != "" && !(row.logIfError && res.statuses[0] == 200) {
				re := regexp.MustCompile(row.logRE)
				testutil.Eventually(t, 10*time.Second, "log line "+row.logRE, func() bool { return re.MatchString(h.Output()[mark:]) })
			}
			res.log = h.Output()[mark:]
			if row.check != nil {
				row.check(t, res)
			}
			fig.peakMiB = (rssKiB(t, pid, "VmHWM") - before) >> 10
			if row.maxPeakMiB > 0 && fig.peakMiB > row.maxPeakMiB {
				t.Errorf("peak RSS grew by %d MiB, want at most %d", fig.peakMiB, row.maxPeakMiB)
			}
			// Same process, and no core left busy once the row is over.
			if !processAlive(pid) {
				t.Fatalf("the host process %d is gone\n%s", pid, testutil.Tail(h.Output(), 2000))
			}
			fig.pidSame = true
			time.Sleep(time.Second) // let VM replacement and a GC settle
			fig.cpuAfter = treeCPU(pid, 2*time.Second)
			if fig.cpuAfter > 0.25 {
				t.Errorf("after the row the host tree still uses %.2f cores", fig.cpuAfter)
			}
		})
	}
	halt()
	if f := pollFails.Load(); f > 0 {
		t.Errorf("other apps failed %d of %d polls during the table; last: %v", f, polls.Load(), pollErr.Load())
	}
	t.Logf("row | client saw | time | peak RSS growth | CPU after | same PID | ok")
	for _, f := range figures {
		t.Logf("%s | %s | %.1fs | %d MiB | %.2f | %v | %v", f.row, f.client, f.elapsed.Seconds(), f.peakMiB, f.cpuAfter, f.pidSame, f.ok)
	}
	t.Logf("polls of other apps: %d, failed %d", polls.Load(), pollFails.Load())
}

// runHostile sends the row's requests and, meanwhile, runs its during.
func runHostile(t *testing.T, base string, row hostileRow) hostileResult {
	t.Helper()
	k := row.parallel
	if k == 0 {
		k = 1
	}
	res := hostileResult{statuses: make([]int, k), bodies: make([]string, k), headers: make([]http.Header, k)}
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var body []byte
			ct := ""
			if row.method == "POST" {
				body, ct = row.body, "application/json"
			}
			req, err := http.NewRequest(row.method, base+row.path, bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			c := &http.Client{Timeout: 120 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			r, err := c.Do(req)
			if err != nil {
				res.bodies[i] = "transport error: " + err.Error()
				return
			}
			defer r.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(r.Body)
			res.statuses[i], res.bodies[i], res.headers[i] = r.StatusCode, buf.String(), r.Header
		}(i)
	}
	if row.during != nil {
		time.Sleep(300 * time.Millisecond)
		row.during(t)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// withinDeadline checks that a row answered near its timeout rather than
// long after it (before the fix: 9–29 s, or never). The margin is wide on
// purpose: this guards against minutes, not milliseconds.
func withinDeadline(timeout time.Duration) func(t *testing.T, r hostileResult) {
	return func(t *testing.T, r hostileResult) {
		if r.elapsed > timeout+8*time.Second {
			t.Errorf("answered after %v with a %v timeout", r.elapsed.Round(time.Millisecond), timeout)
		}
	}
}

// slowBodies opens 50 connections to the HTTP listener that each promise a
// 100-byte body and send 1 byte, and expects the listener to close every
// one of them (by its body read timeout) instead of holding them forever.
func slowBodies(t *testing.T, addr string) {
	t.Helper()
	const k = 50
	conns := make([]net.Conn, 0, k)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < k; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /hello_js HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nx")
		conns = append(conns, c)
	}
	var closed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(90 * time.Second))
			b := make([]byte, 4096)
			for {
				if _, err := c.Read(b); err != nil {
					if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
						closed.Add(1)
					}
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if got := closed.Load(); got != k {
		t.Errorf("the HTTP listener let go of %d of %d stalled connections within 90 s", got, k)
	}
}

// jsonArrayOfEmptyObjects is "[{},{},…]" of at most size bytes.
func jsonArrayOfEmptyObjects(size int) []byte {
	n := (size - 2 + 1) / 3
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{', '}')
	}
	return append(b, ']')
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// resetPeak resets VmHWM of pid to its current RSS (proc(5), clear_refs).
func resetPeak(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// treeCPU measures how many cores pid and all its descendants use over
// window (utime+stime from /proc, in clock ticks of 1/100 s).
func treeCPU(pid int, window time.Duration) float64 {
	a := treeTicks(pid)
	time.Sleep(window)
	b := treeTicks(pid)
	return float64(b-a) / 100 / window.Seconds()
}

func treeTicks(root int) int64 {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid], ticks[pid] = pp, ut+st
	}
	var sum int64
	for pid, tk := range ticks {
		for p := pid; p != 0; p = parent[p] {
			if p == root {
				sum += tk
				break
			}
			if _, ok := parent[p]; !ok {
				break
			}
		}
	}
	return sum
}
