// Package config owns fcgihost's settings: the Config struct and its
// defaults, reading the TOML config file, checking every value, the
// per-app [app.NAME] overrides, and the `serve` command-line flags that
// mirror config keys. It knows nothing of FastCGI or the engines; the
// command reads a Config and hands each part to the package that uses it.
//
// Typical use by the command:
//
//	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
//	flags := config.BindFlags(fs)
//	if err := fs.Parse(args); err != nil { ... }
//	cfg, err := flags.Load() // Default(), the file, the flags, Validate
//	app := cfg.AppConfig("hello")
//	limits := app.Limits()
//
// # File format
//
// The file is TOML. Durations are Go duration strings ("250ms", "30s",
// "1m30s"); a bare integer is refused, as its unit would be a guess. Sizes
// are integers (bytes) or strings with a unit: "512KiB", "64MiB", "1GiB"
// (powers of 1024), "100kB", "8MB", "1GB" (powers of 1000); single-letter
// units ("64M") are refused as ambiguous. File modes are octal strings
// ("0660") or TOML integers (0o660). A list key also takes a single string.
// Relative paths in a file are relative to the file's directory; the
// defaults and flags are relative to the working directory.
//
// Top-level keys set the host and the defaults of every app; an
// [app.NAME] table overrides app keys for one app (NAME as the apps
// directory names it, or a root script's real path, quoted:
// [app."/var/www/site/public_html/api.js"]). Only the keys written in the
// table override; host-wide keys are refused there. An unknown key, a value
// of the wrong type or out of range is an error naming the file, line and
// key:
//
//	config.toml:3: unknown key "wrokers" (did you mean "workers"?)
//	config.toml:12: key "timeout": bad duration "30 s"
//
// # Host keys (top level only)
//
//	apps              string    "./apps"       apps directory
//	roots             [string]  []             document-root globs; every .js/.lua file inside is an app
//	only_apps         [string]  []             serve only these apps of the apps dir (an isolated child's config)
//	listen            [string]  []             FastCGI addresses: "127.0.0.1:9000", "[::1]:9000", "unix:/run/x.sock"
//	http              string    ""             development HTTP listener; "" = off
//	watch             bool      true           reload apps whose files change
//	status_path       string    ""             status page path; "" = off
//	ping_path         string    ""             ping path; "" = off
//	fallback          string    ""             app answering every path no other app takes; "" = 404
//	ping_response     string    "pong"         body of the ping answer
//	status_allow      [string]  ["127.0.0.1", "::1"]  IPs/CIDRs allowed to read the status page
//	max_conns         int       1024           most FastCGI connections (FCGI_MAX_CONNS)
//	max_reqs          int       1024           most requests in flight in all (FCGI_MAX_REQS)
//	allowed_clients   [string]  []             IPs/CIDRs allowed to connect over TCP; [] = any
//	socket_mode       mode      "0660"         unix socket permissions
//	grace_period      duration  "10s"          SIGTERM drain time; 0 = none
//	log_format        string    "text"         text | json
//	log_level         string    "info"         debug | info | warn | error
//	log_file          string    ""             "" = stderr
//	access_log        string    ""             "" = off, "-" = stderr, else a file
//	access_log_format string    "combined"     combined | json
//	data_dir          string    "./data"       embedded key-value store directory
//	kv                string    "embedded"     embedded | bbolt | redis://HOST:PORT/DB
//	processes         int       2              worker processes under a master; 0 = one process
//	process_memory_limit size   0              kernel memory limit per worker; 0 = none
//	process_max_rss   size      0              replace a worker past this RSS; 0 = off
//	process_max_requests int    0              replace a worker after N requests; 0 = never
//
// The defaults leave status_path, ping_path and listen empty: the command
// chooses what no listener means (docs/reference.md §1) and may turn on the status and
// ping paths in development.
//
// # App keys (top level: every app; [app.NAME]: one app)
//
//	workers           int       CPUs           VMs in the pool (≥ 1)
//	max_requests      int       0              requests per VM before it is replaced; 0 = never
//	queue_timeout     duration  "5s"           wait for a free VM, then 503; 0 = do not wait
//	queue_size        int       1024           most requests waiting (≥ 1)
//	timeout           duration  "30s"          limit of one request (> 0)
//	memory_limit      size      "64MiB"        memory of one VM (> 0)
//	max_body          size      "8MiB"         largest request body, else 413 (> 0)
//	max_response      size      "64MiB"        largest response body (> 0)
//	debug             bool      false          errors and stacks to the client
//	allow_internal_redirect bool false     keep X-Accel-*, X-Sendfile headers scripts set; false = drop them
//	slowlog           duration  "0s"           log slower requests with their stack; 0 = off
//	kv_max_keys       int       0              key quota; 0 = unlimited
//	kv_max_bytes      size      0              byte quota; 0 = unlimited
//	fetch_allow       [string]  []             hosts fetch may reach; [] = none
//	isolation         string    "vm"           vm | process
//	user, group       string    ""             identity of a process-isolated child; "" = owner of the app dir
//	max_rss           size      0              recycle a process-isolated child past this RSS; 0 = off
//	env               [string]  []             environment of a process-isolated child (NAME or NAME=VALUE)
//	vars              {string}  {}             environment variables as a table ([app.NAME.vars]), added to env
//	namespaces        [string]  []             namespaces of a process-isolated child: mount pid net ipc uts
//	idle_timeout      duration  "1m0s"         close an idle root script's pool; 0 = never
//
// KEYS.md in this directory has the same table with each key's meaning; a
// test keeps it, this comment and the code in agreement.
//
// # Flags
//
// BindFlags registers the `serve` flags --config FILE (else
// $FCGIHOST_CONFIG), --apps, --root (repeatable), --listen (repeatable),
// --http, --watch, --workers, --timeout, --max-requests and --debug. Only
// flags given on the command line are applied, and they win over the file,
// [app.NAME] tables included.
package config
