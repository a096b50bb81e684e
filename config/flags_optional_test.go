package config

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

// A file named by $FCGIHOST_CONFIG that does not exist is optional only
// when EnvFileOptional is set; --config naming one is always an error.
func TestFlagsEnvFileOptional(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "fcgihost.toml")
	t.Setenv(EnvConfig, missing)
	load := func(optional bool, args ...string) (*Flags, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f := BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		f.EnvFileOptional = optional
		_, err := f.Load()
		return f, err
	}
	if _, err := load(false); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("not optional: err %v, want one naming %s", err, missing)
	}
	f, err := load(true)
	if err != nil || f.Missing() != missing {
		t.Errorf("optional: err %v, Missing %q", err, f.Missing())
	}
	if _, err := load(true, "--config", missing); err == nil {
		t.Error("--config naming a missing file: no error")
	}
}
