package config

import (
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// String renders c as a TOML file that Parse reads back to the same
// configuration: every key with its value, then one [app.NAME] table per
// override with only the keys it sets. It is what `--print-config`-style
// output and the golden tests show.
func (c *Config) String() string {
	var b strings.Builder
	for _, k := range hostKeys {
		b.WriteString(k.name + " = " + k.format(load(hostField(c, k))) + "\n")
	}
	for _, k := range appKeys {
		b.WriteString(k.name + " = " + k.format(load(appField(&c.Defaults, k))) + "\n")
	}
	names := make([]string, 0, len(c.AppOverrides))
	for name := range c.AppOverrides {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ov := c.AppOverrides[name]
		b.WriteString("\n[" + toml.Key{"app", name}.String() + "]\n")
		for _, key := range c.OverriddenKeys(name) {
			k := *appByName[key]
			b.WriteString(k.name + " = " + k.format(load(appField(&ov, k))) + "\n")
		}
	}
	return b.String()
}
