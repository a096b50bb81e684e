package config

import (
	"errors"
	"fmt"
	"slices"

	"github.com/BurntSushi/toml"
)

// Validate checks every value of c, with the same rules Parse applies to a
// file, so that values set by flags or by hand are checked too: workers ≥ 1,
// durations ≥ 0 (timeout > 0), sizes > 0 where a limit must exist, listen
// addresses, IP lists, enumerations, the kv URL. Errors name the key
// (`key "app.hello.workers": must be at least 1, got 0`) and are joined.
func (c *Config) Validate() error {
	var errs []error
	check := func(key string, def keyDef, v any) {
		if err := def.validate(v); err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", key, err))
		}
	}
	for _, k := range hostKeys {
		check(k.name, k, load(hostField(c, k)))
	}
	for _, k := range appKeys {
		check(k.name, k, load(appField(&c.Defaults, k)))
	}
	names := make([]string, 0, len(c.AppOverrides))
	for name := range c.AppOverrides {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "" {
			errs = append(errs, errors.New(`empty app name in [app.""]`))
			continue
		}
		ov := c.AppOverrides[name]
		for _, key := range c.OverriddenKeys(name) {
			k := *appByName[key]
			check(toml.Key{"app", name, k.name}.String(), k, load(appField(&ov, k)))
		}
	}
	if c.Apps == "" && len(c.Roots) == 0 && len(c.Pools) == 0 {
		errs = append(errs, errors.New(`key "apps": must not be empty unless "roots" are set`))
	}
	errs = append(errs, c.validatePools()...)
	if c.StatusPath != "" && c.StatusPath == c.PingPath {
		errs = append(errs, fmt.Errorf("keys \"status_path\" and \"ping_path\" are both %q", c.StatusPath))
	}
	return errors.Join(errs...)
}
