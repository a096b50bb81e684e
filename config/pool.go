package config

// This file holds the [pool.NAME] tables (docs/processes.md, "Pools"): a
// set of apps or roots served by their own worker processes on their own
// sockets, as their own user, as PHP-FPM's pools.

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Pool is one [pool.NAME] table.
type Pool struct {
	// Apps are apps of the apps dir the pool serves (by name).
	Apps []string
	// Roots are document-root globs whose scripts the pool serves.
	Roots []string
	// Listen are the pool's own FastCGI sockets.
	Listen []string
	// SocketMode is the permission of the pool's unix socket files (0 =
	// the top-level socket_mode); SocketOwner and SocketGroup, if set,
	// own them (PHP-FPM's listen.mode, listen.owner, listen.group).
	SocketMode               os.FileMode
	SocketOwner, SocketGroup string
	// User and Group run the pool's workers when the master runs as root.
	User, Group string
	// Processes is the number of the pool's workers (default 2).
	Processes int
	// MemoryLimit is each worker's kernel-enforced memory limit (0 = none).
	MemoryLimit int64
	// MaxRSS and MaxRequests replace a worker past them (0 = off).
	MaxRSS      int64
	MaxRequests int
	// Env is the workers' environment: "NAME" passes the master's value,
	// "NAME=VALUE" sets one; nothing else passes when it is set.
	Env []string
}

// DefaultPoolProcesses is a pool's processes when its table does not say.
const DefaultPoolProcesses = 2

var poolKeys = []keyDef{
	{name: "apps", kind: kList, field: "Apps", check: eachString(checkAppName), doc: "apps of the apps dir this pool serves (by name)"},
	{name: "roots", kind: kList, field: "Roots", path: true, check: eachString(checkGlob), doc: "document-root globs whose scripts this pool serves"},
	{name: "listen", kind: kList, field: "Listen", path: true, check: eachString(checkPoolAddr), doc: "the pool's own FastCGI sockets"},
	{name: "socket_mode", kind: kMode, field: "SocketMode", doc: "permissions of the pool's unix socket files; default: the top-level socket_mode"},
	{name: "socket_owner", kind: kString, field: "SocketOwner", doc: "user (name or id) that owns the pool's unix socket files; empty = the master's"},
	{name: "socket_group", kind: kString, field: "SocketGroup", doc: "group (name or id) of the pool's unix socket files; empty = the master's"},
	{name: "user", kind: kString, field: "User", doc: "user of the pool's workers when the master runs as root"},
	{name: "group", kind: kString, field: "Group", doc: "group of the pool's workers; empty = the user's group"},
	{name: "processes", kind: kInt, field: "Processes", min: 1, doc: "the pool's worker processes"},
	{name: "memory_limit", kind: kSize, field: "MemoryLimit", doc: "each worker's memory, enforced by the kernel; 0 = none"},
	{name: "max_rss", kind: kSize, field: "MaxRSS", doc: "replace a worker past this resident size; 0 = off"},
	{name: "max_requests", kind: kInt, field: "MaxRequests", doc: "replace a worker after this many requests; 0 = never"},
	{name: "env", kind: kList, field: "Env", check: eachString(checkEnv), doc: "the workers' environment: `NAME` passes the master's value, `NAME=VALUE` sets one; when set, nothing else passes"},
}

var poolByName = indexKeys(poolKeys)

func poolField(p *Pool, k keyDef) reflect.Value {
	return reflect.ValueOf(p).Elem().FieldByName(k.field)
}

// setPool sets a key of a [pool.NAME] table.
func (p *parser) setPool(k toml.Key, raw any) bool {
	name, key := k[1], k[2]
	def, ok := poolByName[key]
	if !ok {
		p.unknown(k, k.String(), key)
		return false
	}
	pl := p.pool(name)
	if !p.set(k, *def, raw, poolField(&pl, *def)) {
		return false
	}
	p.c.Pools[name] = pl
	return true
}

// pool returns the [pool.NAME] table of name, creating it.
func (p *parser) pool(name string) Pool {
	if p.c.Pools == nil {
		p.c.Pools = make(map[string]Pool)
	}
	pl, ok := p.c.Pools[name]
	if !ok {
		pl.Processes = DefaultPoolProcesses
		p.c.Pools[name] = pl
	}
	return pl
}

// PoolNames are the pools' names, sorted.
func (c *Config) PoolNames() []string {
	names := make([]string, 0, len(c.Pools))
	for n := range c.Pools {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// validatePools checks every pool: its keys, a listen address, something
// to serve, and no app or socket in two pools.
func (c *Config) validatePools() []error {
	var errs []error
	owner := map[string]string{}
	for _, name := range c.PoolNames() {
		pl := c.Pools[name]
		if name == "" || strings.ContainsAny(name, "/\x00") {
			errs = append(errs, fmt.Errorf("bad pool name %q", name))
			continue
		}
		for _, k := range poolKeys {
			if err := k.validate(load(poolField(&pl, k))); err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", toml.Key{"pool", name, k.name}.String(), err))
			}
		}
		if len(pl.Listen) == 0 {
			errs = append(errs, fmt.Errorf("key %q: a pool needs its own listen address", toml.Key{"pool", name, "listen"}.String()))
		}
		if len(pl.Apps) == 0 && len(pl.Roots) == 0 {
			errs = append(errs, fmt.Errorf("pool %q serves nothing: set apps or roots", name))
		}
		for _, a := range pl.Apps {
			if o, dup := owner["app "+a]; dup {
				errs = append(errs, fmt.Errorf("app %q is in pools %q and %q", a, o, name))
			}
			owner["app "+a] = name
		}
		for _, l := range pl.Listen {
			if o, dup := owner["listen "+l]; dup {
				errs = append(errs, fmt.Errorf("listen %q is in pools %q and %q", l, o, name))
			}
			owner["listen "+l] = name
		}
	}
	return errs
}

// ForPool returns the configuration a worker of pool name runs: the
// pool's apps (only_apps) or roots alone, as a config with no pools.
func (c *Config) ForPool(name string) (*Config, error) {
	pl, ok := c.Pools[name]
	if !ok {
		return nil, fmt.Errorf("no pool %q", name)
	}
	n := *c
	n.Pools = nil
	n.OnlyApps = slices.Clone(pl.Apps)
	n.Roots = slices.Clone(pl.Roots)
	if len(pl.Apps) == 0 {
		n.Apps = ""
	}
	n.Listen = slices.Clone(pl.Listen)
	n.HTTP = ""
	n.Processes = pl.Processes
	n.ProcessMemoryLimit, n.ProcessMaxRSS, n.ProcessMaxRequests = pl.MemoryLimit, pl.MaxRSS, pl.MaxRequests
	if n.Apps == "" && len(n.Roots) == 0 {
		return nil, errors.New("pool serves nothing")
	}
	return &n, nil
}

// PoolApps are the apps every pool claims (for the default pool to leave
// out).
func (c *Config) PoolApps() []string {
	var out []string
	for _, n := range c.PoolNames() {
		out = append(out, c.Pools[n].Apps...)
	}
	return out
}
