package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// EnvConfig names the environment variable that gives the config file when
// --config is not used.
const EnvConfig = "FCGIHOST_CONFIG"

// Flags are the `serve` flags that mirror config keys. Bind them with
// BindFlags, parse the FlagSet, then Load the file and Apply the flags.
type Flags struct {
	fs *flag.FlagSet

	// EnvFileOptional makes a file named by $FCGIHOST_CONFIG (not by
	// --config) that does not exist mean "no config file": Load uses the
	// defaults and Missing reports the path. fcgihost sets it when the web
	// server started it (mod_fcgid, lighttpd bin-path), whose recipes in
	// docs/deploy name a file that is optional.
	EnvFileOptional bool
	missing         string

	config      string
	apps        string
	roots       stringList
	listen      stringList
	http        string
	watch       bool
	workers     int
	processes   int
	timeout     time.Duration
	maxRequests int
	debug       bool
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// BindFlags registers on fs: --config FILE, --apps DIR, --root GLOB
// (repeatable), --listen ADDR (repeatable), --http ADDR, --watch=BOOL,
// --workers N, --processes N, --timeout DURATION, --max-requests N, --debug.
func BindFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	d := DefaultApp()
	fs.StringVar(&f.config, "config", "", "TOML config `file` (default $"+EnvConfig+")")
	fs.StringVar(&f.apps, "apps", DefaultApps, "apps `dir`ectory (config: apps)")
	fs.Var(&f.roots, "root", "document root `glob` whose .js/.lua files are apps; repeatable (config: roots)")
	fs.Var(&f.listen, "listen", "listen `addr`ess: HOST:PORT or unix:PATH (FastCGI), or scgi:ADDR, uwsgi:ADDR; fd:0 is the socket passed on fd 0 (scgi:fd:0 serves SCGI on it); repeatable (config: listen)")
	fs.StringVar(&f.http, "http", "", "development HTTP listen `addr`ess (config: http)")
	fs.BoolVar(&f.watch, "watch", true, "reload apps when their files change (config: watch)")
	fs.IntVar(&f.workers, "workers", d.Workers, "VMs per app (config: workers)")
	fs.IntVar(&f.processes, "processes", DefaultProcesses, "worker processes under a master, 0 = serve in this process (config: processes)")
	fs.DurationVar(&f.timeout, "timeout", d.Timeout, "time limit of one request (config: timeout)")
	fs.IntVar(&f.maxRequests, "max-requests", 0, "requests a VM serves before it is replaced, 0 = never (config: max_requests)")
	fs.BoolVar(&f.debug, "debug", false, "show script errors and stacks to clients (config: debug)")
	return f
}

// ConfigPath returns the config file named by --config, else by
// $FCGIHOST_CONFIG, else "".
func (f *Flags) ConfigPath() string {
	if f.given("config") {
		return f.config
	}
	return os.Getenv(EnvConfig)
}

// Apply sets on c the keys whose flags were given on the command line; the
// others leave c alone. A flag that sets an app key (--workers, --timeout,
// --max-requests, --debug) sets it for every app: the command line wins
// over the [app.NAME] tables of the file too. --root replaces the file's
// roots. When --listen or --http is given, Listen and HTTP become exactly
// what the command line names (docs/reference.md §1: only those listeners open), so a
// lone --http clears the file's listen list.
func (f *Flags) Apply(c *Config) {
	if f.ListenersGiven() {
		c.Listen = append([]string(nil), f.listen...)
		c.HTTP = f.http
	}
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "apps":
			c.Apps = f.apps
		case "root":
			c.Roots = append([]string(nil), f.roots...)
		case "watch":
			c.Watch = f.watch
		case "workers":
			c.Defaults.Workers = f.workers
			c.clearOverride("workers")
		case "processes":
			c.Processes = f.processes
		case "timeout":
			c.Defaults.Timeout = f.timeout
			c.clearOverride("timeout")
		case "max-requests":
			c.Defaults.MaxRequests = f.maxRequests
			c.clearOverride("max_requests")
		case "debug":
			c.Defaults.Debug = f.debug
			c.clearOverride("debug")
		}
	})
}

// clearOverride drops key from every [app.NAME] table.
func (c *Config) clearOverride(key string) {
	for name, ov := range c.AppOverrides {
		if set, ok := c.appSet[name]; ok {
			delete(set, key)
			continue
		}
		// An untracked override lays over its non-zero fields: zero this one.
		k := *appByName[key]
		field := appField(&ov, k)
		field.SetZero()
		c.AppOverrides[name] = ov
	}
}

// ListenersGiven reports whether --listen or --http was given: then only
// the listeners named on the command line are opened.
func (f *Flags) ListenersGiven() bool {
	return f.given("listen") || f.given("http")
}

// Load returns the configuration the flags describe: Default(), then the
// file of ConfigPath() if any, then the flags; validated.
func (f *Flags) Load() (*Config, error) {
	c := Default()
	f.missing = ""
	path := f.ConfigPath()
	if path != "" && f.EnvFileOptional && !f.given("config") {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			f.missing, path = path, ""
		}
	}
	if path != "" {
		var err error
		if c, err = Load(path); err != nil {
			return nil, err
		}
	}
	f.Apply(c)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Missing returns the path of the optional config file the last Load did
// not find (see EnvFileOptional), or "".
func (f *Flags) Missing() string { return f.missing }

func (f *Flags) given(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == name {
			found = true
		}
	})
	return found
}
