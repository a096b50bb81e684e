package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "100B", want: 100},
		{in: "100kB", want: 100_000},
		{in: "100KB", want: 100_000},
		{in: "8MB", want: 8_000_000},
		{in: "2GB", want: 2_000_000_000},
		{in: "1TB", want: 1_000_000_000_000},
		{in: "512KiB", want: 512 << 10},
		{in: "64MiB", want: 64 << 20},
		{in: "64mib", want: 64 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "1.5GiB", want: 3 << 29},
		{in: "0.5kB", want: 500},
		{in: " 64 MiB ", want: 64 << 20},
		{in: "1.0001B", want: 1}, // fractions of a byte are dropped
		{in: "64M", wantErr: `unknown unit "M"`},
		{in: "8k", wantErr: `unknown unit "k"`},
		{in: "MiB", wantErr: "want a number"},
		{in: "", wantErr: "want a number"},
		{in: "1.2.3MB", wantErr: "want a number"},
		{in: "-1MiB", wantErr: "must not be negative"},
		{in: "9999999TiB", wantErr: "too large"},
		{in: "9223372036854775808", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1234, "1234"},
		{1024, "1KiB"},
		{1000, "1kB"},
		{64 << 20, "64MiB"},
		{8_000_000, "8MB"},
		{3 << 29, "1536MiB"},
		{1 << 40, "1TiB"},
	}
	for _, tt := range tests {
		got := FormatSize(tt.n)
		if got != tt.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
		if back, err := ParseSize(got); err != nil || back != tt.n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tt.n, back, err)
		}
	}
}

// TestDurations checks how every duration key reads its value.
func TestDurations(t *testing.T) {
	tests := []struct {
		value   string // TOML value
		want    time.Duration
		wantErr string
	}{
		{value: `"30s"`, want: 30 * time.Second},
		{value: `"250ms"`, want: 250 * time.Millisecond},
		{value: `"1m30s"`, want: 90 * time.Second},
		{value: `"1h"`, want: time.Hour},
		{value: `"0"`, want: 0},
		{value: `"30 s"`, wantErr: `bad duration "30 s"`},
		{value: `"30"`, wantErr: `bad duration "30"`},
		{value: `"soon"`, wantErr: `bad duration "soon"`},
		{value: `30`, wantErr: `bad duration 30: want a string with a unit`},
		{value: `1.5`, wantErr: `want a duration string like "30s", got a float`},
		{value: `"-5s"`, wantErr: `must not be negative, got "-5s"`},
	}
	keys := []string{"queue_timeout", "slowlog", "idle_timeout", "grace_period"}
	for _, key := range keys {
		for _, tt := range tests {
			t.Run(key+"="+tt.value, func(t *testing.T) {
				c, err := Parse("d.toml", []byte("\n"+key+" = "+tt.value))
				if tt.wantErr != "" {
					want := `d.toml:2: key "` + key + `": ` + tt.wantErr
					if err == nil || !strings.HasPrefix(err.Error(), want) {
						t.Fatalf("err = %v, want prefix %q", err, want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var got time.Duration
				switch key {
				case "grace_period":
					got = c.GracePeriod
				case "queue_timeout":
					got = c.Defaults.QueueTimeout
				case "slowlog":
					got = c.Defaults.Slowlog
				case "idle_timeout":
					got = c.Defaults.IdleTimeout
				}
				if got != tt.want {
					t.Fatalf("%s = %v, want %v", key, got, tt.want)
				}
			})
		}
	}
	// timeout alone must be more than zero.
	if _, err := Parse("d.toml", []byte(`timeout = "0s"`)); err == nil || !strings.Contains(err.Error(), "must be more than 0") {
		t.Errorf("timeout = 0s: err = %v", err)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if got := c.Defaults.Workers; got != runtime.NumCPU() {
		t.Errorf("default workers = %d, want NumCPU %d", got, runtime.NumCPU())
	}
	if got, want := c.Defaults.Limits(), (sandbox.Limits{}).WithDefaults(); got != want {
		t.Errorf("default Limits() = %+v, want the sandbox defaults %+v", got, want)
	}
	// Each call returns a fresh value: changing one does not change the next.
	c.StatusAllow[0] = "10.0.0.1"
	c.Defaults.Workers = 99
	if d := Default(); d.StatusAllow[0] != "127.0.0.1" || d.Defaults.Workers == 99 {
		t.Errorf("Default() shares state between calls: %v %d", d.StatusAllow, d.Defaults.Workers)
	}
}

func TestAppConfig(t *testing.T) {
	c, err := Parse("a.toml", []byte(`
workers = 4
timeout = "10s"
debug = true
fetch_allow = ["a.example"]

[app.hello]
workers = 1

[app.quiet]
debug = false          # set to the zero value: still an override
fetch_allow = []

[app."/var/www/x/public_html/api.js"]
memory_limit = "16MiB"
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		workers int
		timeout time.Duration
		debug   bool
		fetch   []string
		memory  int64
	}{
		{"hello", 1, 10 * time.Second, true, []string{"a.example"}, 64 << 20},
		{"quiet", 4, 10 * time.Second, false, nil, 64 << 20},
		{"/var/www/x/public_html/api.js", 4, 10 * time.Second, true, []string{"a.example"}, 16 << 20},
		{"other", 4, 10 * time.Second, true, []string{"a.example"}, 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := c.AppConfig(tt.name)
			if a.Workers != tt.workers || a.Timeout != tt.timeout || a.Debug != tt.debug ||
				!slices.Equal(a.FetchAllow, tt.fetch) || a.MemoryLimit != tt.memory {
				t.Errorf("AppConfig(%q) = %+v", tt.name, a)
			}
			if got := a.Limits(); got.Timeout != tt.timeout || got.MemoryLimit != tt.memory {
				t.Errorf("Limits() = %+v", got)
			}
		})
	}
	// The result is a copy: changing it leaves the config alone.
	a := c.AppConfig("hello")
	a.FetchAllow[0] = "evil.example"
	if got := c.AppConfig("hello").FetchAllow[0]; got != "a.example" {
		t.Errorf("AppConfig shares FetchAllow: %q", got)
	}
	if got, want := c.OverriddenKeys("quiet"), []string{"debug", "fetch_allow"}; !slices.Equal(got, want) {
		t.Errorf("OverriddenKeys(quiet) = %v, want %v", got, want)
	}
	if got := c.OverriddenKeys("other"); got != nil {
		t.Errorf("OverriddenKeys(other) = %v, want nil", got)
	}
}

// An override built by hand, not parsed, lays over its non-zero fields.
func TestAppConfig_HandBuilt(t *testing.T) {
	c := Default()
	c.AppOverrides = map[string]App{"x": {Workers: 2, Timeout: time.Second}}
	a := c.AppConfig("x")
	if a.Workers != 2 || a.Timeout != time.Second || a.QueueSize != DefaultQueueSize {
		t.Errorf("AppConfig(x) = %+v", a)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	c.AppOverrides["y"] = App{Workers: -1}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `key "app.y.workers": must be at least 1, got -1`) {
		t.Errorf("Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(c *Config)
		wantErr string // "" = valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"workers 0", func(c *Config) { c.Defaults.Workers = 0 }, `key "workers": must be at least 1, got 0`},
		{"negative timeout", func(c *Config) { c.Defaults.Timeout = -time.Second }, `key "timeout": must be more than 0, got "-1s"`},
		{"negative queue timeout", func(c *Config) { c.Defaults.QueueTimeout = -1 }, `key "queue_timeout": must not be negative`},
		{"bad listen", func(c *Config) { c.Listen = []string{"nowhere"} }, `key "listen": bad address "nowhere"`},
		{"good listens", func(c *Config) { c.Listen = []string{"[::1]:9000", "unix:/tmp/x.sock"} }, ""},
		{"bad http", func(c *Config) { c.HTTP = "8080" }, `key "http": bad address "8080"`},
		{"isolation", func(c *Config) { c.Defaults.Isolation = "jail" }, `key "isolation": "jail" is not one of "vm", "process"`},
		{"kv", func(c *Config) { c.KV = "redis://" }, `key "kv": "redis://": missing HOST:PORT`},
		{"kv redis", func(c *Config) { c.KV = "redis://127.0.0.1:6379/0" }, ""},
		{"kv rediss no db", func(c *Config) { c.KV = "rediss://cache.internal:6380" }, ""},
		{"mode", func(c *Config) { c.SocketMode = 0o1000 }, `key "socket_mode": file mode "1000" is out of range`},
		{"max conns", func(c *Config) { c.MaxConns = 0 }, `key "max_conns": must be at least 1`},
		{"status allow", func(c *Config) { c.StatusAllow = []string{"::1", "nope"} }, `key "status_allow": "nope" is not an IP`},
		{"empty apps", func(c *Config) { c.Apps = "" }, `key "apps": must not be empty`},
		{"same paths", func(c *Config) { c.StatusPath, c.PingPath = "/s", "/s" }, `keys "status_path" and "ping_path" are both "/s"`},
		{"empty app name", func(c *Config) { c.AppOverrides = map[string]App{"": {}} }, `empty app name`},
		{"fetch host", func(c *Config) { c.Defaults.FetchAllow = []string{"ok.example", "[::1]:443", "x y"} }, `key "fetch_allow": bad host "x y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	// Every problem is reported, not only the first.
	c := Default()
	c.Defaults.Workers, c.MaxReqs = 0, 0
	if err := c.Validate(); err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("two problems: Validate() = %v", err)
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, network, address string
		bad                  bool
	}{
		{in: "127.0.0.1:9000", network: "tcp", address: "127.0.0.1:9000"},
		{in: "[::1]:9000", network: "tcp", address: "[::1]:9000"},
		{in: ":9000", network: "tcp", address: ":9000"},
		{in: "localhost:0", network: "tcp", address: "localhost:0"},
		{in: "unix:/run/fcgihost.sock", network: "unix", address: "/run/fcgihost.sock"},
		{in: "unix:rel.sock", network: "unix", address: "rel.sock"},
		{in: "unix:", bad: true},
		{in: "9000", bad: true},
		{in: "::1:9000", bad: true},
		{in: "127.0.0.1:", bad: true},
		{in: "127.0.0.1:65536", bad: true},
		{in: "127.0.0.1:-1", bad: true},
		{in: "a b:1", bad: true},
	}
	for _, tt := range tests {
		network, address, err := ParseAddr(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseAddr(%q) = %q, %q; want an error", tt.in, network, address)
			}
			continue
		}
		if err != nil || network != tt.network || address != tt.address {
			t.Errorf("ParseAddr(%q) = %q, %q, %v; want %q, %q", tt.in, network, address, err, tt.network, tt.address)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fcgihost.toml")
	writeFile(t, path, `apps = "apps"
roots = ["sites/*/htdocs", "/abs/*/www"]
listen = ["unix:run/x.sock", "unix:/run/y.sock", "127.0.0.1:9000"]
data_dir = "./data"
log_file = "/var/log/f.log"
access_log = "-"
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "apps"); c.Apps != want {
		t.Errorf("apps = %q, want %q (relative to the file)", c.Apps, want)
	}
	if want := []string{filepath.Join(dir, "sites/*/htdocs"), "/abs/*/www"}; !slices.Equal(c.Roots, want) {
		t.Errorf("roots = %q, want %q", c.Roots, want)
	}
	if want := []string{"unix:" + filepath.Join(dir, "run/x.sock"), "unix:/run/y.sock", "127.0.0.1:9000"}; !slices.Equal(c.Listen, want) {
		t.Errorf("listen = %q, want %q", c.Listen, want)
	}
	if want := filepath.Join(dir, "data"); c.DataDir != want {
		t.Errorf("data_dir = %q, want %q", c.DataDir, want)
	}
	if c.LogFile != "/var/log/f.log" || c.AccessLog != "-" {
		t.Errorf("log_file, access_log = %q, %q", c.LogFile, c.AccessLog)
	}

	// A missing file is an error naming it.
	missing := filepath.Join(dir, "nope.toml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
	// Errors carry the path as given.
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, "\n\nwrokers = 1\n")
	if _, err := Load(bad); err == nil || err.Error() != bad+`:3: unknown key "wrokers" (did you mean "workers"?)` {
		t.Errorf("Load(bad) = %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// parseFlags binds the flags on a fresh FlagSet and parses args.
func parseFlags(t *testing.T, args ...string) *Flags {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return f
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.toml")
	writeFile(t, file, `apps = "/srv/apps"
roots = ["/var/www/*/public_html"]
listen = ["127.0.0.1:9000"]
watch = true
workers = 4
timeout = "30s"
max_requests = 10
[app.hello]
workers = 2
timeout = "2s"
`)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c *Config, f *Flags)
	}{
		{"no flags: the file", []string{"--config", file}, func(t *testing.T, c *Config, f *Flags) {
			if c.Apps != "/srv/apps" || c.Defaults.Workers != 4 || c.AppConfig("hello").Workers != 2 || !c.Watch {
				t.Errorf("config = %+v", c)
			}
			if f.ListenersGiven() {
				t.Error("ListenersGiven() = true without --listen or --http")
			}
			if !slices.Equal(c.Listen, []string{"127.0.0.1:9000"}) {
				t.Errorf("listen = %v", c.Listen)
			}
		}},
		{"flags win", []string{"--config", file, "--apps", "/tmp/a", "--workers", "3", "--timeout", "5s", "--max-requests", "7", "--debug", "--watch=false"}, func(t *testing.T, c *Config, f *Flags) {
			if c.Apps != "/tmp/a" || !c.Defaults.Debug || c.Watch {
				t.Errorf("apps, debug, watch = %q, %v, %v", c.Apps, c.Defaults.Debug, c.Watch)
			}
			for _, name := range []string{"hello", "other"} {
				a := c.AppConfig(name)
				if a.Workers != 3 || a.Timeout != 5*time.Second || a.MaxRequests != 7 || !a.Debug {
					t.Errorf("AppConfig(%q) = %+v; want the flags' values", name, a)
				}
			}
		}},
		{"repeatable root and listen", []string{"--config", file, "--root", "/a/*", "--root", "/b/*", "--listen", "unix:/tmp/s.sock", "--listen", "[::1]:9001"}, func(t *testing.T, c *Config, f *Flags) {
			if !slices.Equal(c.Roots, []string{"/a/*", "/b/*"}) {
				t.Errorf("roots = %v", c.Roots)
			}
			if !slices.Equal(c.Listen, []string{"unix:/tmp/s.sock", "[::1]:9001"}) || c.HTTP != "" {
				t.Errorf("listen, http = %v, %q", c.Listen, c.HTTP)
			}
			if !f.ListenersGiven() {
				t.Error("ListenersGiven() = false")
			}
		}},
		{"--http alone opens only http", []string{"--config", file, "--http", "127.0.0.1:0"}, func(t *testing.T, c *Config, f *Flags) {
			if len(c.Listen) != 0 || c.HTTP != "127.0.0.1:0" || !f.ListenersGiven() {
				t.Errorf("listen, http, given = %v, %q, %v", c.Listen, c.HTTP, f.ListenersGiven())
			}
		}},
		{"flag set to the default still wins", []string{"--config", file, "--workers", "1"}, func(t *testing.T, c *Config, f *Flags) {
			if c.AppConfig("hello").Workers != 1 || c.Defaults.Workers != 1 {
				t.Errorf("workers = %d, %d", c.AppConfig("hello").Workers, c.Defaults.Workers)
			}
			if c.AppConfig("hello").Timeout != 2*time.Second {
				t.Errorf("timeout of hello = %v: only the given flags override", c.AppConfig("hello").Timeout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvConfig, "")
			f := parseFlags(t, tt.args...)
			c, err := f.Load()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, f)
		})
	}
}

func TestFlags_ConfigPath(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env.toml")
	flagFile := filepath.Join(dir, "flag.toml")
	writeFile(t, envFile, `apps = "/from/env"`)
	writeFile(t, flagFile, `apps = "/from/flag"`)

	t.Run("env", func(t *testing.T) {
		t.Setenv(EnvConfig, envFile)
		f := parseFlags(t)
		if got := f.ConfigPath(); got != envFile {
			t.Errorf("ConfigPath() = %q, want %q", got, envFile)
		}
		c, err := f.Load()
		if err != nil || c.Apps != "/from/env" {
			t.Errorf("Load() = %v, %v", c, err)
		}
	})
	t.Run("flag beats env", func(t *testing.T) {
		t.Setenv(EnvConfig, envFile)
		f := parseFlags(t, "--config", flagFile)
		if got := f.ConfigPath(); got != flagFile {
			t.Errorf("ConfigPath() = %q, want %q", got, flagFile)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv(EnvConfig, "")
		f := parseFlags(t)
		c, err := f.Load()
		if err != nil {
			t.Fatal(err)
		}
		if f.ConfigPath() != "" || !reflect.DeepEqual(c, Default()) {
			t.Errorf("no file and no flags: ConfigPath() = %q, config = %+v", f.ConfigPath(), c)
		}
	})
	t.Run("bad value from a flag", func(t *testing.T) {
		t.Setenv(EnvConfig, "")
		f := parseFlags(t, "--workers", "0")
		if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), `key "workers": must be at least 1`) {
			t.Errorf("Load() = %v", err)
		}
	})
	t.Run("bad file", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.toml")
		writeFile(t, bad, `timeout = "30 s"`)
		t.Setenv(EnvConfig, bad)
		if _, err := parseFlags(t).Load(); err == nil || !strings.Contains(err.Error(), bad+`:1: key "timeout": bad duration "30 s"`) {
			t.Errorf("Load() = %v", err)
		}
	})
}

// TestEveryFieldHasAKey keeps the key tables and the structs in step: a
// field added to Config or App without a key would be silently unsettable.
func TestEveryFieldHasAKey(t *testing.T) {
	check := func(typ reflect.Type, keys []keyDef, skip ...string) {
		fields := map[string]bool{}
		for _, k := range keys {
			if _, ok := typ.FieldByName(k.field); !ok {
				t.Errorf("key %q names a missing field %s.%s", k.name, typ.Name(), k.field)
			}
			if fields[k.field] {
				t.Errorf("field %s.%s has two keys", typ.Name(), k.field)
			}
			fields[k.field] = true
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.IsExported() && !fields[f.Name] && !slices.Contains(skip, f.Name) {
				t.Errorf("field %s.%s has no config key", typ.Name(), f.Name)
			}
		}
	}
	check(reflect.TypeOf(Config{}), hostKeys, "Defaults", "AppOverrides", "Pools")
	check(reflect.TypeOf(App{}), appKeys)
	check(reflect.TypeOf(Pool{}), poolKeys)
}
