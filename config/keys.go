package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is how a key's TOML value is read.
type kind int

const (
	kString   kind = iota // a string
	kBool                 // a boolean
	kInt                  // an integer
	kSize                 // bytes: an integer or a string with a unit ("64MiB")
	kDuration             // a Go duration string ("30s")
	kMode                 // a file mode: an integer (0o660) or an octal string ("0660")
	kList                 // an array of strings (a single string is a list of one)
	kVars                 // a table of strings, held as sorted "NAME=VALUE" entries
)

// keyDef describes one config key: its TOML name, how it is read, the Go
// field it fills and how its value is checked. The tables below are the one
// source of truth for parsing, validation, the dump and KEYS.md.
type keyDef struct {
	name  string
	kind  kind
	field string // field of Config (host keys) or App (app keys)
	path  bool   // relative paths resolve against the config file's directory
	min   int64  // numeric kinds: the smallest value allowed
	oneOf []string
	check func(v any) error // further checks of the converted value
	doc   string            // meaning, for KEYS.md
}

// hostKeys are the keys that exist only at the top level.
var hostKeys = []keyDef{
	{name: "apps", kind: kString, field: "Apps", path: true, doc: "directory of the apps: `NAME.js`, `NAME.lua`, `NAME/index.js`, `NAME/index.lua`; may be empty (none) when `roots` are set, and the default `./apps` may then be missing"},
	{name: "roots", kind: kList, field: "Roots", path: true, check: eachString(checkGlob), doc: "globs of document roots (`/var/www/*/public_html`) whose every `.js`/`.lua` file is an app of its own, pooled by its real path"},
	{name: "only_apps", kind: kList, field: "OnlyApps", check: eachString(checkAppName), doc: "serve only these apps of the apps dir (by name); empty = every app. fcgihost writes it into the config of a process-isolated app's child"},
	{name: "listen", kind: kList, field: "Listen", path: true, check: eachString(checkGatewayAddr), doc: "listen addresses: `127.0.0.1:9000`, `[::1]:9000`, `unix:/run/fcgihost.sock` (FastCGI), each optionally prefixed by its protocol: `fcgi:`, `scgi:` (SCGI) or `uwsgi:` (the uwsgi protocol); `fd:0` is the socket a web server or spawn-fcgi passes on fd 0 and `fd:N` (N ≥ 3) a systemd socket, so `scgi:fd:0` serves SCGI on fd 0; a single string is a list of one. With no listener anywhere, `fcgihost serve` opens FastCGI on 127.0.0.1:9000 and HTTP on 127.0.0.1:8080"},
	{name: "http", kind: kString, field: "HTTP", path: true, check: emptyOr(checkAddr), doc: "address of the development HTTP listener; empty = off"},
	{name: "watch", kind: kBool, field: "Watch", doc: "watch the apps and roots and reload changed apps"},
	{name: "status_path", kind: kString, field: "StatusPath", check: emptyOr(checkURLPath), doc: "request path of the status page (JSON, `?html`, `?openmetrics`); empty = off"},
	{name: "fallback", kind: kString, field: "Fallback", check: emptyOr(checkAppName), doc: "the app (by name) that answers every request whose path finds no other app, with `req.path` the whole path and `req.base` empty: a front controller, like PHP's `index.php` behind `try_files`; empty = 404"},
	{name: "ping_path", kind: kString, field: "PingPath", check: emptyOr(checkURLPath), doc: "request path answered with `ping_response` to anyone; empty = off"},
	{name: "ping_response", kind: kString, field: "PingResponse", doc: "body of the ping answer"},
	{name: "status_allow", kind: kList, field: "StatusAllow", check: eachString(checkIPOrPrefix), doc: "client addresses or CIDR prefixes (matched against `REMOTE_ADDR`) allowed to read the status page"},
	{name: "max_conns", kind: kInt, field: "MaxConns", min: 1, doc: "most FastCGI connections at once; reported as `FCGI_MAX_CONNS`"},
	{name: "max_reqs", kind: kInt, field: "MaxReqs", min: 1, doc: "most requests in flight over all apps; reported as `FCGI_MAX_REQS`"},
	{name: "allowed_clients", kind: kList, field: "AllowedClients", check: eachString(checkIPOrPrefix), doc: "peer addresses or CIDR prefixes allowed to connect to a TCP FastCGI listener (like `FCGI_WEB_SERVER_ADDRS`); empty = any"},
	{name: "socket_mode", kind: kMode, field: "SocketMode", doc: "permissions of unix socket files, octal string (`\"0660\"`) or integer (`0o660`)"},
	{name: "grace_period", kind: kDuration, field: "GracePeriod", doc: "on SIGTERM/SIGINT, how long requests in flight may finish before exit; 0 = do not wait"},
	{name: "log_format", kind: kString, field: "LogFormat", oneOf: []string{"text", "json"}, doc: "log format: `text` or `json`"},
	{name: "log_level", kind: kString, field: "LogLevel", oneOf: []string{"debug", "info", "warn", "error"}, doc: "least level logged: `debug`, `info`, `warn`, `error`"},
	{name: "log_file", kind: kString, field: "LogFile", path: true, doc: "log file; empty = stderr"},
	{name: "access_log", kind: kString, field: "AccessLog", path: true, doc: "access log: empty = off, `-` = stderr, else a file"},
	{name: "access_log_format", kind: kString, field: "AccessLogFormat", oneOf: []string{"combined", "json"}, doc: "access log format: `combined` (Apache/nginx) or `json`"},
	{name: "data_dir", kind: kString, field: "DataDir", path: true, check: nonEmpty, doc: "directory of the embedded key-value store"},
	{name: "kv", kind: kString, field: "KV", check: checkKV, doc: "key-value store: `embedded` (a file under `data_dir`) or `redis://HOST:PORT/DB` (`rediss://` for TLS)"},
	{name: "processes", kind: kInt, field: "Processes", doc: "worker processes of `fcgihost serve`: a master holds the listeners and runs this many workers that accept on them and are replaced when they die (docs/processes.md); 0 = one process serves alone"},
	{name: "process_memory_limit", kind: kSize, field: "ProcessMemoryLimit", doc: "memory limit of each worker process, enforced by the kernel (cgroup v2, else cgroup v1, else rlimits); 0 = none"},
	{name: "process_max_rss", kind: kSize, field: "ProcessMaxRSS", doc: "replace a worker whose resident memory passes this; 0 = off"},
	{name: "process_max_requests", kind: kInt, field: "ProcessMaxRequests", doc: "replace a worker after this many requests; 0 = never"},
}

// appKeys are the keys of an app: at the top level they set Defaults, in
// [app.NAME] they override them for one app.
var appKeys = []keyDef{
	{name: "workers", kind: kInt, field: "Workers", min: 1, doc: "VMs in the app's pool"},
	{name: "max_requests", kind: kInt, field: "MaxRequests", doc: "requests a VM serves before it is replaced; 0 = never"},
	{name: "queue_timeout", kind: kDuration, field: "QueueTimeout", doc: "how long a request waits for a free VM, then 503; 0 = do not wait"},
	{name: "queue_size", kind: kInt, field: "QueueSize", min: 1, doc: "most requests waiting for a VM; past it, 503 at once"},
	{name: "timeout", kind: kDuration, field: "Timeout", min: 1, doc: "wall-clock limit of one request; the script is interrupted and its VM replaced"},
	{name: "memory_limit", kind: kSize, field: "MemoryLimit", min: 1, doc: "memory budget of one VM (with `isolation = \"process\"`: of the child process)"},
	{name: "max_body", kind: kSize, field: "MaxBody", min: 1, doc: "largest request body; larger is answered 413 before the script runs"},
	{name: "max_response", kind: kSize, field: "MaxResponse", min: 1, doc: "largest response body; output past it is cut and logged"},
	{name: "debug", kind: kBool, field: "Debug", doc: "send script errors and stacks to the client (development only)"},
	{name: "allow_internal_redirect", kind: kBool, field: "AllowInternalRedirect", doc: "let scripts send `X-Accel-Redirect` and every other `X-Accel-*`, `X-Sendfile`, `X-Sendfile2` and `X-LIGHTTPD-send-file` header, with which the web server serves a file or an internal location in the script's place; off = the host drops them from the response and logs a warning"},
	{name: "slowlog", kind: kDuration, field: "Slowlog", doc: "log requests slower than this with the URL and the script's stack; 0 = off"},
	{name: "kv_max_keys", kind: kInt, field: "KVMaxKeys", doc: "most keys the app may store; 0 = unlimited"},
	{name: "kv_max_bytes", kind: kSize, field: "KVMaxBytes", doc: "most bytes of keys and values the app may store; 0 = unlimited"},
	{name: "fetch_allow", kind: kList, field: "FetchAllow", check: eachString(checkHost), doc: "hosts (`api.example.com`, `api.example.com:8443`, `10.0.0.5`) the app may fetch from; no port = any port; empty = none"},
	{name: "isolation", kind: kString, field: "Isolation", oneOf: []string{"vm", "process"}, doc: "`vm`: VMs in the host process; `process`: the app's pool in a child process bounded by the kernel"},
	{name: "user", kind: kString, field: "User", doc: "user of a process-isolated app's child when the host runs as root; empty = the owner of the app's directory"},
	{name: "group", kind: kString, field: "Group", doc: "group of a process-isolated app's child; empty = the user's group"},
	{name: "max_rss", kind: kSize, field: "MaxRSS", doc: "replace a process-isolated app's child whose resident memory passes this; 0 = off"},
	{name: "env", kind: kList, field: "Env", check: eachString(checkEnv), doc: "the app's environment, what its scripts read as JS `env` / Lua `os.getenv` (and a process-isolated app's child gets as its process environment, every other variable cleared): `NAME=VALUE` sets one, a bare `NAME` passes fcgihost's own value (keep secrets there, not in this file)"},
	{name: "vars", kind: kVars, field: "Vars", check: eachString(checkVar), doc: "variables of the app's environment as a table (`[app.NAME.vars]`, `API_BASE = \"https://api.example.com\"`): added to `env` (JS `env.API_BASE`, Lua `os.getenv`), a name set in both taking this value. Values are in this file: keep secrets in `env` as a bare `NAME`"},
	{name: "namespaces", kind: kList, field: "Namespaces", check: eachString(checkNamespace), doc: "Linux namespaces of a process-isolated app's child when the host runs as root: `mount`, `pid`, `net` (no network: fetch and a Redis kv fail), `ipc`, `uts`; empty = none"},
	{name: "idle_timeout", kind: kDuration, field: "IdleTimeout", doc: "close the pool of a root script unused this long; 0 = never"},
}

var (
	hostByName = indexKeys(hostKeys)
	appByName  = indexKeys(appKeys)
)

func indexKeys(keys []keyDef) map[string]*keyDef {
	m := make(map[string]*keyDef, len(keys))
	for i := range keys {
		m[keys[i].name] = &keys[i]
	}
	return m
}

func hostField(c *Config, k keyDef) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByName(k.field)
}

func appField(a *App, k keyDef) reflect.Value {
	return reflect.ValueOf(a).Elem().FieldByName(k.field)
}

// tomlType names the TOML type of a decoded value, for messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date-time"
	}
	return fmt.Sprintf("a %T", v)
}

// convert turns a decoded TOML value into the key's value: a string, bool,
// int64 (every numeric kind) or []string. It checks the value too.
func (k keyDef) convert(raw any) (any, error) {
	var v any
	switch k.kind {
	case kString:
		s, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", tomlType(raw))
		}
		v = s
	case kBool:
		b, ok := raw.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", tomlType(raw))
		}
		v = b
	case kInt:
		n, ok := raw.(int64)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %s", tomlType(raw))
		}
		if n > int64(maxInt) || n < int64(minInt) {
			return nil, fmt.Errorf("%d is out of range", n)
		}
		v = n
	case kSize:
		switch x := raw.(type) {
		case int64:
			v = x
		case string:
			n, err := ParseSize(x)
			if err != nil {
				return nil, err
			}
			v = n
		default:
			return nil, fmt.Errorf("want a size (bytes, or a string like \"64MiB\"), got %s", tomlType(raw))
		}
	case kDuration:
		s, ok := raw.(string)
		if !ok {
			if n, isInt := raw.(int64); isInt {
				return nil, fmt.Errorf("bad duration %d: want a string with a unit, like \"%ds\"", n, n)
			}
			return nil, fmt.Errorf("want a duration string like \"30s\", got %s", tomlType(raw))
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("bad duration %q", s)
		}
		v = int64(d)
	case kMode:
		switch x := raw.(type) {
		case int64:
			v = x
		case string:
			m, err := parseMode(x)
			if err != nil {
				return nil, err
			}
			v = m
		default:
			return nil, fmt.Errorf("want a file mode like \"0660\", got %s", tomlType(raw))
		}
	case kList:
		switch x := raw.(type) {
		case string:
			v = []string{x}
		case []any:
			list := make([]string, 0, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d: want a string, got %s", i+1, tomlType(e))
				}
				list = append(list, s)
			}
			v = list
		default:
			return nil, fmt.Errorf("want an array of strings, got %s", tomlType(raw))
		}
	case kVars:
		t, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want a table of strings (NAME = \"value\"), got %s", tomlType(raw))
		}
		list := make([]string, 0, len(t))
		for name, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: want a string, got %s", name, tomlType(e))
			}
			list = append(list, name+"="+s)
		}
		slices.Sort(list)
		v = list
	}
	return v, k.validate(v)
}

const (
	maxInt = int(^uint(0) >> 1)
	minInt = -maxInt - 1
)

// validate checks a converted value against the key's rules.
func (k keyDef) validate(v any) error {
	switch k.kind {
	case kInt, kSize, kDuration:
		n := v.(int64)
		if n < k.min {
			return fmt.Errorf("%s, got %s", k.minRule(), k.format(v))
		}
	case kMode:
		if n := v.(int64); n < 0 || n > 0o777 {
			return fmt.Errorf("file mode %s is out of range 0000-0777", k.format(v))
		}
	case kString:
		if k.oneOf != nil && !slices.Contains(k.oneOf, v.(string)) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(quoteAll(k.oneOf), ", "))
		}
	}
	if k.check != nil {
		return k.check(v)
	}
	return nil
}

func (k keyDef) minRule() string {
	switch {
	case k.min == 0:
		return "must not be negative"
	case k.min == 1 && k.kind != kInt:
		return "must be more than 0"
	default:
		return fmt.Sprintf("must be at least %d", k.min)
	}
}

// store sets field to the converted value v.
func store(field reflect.Value, v any) {
	switch x := v.(type) {
	case string:
		field.SetString(x)
	case bool:
		field.SetBool(x)
	case int64:
		if field.Kind() == reflect.Uint32 {
			field.SetUint(uint64(x))
		} else {
			field.SetInt(x)
		}
	case []string:
		if len(x) == 0 {
			field.SetZero() // an empty list is nil, as in Default()
			return
		}
		field.Set(reflect.ValueOf(slices.Clone(x)))
	}
}

// load reads field back as the kind of value convert returns.
func load(field reflect.Value) any {
	switch field.Kind() {
	case reflect.String:
		return field.String()
	case reflect.Bool:
		return field.Bool()
	case reflect.Int, reflect.Int64:
		return field.Int()
	case reflect.Uint32:
		return int64(field.Uint())
	case reflect.Slice:
		return field.Interface().([]string)
	}
	panic("config: unexpected field kind " + field.Kind().String())
}

// format renders a converted value as TOML.
func (k keyDef) format(v any) string {
	switch k.kind {
	case kString:
		return strconv.Quote(v.(string))
	case kBool:
		return strconv.FormatBool(v.(bool))
	case kInt:
		return strconv.FormatInt(v.(int64), 10)
	case kSize:
		s := FormatSize(v.(int64))
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			s = strconv.Quote(s)
		}
		return s
	case kDuration:
		return strconv.Quote(time.Duration(v.(int64)).String())
	case kMode:
		return fmt.Sprintf("%q", fmt.Sprintf("%04o", v.(int64)))
	case kList:
		return "[" + strings.Join(quoteAll(v.([]string)), ", ") + "]"
	case kVars:
		var parts []string
		for _, e := range v.([]string) {
			name, val, _ := strings.Cut(e, "=")
			parts = append(parts, strconv.Quote(name)+" = "+strconv.Quote(val))
		}
		if len(parts) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return fmt.Sprint(v)
}

func quoteAll(list []string) []string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return q
}

// parseMode reads an octal file mode string: "0660", "660" or "0o660".
func parseMode(s string) (int64, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || t == "" {
		return 0, fmt.Errorf("bad file mode %q: want octal, like \"0660\"", s)
	}
	return int64(n), nil
}

// Checks used by the key tables.

func nonEmpty(v any) error {
	if v.(string) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func emptyOr(check func(string) error) func(any) error {
	return func(v any) error {
		if s := v.(string); s != "" {
			return check(s)
		}
		return nil
	}
}

func eachString(check func(string) error) func(any) error {
	return func(v any) error {
		for _, s := range v.([]string) {
			if err := check(s); err != nil {
				return err
			}
		}
		return nil
	}
}

func checkAppName(s string) error {
	if s == "" || strings.ContainsAny(s, "/\\\x00") {
		return fmt.Errorf("bad app name %q", s)
	}
	return nil
}

func checkEnv(s string) error {
	name, _, _ := strings.Cut(s, "=")
	if name == "" || strings.ContainsAny(name, " \t\x00") || strings.ContainsRune(s, 0) {
		return fmt.Errorf("bad environment entry %q: want NAME or NAME=VALUE", s)
	}
	return nil
}

func checkVar(s string) error {
	name, _, _ := strings.Cut(s, "=")
	if name == "" || strings.ContainsAny(name, "= \t\x00") || strings.ContainsRune(s, 0) {
		return fmt.Errorf("bad variable name %q", name)
	}
	return nil
}

// Namespaces are the Linux namespaces the namespaces key may name.
var Namespaces = []string{"mount", "pid", "net", "ipc", "uts"}

func checkNamespace(s string) error {
	if !slices.Contains(Namespaces, s) {
		return fmt.Errorf("%q is not one of %s", s, strings.Join(quoteAll(Namespaces), ", "))
	}
	return nil
}

func checkGlob(s string) error {
	if s == "" {
		return errors.New("empty glob")
	}
	if _, err := filepath.Match(s, ""); err != nil {
		return fmt.Errorf("bad glob %q: %w", s, err)
	}
	return nil
}

// SplitProto splits a listen address's protocol prefix off: "scgi:ADDR"
// is ("scgi", ADDR), "uwsgi:ADDR" ("uwsgi", ADDR), "fcgi:ADDR" and a bare
// ADDR ("fcgi", ADDR).
func SplitProto(addr string) (proto, rest string) {
	for _, p := range [...]string{"fcgi", "scgi", "uwsgi"} {
		if r, ok := strings.CutPrefix(addr, p+":"); ok {
			return p, r
		}
	}
	return "fcgi", addr
}

func checkGatewayAddr(s string) error {
	_, a := SplitProto(s)
	if _, ok, err := ParseFD(a); ok || err != nil {
		return err
	}
	return checkAddr(a)
}

// ParseFD reports whether a listen address (its protocol prefix split off)
// names a socket fcgihost inherits rather than opens — "fd:0", the socket
// a web server or spawn-fcgi passes on fd 0, or "fd:N" (N ≥ 3), a socket
// of systemd's LISTEN_FDS — and which descriptor (docs/reference.md,
// "Gateways"). An "fd:" address with another number is an error.
func ParseFD(addr string) (fd int, ok bool, err error) {
	rest, ok := strings.CutPrefix(addr, "fd:")
	if !ok {
		return 0, false, nil
	}
	n, perr := strconv.ParseUint(rest, 10, 31)
	if perr != nil || (n != 0 && n < 3) {
		return 0, false, fmt.Errorf("bad address %q: want fd:0 (the socket a web server passes on fd 0) or fd:N, N from 3 on (a systemd socket)", addr)
	}
	return int(n), true, nil
}

// checkPoolAddr checks a pool's listen address: FastCGI, opened by
// fcgihost (an inherited "fd:N" belongs to the top-level listen).
func checkPoolAddr(s string) error {
	if strings.HasPrefix(s, "fd:") {
		return fmt.Errorf("bad address %q: a pool opens its own sockets; name an inherited socket in the top-level listen", s)
	}
	return checkAddr(s)
}

func checkAddr(s string) error {
	_, _, err := ParseAddr(s)
	return err
}

// ParseAddr splits a listen address into the network and address that
// net.Listen takes: "unix:/run/x.sock" is ("unix", "/run/x.sock"),
// "127.0.0.1:9000", "[::1]:9000", "localhost:9000" and ":9000" are "tcp".
func ParseAddr(addr string) (network, address string, err error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return "", "", fmt.Errorf("bad address %q: empty socket path", addr)
		}
		return "unix", path, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("bad address %q: want HOST:PORT, [IPv6]:PORT or unix:PATH", addr)
	}
	if strings.ContainsAny(host, " /") {
		return "", "", fmt.Errorf("bad address %q: bad host %q", addr, host)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && p == 0) {
		return "", "", fmt.Errorf("bad address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	return "tcp", addr, nil
}

func checkURLPath(s string) error {
	if !strings.HasPrefix(s, "/") {
		return fmt.Errorf("path %q must start with /", s)
	}
	return nil
}

func checkIPOrPrefix(s string) error {
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	return fmt.Errorf("%q is not an IP address or CIDR prefix", s)
}

func checkHost(s string) error {
	bad := func(why string) error { return fmt.Errorf("bad host %q: %s", s, why) }
	switch {
	case s == "":
		return bad("empty")
	case strings.Contains(s, "://"):
		return bad("want a host name, not a URL")
	case strings.ContainsAny(s, "/ \t?#@"):
		return bad("want HOST or HOST:PORT")
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return nil // an IP literal, IPv6 with or without brackets
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return bad("empty host")
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return bad("port is not a number from 0 to 65535")
		}
	}
	return nil
}

func checkKV(v any) error {
	s := v.(string)
	if s == "embedded" || s == "bbolt" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return fmt.Errorf("%q is neither \"embedded\", \"bbolt\" nor a redis:// URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: missing HOST:PORT", s)
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if _, err := strconv.ParseUint(db, 10, 16); err != nil {
			return fmt.Errorf("%q: database %q is not a number", s, db)
		}
	}
	return nil
}

// suggest returns the known key closest to an unknown one, or "".
func suggest(unknown string, tables ...[]keyDef) string {
	best, bestDist := "", 3 // suggest only within 2 edits
	for _, t := range tables {
		for _, k := range t {
			if strings.EqualFold(unknown, k.name) {
				return k.name // keys are case-sensitive
			}
			if d := editDistance(unknown, k.name); d < bestDist {
				best, bestDist = k.name, d
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
