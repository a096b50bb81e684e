package config

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
)

// Config is the whole configuration: the host-wide keys, the defaults of
// every app (the top-level per-app keys) and the [app.NAME] overrides.
// Zero means "off" or "unlimited" only where a field says so.
type Config struct {
	// Apps is the apps directory ("apps", default "./apps").
	Apps string
	// Roots are globs of document roots whose every .js/.lua file is an app
	// of its own ("roots", default none).
	Roots []string
	// OnlyApps limits the apps dir to these app names ("only_apps",
	// default none = every app); the config of a process-isolated app's
	// child names its one app.
	OnlyApps []string
	// Listen are the FastCGI listen addresses: "127.0.0.1:9000",
	// "[::1]:9000", "unix:/run/fcgihost.sock" ("listen", default none; the
	// command decides what no listener means).
	Listen []string
	// HTTP is the address of the development HTTP listener ("http",
	// default "" = off).
	HTTP string
	// Watch turns on watching the apps and roots for changes ("watch",
	// default true).
	Watch bool
	// StatusPath is the request path of the status page ("status_path",
	// default "" = off).
	StatusPath string
	// PingPath is the request path answered with PingResponse ("ping_path",
	// default "" = off).
	PingPath string
	// Fallback names the app of the apps dir that answers every request
	// whose path finds no other app, with req.path the whole path: a front
	// controller ("fallback", default "" = off; docs/reference.md §2).
	Fallback string
	// PingResponse is the body of the ping answer ("ping_response", default
	// "pong").
	PingResponse string
	// StatusAllow are the addresses or CIDR prefixes allowed to read the
	// status page ("status_allow", default ["127.0.0.1", "::1"]).
	StatusAllow []string
	// MaxConns is the most FastCGI connections at once ("max_conns", default
	// 1024); also FCGI_MAX_CONNS.
	MaxConns int
	// MaxReqs is the most requests in flight in all ("max_reqs", default
	// 1024); also FCGI_MAX_REQS.
	MaxReqs int
	// AllowedClients are the addresses or CIDR prefixes allowed to connect
	// to a TCP FastCGI listener, like FCGI_WEB_SERVER_ADDRS
	// ("allowed_clients", default none = anyone that can reach it).
	AllowedClients []string
	// SocketMode is the permission of unix socket files ("socket_mode",
	// default 0660).
	SocketMode os.FileMode
	// GracePeriod is how long SIGTERM waits for requests in flight
	// ("grace_period", default 10s; 0 = do not wait).
	GracePeriod time.Duration
	// LogFormat is "text" or "json" ("log_format", default "text").
	LogFormat string
	// LogLevel is debug, info, warn or error ("log_level", default "info").
	LogLevel string
	// LogFile is the log file ("log_file", default "" = stderr).
	LogFile string
	// AccessLog is where the access log goes ("access_log", default "" =
	// off, "-" = stderr, else a file).
	AccessLog string
	// AccessLogFormat is "combined" or "json" ("access_log_format", default
	// "combined").
	AccessLogFormat string
	// DataDir holds the embedded key-value store ("data_dir", default
	// "./data").
	DataDir string
	// KV is "embedded", "bbolt" (the previous embedded store, one
	// process only) or "redis://HOST:PORT/DB" ("kv", default "embedded").
	KV string
	// Processes is the number of worker processes of `fcgihost serve`
	// ("processes", default DefaultProcesses; 0 = the serving process runs
	// the scripts itself).
	Processes int
	// ProcessMemoryLimit is the kernel-enforced memory limit of each worker
	// process in bytes ("process_memory_limit", default 0 = none).
	ProcessMemoryLimit int64
	// ProcessMaxRSS replaces a worker past this resident size
	// ("process_max_rss", default 0 = off).
	ProcessMaxRSS int64
	// ProcessMaxRequests replaces a worker after this many requests
	// ("process_max_requests", default 0 = never).
	ProcessMaxRequests int

	// Pools are the [pool.NAME] tables (docs/processes.md): apps or roots
	// served by their own workers on their own sockets.
	Pools map[string]Pool

	// Defaults are the per-app keys set at the top level: the settings of
	// every app that has no [app.NAME] override for a key.
	Defaults App
	// AppOverrides are the [app.NAME] tables. Only the keys written in a
	// table override Defaults (see AppConfig); the rest of its fields are
	// meaningless.
	AppOverrides map[string]App

	// appSet records, per [app.NAME], the keys written there. An override
	// with no record (built by hand, not parsed) lays over its non-zero
	// fields instead.
	appSet map[string]map[string]bool
}

// App are the settings of one app. Zero means "off" or "unlimited" only
// where a field says so.
type App struct {
	// Workers is the number of VMs ("workers", default the number of CPUs).
	Workers int
	// MaxRequests is the requests a VM serves before it is replaced
	// ("max_requests", default 0 = never).
	MaxRequests int
	// QueueTimeout is how long a request waits for a free VM before a 503
	// ("queue_timeout", default 5s; 0 = do not wait).
	QueueTimeout time.Duration
	// QueueSize is the most requests waiting for a VM; more get a 503
	// ("queue_size", default 1024).
	QueueSize int
	// Timeout is the wall-clock limit of one request ("timeout", default 30s).
	Timeout time.Duration
	// MemoryLimit is the memory budget of one VM in bytes ("memory_limit",
	// default 64MiB).
	MemoryLimit int64
	// MaxBody is the largest request body in bytes ("max_body", default
	// 8MiB); larger is a 413.
	MaxBody int64
	// MaxResponse is the largest response body in bytes ("max_response",
	// default 64MiB).
	MaxResponse int64
	// Debug shows script errors and stacks to the client ("debug", default
	// false).
	Debug bool
	// Slowlog is the duration after which a request is logged with its
	// stack ("slowlog", default 0 = off).
	Slowlog time.Duration
	// AllowInternalRedirect lets the app's scripts send the headers that
	// make the web server serve a file or an internal location in their
	// place: X-Accel-* (nginx), X-Sendfile, X-Sendfile2,
	// X-LIGHTTPD-send-file ("allow_internal_redirect", default false: the
	// host drops them and logs it; docs/sandbox.md).
	AllowInternalRedirect bool
	// KVMaxKeys is the app's key quota ("kv_max_keys", default 0 =
	// unlimited).
	KVMaxKeys int64
	// KVMaxBytes is the app's quota of key and value bytes ("kv_max_bytes",
	// default 0 = unlimited).
	KVMaxBytes int64
	// FetchAllow are the hosts ("host" or "host:port") the app may fetch
	// from ("fetch_allow", default none).
	FetchAllow []string
	// Isolation is "vm" or "process" ("isolation", default "vm").
	Isolation string
	// User and Group run a process-isolated app ("user", "group", default ""
	// = the owner of the app's directory).
	User, Group string
	// MaxRSS recycles a process-isolated app's child past this resident
	// size in bytes ("max_rss", default 0 = off).
	MaxRSS int64
	// Env is the environment of a process-isolated app's child: "NAME"
	// passes the host's value, "NAME=VALUE" sets one ("env", default none:
	// the environment is cleared).
	Env []string
	// Vars are "NAME=VALUE" entries from the [app.NAME.vars] table, sorted
	// ("vars", default none). AppConfig appends them to Env.
	Vars []string
	// Namespaces are the Linux namespaces a process-isolated app's child
	// gets when the host runs as root: mount, pid, net, ipc, uts
	// ("namespaces", default none).
	Namespaces []string
	// IdleTimeout closes the pool of a root script idle this long
	// ("idle_timeout", default 60s; 0 = never).
	IdleTimeout time.Duration
}

// Default values that are not sandbox.Limits defaults.
const (
	DefaultApps         = "./apps"
	DefaultDataDir      = "./data"
	DefaultMaxConns     = 1024
	DefaultMaxReqs      = 1024
	DefaultSocketMode   = os.FileMode(0o660)
	DefaultGracePeriod  = 10 * time.Second
	DefaultQueueTimeout = 5 * time.Second
	DefaultQueueSize    = 1024
	DefaultIdleTimeout  = 60 * time.Second
	DefaultPingResponse = "pong"
	// DefaultProcesses is the default of processes (README.md, "Process
	// model").
	DefaultProcesses = 2
)

// defaultWorkers gives the default of workers; tests fix it so that golden
// files do not depend on the machine.
var defaultWorkers = runtime.NumCPU

// Default returns the configuration used when no file and no flag sets a
// key.
func Default() *Config {
	return &Config{
		Apps:            DefaultApps,
		Watch:           true,
		PingResponse:    DefaultPingResponse,
		StatusAllow:     []string{"127.0.0.1", "::1"},
		MaxConns:        DefaultMaxConns,
		MaxReqs:         DefaultMaxReqs,
		SocketMode:      DefaultSocketMode,
		GracePeriod:     DefaultGracePeriod,
		LogFormat:       "text",
		LogLevel:        "info",
		AccessLogFormat: "combined",
		DataDir:         DefaultDataDir,
		KV:              "embedded",
		Processes:       DefaultProcesses,
		Defaults:        DefaultApp(),
	}
}

// DefaultApp returns the settings of an app that nothing configures.
func DefaultApp() App {
	return App{
		Workers:      defaultWorkers(),
		QueueTimeout: DefaultQueueTimeout,
		QueueSize:    DefaultQueueSize,
		Timeout:      sandbox.DefaultTimeout,
		MemoryLimit:  sandbox.DefaultMemoryLimit,
		MaxBody:      sandbox.DefaultMaxBody,
		MaxResponse:  sandbox.DefaultMaxResponse,
		Isolation:    "vm",
		IdleTimeout:  DefaultIdleTimeout,
	}
}

// AppConfig returns the settings of the app called name (an app name, or a
// root script's real path): Defaults with the keys of its [app.NAME] table
// laid over.
func (c *Config) AppConfig(name string) App {
	a := c.Defaults
	if ov, ok := c.AppOverrides[name]; ok {
		set, tracked := c.appSet[name]
		for _, k := range appKeys {
			if (tracked && set[k.name]) || (!tracked && !appField(&ov, k).IsZero()) {
				appField(&a, k).Set(appField(&ov, k))
			}
		}
	}
	a.FetchAllow = slices.Clone(a.FetchAllow)
	a.Env = slices.Clone(a.Env)
	if len(a.Vars) > 0 {
		// A name both in env and in vars takes the vars value: drop it
		// from env first.
		set := make(map[string]bool, len(a.Vars))
		for _, e := range a.Vars {
			name, _, _ := strings.Cut(e, "=")
			set[name] = true
		}
		a.Env = slices.DeleteFunc(a.Env, func(e string) bool {
			name, _, _ := strings.Cut(e, "=")
			return set[name]
		})
		a.Env = append(a.Env, a.Vars...)
		a.Vars = nil
	}
	a.Namespaces = slices.Clone(a.Namespaces)
	return a
}

// OverriddenKeys returns the keys written in the [app.NAME] table of name,
// in the order of KEYS.md (nil if there is no such table).
func (c *Config) OverriddenKeys(name string) []string {
	ov, ok := c.AppOverrides[name]
	if !ok {
		return nil
	}
	set, tracked := c.appSet[name]
	var keys []string
	for _, k := range appKeys {
		if (tracked && set[k.name]) || (!tracked && !appField(&ov, k).IsZero()) {
			keys = append(keys, k.name)
		}
	}
	return keys
}

// setOverride records that key was written in [app.NAME].
func (c *Config) setOverride(name, key string) {
	if c.appSet == nil {
		c.appSet = make(map[string]map[string]bool)
	}
	if c.appSet[name] == nil {
		c.appSet[name] = make(map[string]bool)
	}
	c.appSet[name][key] = true
}

// Limits maps the app's settings to the sandbox's limits, with the
// sandbox's defaults filled in for what the config does not set (call
// stack, string size).
func (a App) Limits() sandbox.Limits {
	return sandbox.Limits{
		Timeout:     a.Timeout,
		MemoryLimit: a.MemoryLimit,
		MaxBody:     a.MaxBody,
		MaxResponse: a.MaxResponse,
	}.WithDefaults()
}
