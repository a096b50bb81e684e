package isolation

// This file holds a unit's spec — what its children run, as whom, where,
// with which limits — and the child's generated config.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/registry"
)

// spec is what every child of one unit runs. It is fixed for the life of
// the unit's Supervisor.
type spec struct {
	key     string     // the Manager's key of the unit
	name    string     // the unit's name: the app's name, or the root dir
	app     string     // the app of the apps dir ("" for a root unit)
	appsDir string     // the apps dir (app units)
	root    string     // the root dir (root units)
	dir     string     // the children's working directory
	set     config.App // the unit's settings
	ident   identity
	env     []string
	ns      []string // namespaces asked for
	dataDir string   // the children's data_dir
}

// timeout is the longest a forwarded request may take: the child's own
// queue wait and timeout, plus a margin for the hop.
func (sp *spec) timeout() time.Duration {
	return sp.set.QueueTimeout + sp.set.Timeout + 10*time.Second
}

func (m *Manager) specFor(a *registry.App) (*spec, error) {
	cfg := m.o.Config
	set := cfg.AppConfig(a.Name)
	sp := &spec{set: set, ns: set.Namespaces}
	switch a.Kind {
	case registry.KindRoot:
		root := a.Root
		if root == "" {
			root = a.Dir
		}
		sp.name, sp.root, sp.dir = root, root, root
		// The scripts of one root share a child when they share its
		// settings (the usual case: one child per tenant).
		sp.key = fmt.Sprintf("root\x00%s\x00%s\x00%s\x00%d\x00%d\x00%d\x00%q\x00%q",
			root, set.User, set.Group, set.MemoryLimit, set.MaxRSS, set.MaxRequests, set.Env, set.Namespaces)
	case registry.KindFolder:
		sp.name, sp.app, sp.appsDir, sp.dir = a.Name, a.Name, filepath.Dir(a.Dir), a.Dir
		sp.key = "app\x00" + a.Name
	default:
		sp.name, sp.app, sp.appsDir, sp.dir = a.Name, a.Name, a.Dir, a.Dir
		sp.key = "app\x00" + a.Name
	}
	if sp.dir == "" {
		return nil, fmt.Errorf("isolation: app %s has no directory", a.Name)
	}
	id, err := resolveIdentity(set.User, set.Group, sp.dir, os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("isolation: %s: %w", sp.name, err)
	}
	sp.ident = id
	sp.env = buildEnv(set.Env, os.LookupEnv)
	dd, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("isolation: data dir: %w", err)
	}
	sp.dataDir = filepath.Join(dd, "isolated", safeName(sp.name))
	return sp, nil
}

// buildEnv makes a child's environment from the env key: "NAME" passes
// the host's value (if it has one), "NAME=VALUE" sets one. Nothing else
// passes.
func buildEnv(names []string, lookup func(string) (string, bool)) []string {
	env := []string{}
	for _, e := range names {
		if strings.Contains(e, "=") {
			env = append(env, e)
		} else if v, ok := lookup(e); ok {
			env = append(env, e+"="+v)
		}
	}
	return env
}

// childConfig makes the config of one child of sp: the host's config
// limited to the unit's one app (only_apps) or one root, listening only on
// sock, logging JSON to stderr (the supervisor relays it), in one process
// (processes = 0, no pools), with no status
// or ping path, no HTTP listener, no access log, and in-process isolation.
// emptyApps is an empty directory for a root unit's apps key.
func childConfig(host *config.Config, sp *spec, sock, emptyApps string) (*config.Config, error) {
	c := *host // keeps the record of which keys each [app.NAME] sets
	switch {
	case sp.root != "":
		c.Apps = emptyApps
		c.OnlyApps = nil
		c.Roots = []string{globEscape(sp.root)}
	default:
		c.Apps = sp.appsDir
		c.OnlyApps = []string{sp.app}
		c.Roots = nil
	}
	c.Listen = []string{"unix:" + sock}
	c.HTTP = ""
	c.StatusPath, c.PingPath = "", ""
	c.AllowedClients = nil
	c.SocketMode = 0o600
	c.LogFormat = "json"
	c.LogFile, c.AccessLog = "", ""
	c.DataDir = sp.dataDir
	// A child serves in its own process: never a master of workers
	// (docs/processes.md), whatever the host's processes and pools.
	c.Processes, c.Pools = 0, nil
	c.ProcessMemoryLimit, c.ProcessMaxRSS, c.ProcessMaxRequests = 0, 0, 0
	c.Defaults = childApp(host.Defaults)
	c.AppOverrides = map[string]config.App{}
	for name, ov := range host.AppOverrides {
		if (sp.root == "" && name == sp.app) || (sp.root != "" && within(name, sp.root)) {
			c.AppOverrides[name] = childApp(ov)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("child config: %w", err)
	}
	return &c, nil
}

// childApp is an app's settings as its child runs them: in its own
// process, with max_requests (which recycles the child) and the child's
// identity and limits left to the supervisor.
func childApp(a config.App) config.App {
	a.Isolation = "vm"
	a.MaxRequests = 0
	a.User, a.Group = "", ""
	a.MaxRSS = 0
	// The child's scripts see env too: its process environment already
	// holds the values, so its config names them only (no value, a secret
	// included, is written to the child's config file).
	a.Env = envNames(a.Env)
	a.Namespaces = nil
	return a
}

// globEscape quotes the glob characters of a path.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

// envNames returns the names of env entries ("NAME=VALUE" → "NAME").
func envNames(env []string) []string {
	if env == nil {
		return nil
	}
	out := make([]string, 0, len(env))
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		out = append(out, name)
	}
	return out
}

// unitKV is the kv setting of sp's children given the host's, kvURL: with
// Redis, the URL of the unit's own ACL user, which reaches only the keys
// of the unit's apps (created by the host with its own credential; see
// docs/storage.md, "Secrets"); anything else unchanged.
func unitKV(ctx context.Context, kvURL string, sp *spec, log *slog.Logger) (string, error) {
	if !strings.HasPrefix(kvURL, "redis://") && !strings.HasPrefix(kvURL, "rediss://") {
		return kvURL, nil
	}
	var apps, roots []string
	if sp.root != "" {
		// A root's apps are named by their real paths.
		r, err := filepath.EvalSymlinks(sp.root)
		if err != nil {
			r = sp.root
		}
		roots = []string{r}
	} else {
		apps = []string{sp.app}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := kv.RedisUnitURL(ctx, kvURL, sp.key, apps, roots)
	switch {
	case u == "":
		return "", fmt.Errorf("isolation: %s: %w", sp.name, err)
	case err != nil:
		// Redis down or no right to create users: the child starts with
		// its own credential all the same (its kv calls fail until the
		// user exists; the next child start tries again).
		log.Warn("kv: the unit's Redis user could not be set; its kv calls fail until it is", "unit", sp.name, "err", err)
	}
	return u, nil
}
