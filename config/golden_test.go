package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/parse/*.txt, testdata/defaults.toml, KEYS.md)")

// goldenSep separates a golden file's TOML input from the expected output,
// as in Caddy's adapter tests.
const goldenSep = "\n----------\n"

// fixedWorkers stands in for the number of CPUs while golden files are
// compared, so that they read the same on every machine.
const fixedWorkers = 7

func fixWorkers(t *testing.T) {
	t.Helper()
	saved := defaultWorkers
	defaultWorkers = func() int { return fixedWorkers }
	t.Cleanup(func() { defaultWorkers = saved })
}

// changedKeys renders what c changes from Default(): the top-level lines
// of String() that differ from the defaults' lines, then the [app.NAME]
// tables.
func changedKeys(c *Config) string {
	base := make(map[string]bool)
	for _, line := range strings.Split(Default().String(), "\n") {
		base[line] = true
	}
	var b strings.Builder
	inApps := false
	for _, line := range strings.Split(strings.TrimRight(c.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "[") {
			inApps = true
		}
		if inApps || !base[line] {
			b.WriteString(line + "\n")
		}
	}
	return strings.TrimLeft(b.String(), "\n")
}

// TestParse_Golden parses each testdata/parse/*.txt input and compares the
// keys it changes from the defaults, or the error, with the expected part.
func TestParse_Golden(t *testing.T) {
	fixWorkers(t)
	files, err := filepath.Glob("testdata/parse/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), goldenSep)
			if !ok {
				t.Fatalf("%s: no %q separator", file, strings.TrimSpace(goldenSep))
			}
			c, err := Parse("config.toml", []byte(input))
			var got string
			if err != nil {
				got = "error:\n" + err.Error() + "\n"
			} else {
				got = changedKeys(c)
				if verr := c.Validate(); verr != nil {
					got += "validate error:\n" + verr.Error() + "\n"
				}
				// What Parse accepts, String renders so that Parse reads
				// the same configuration back.
				back, err := Parse("dump.toml", []byte(c.String()))
				if err != nil {
					t.Fatalf("re-parse of String(): %v\n%s", err, c.String())
				}
				if back.String() != c.String() {
					t.Errorf("round trip changed the config:\n%s\nvs\n%s", back.String(), c.String())
				}
				for name := range c.AppOverrides {
					if g, w := back.AppConfig(name), c.AppConfig(name); !reflect.DeepEqual(g, w) {
						t.Errorf("round trip: AppConfig(%q) = %+v, want %+v", name, g, w)
					}
				}
			}
			if *update {
				if err := os.WriteFile(file, []byte(input+goldenSep+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s:\n--- got\n%s--- want\n%s", file, got, want)
			}
		})
	}
}

// TestDefault_Golden pins every default in testdata/defaults.toml, and
// checks that the file parses back to the defaults.
func TestDefault_Golden(t *testing.T) {
	fixWorkers(t)
	got := Default().String()
	const file = "testdata/defaults.toml"
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("Default().String():\n%s\nwant:\n%s", got, want)
	}
	c, err := Parse("defaults.toml", want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse(defaults.toml) = %+v, want Default() %+v", c, Default())
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}
