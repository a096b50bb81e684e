package config

import (
	"os"
	"strings"
	"testing"
)

var kindNames = map[kind]string{
	kString:   "string",
	kBool:     "bool",
	kInt:      "integer",
	kSize:     "size",
	kDuration: "duration",
	kMode:     "file mode",
	kList:     "list of strings",
}

// keysMarkdown renders KEYS.md from the key tables and Default().
func keysMarkdown() string {
	c := Default()
	var b strings.Builder
	b.WriteString(`# fcgihost configuration keys

<!-- Generated from config/keys.go by ` + "`go test ./config -run TestKeysMD -update`" + `; do not edit. -->

The config file is TOML (` + "`--config FILE` or `$FCGIHOST_CONFIG`" + `). Durations are Go
duration strings (` + "`\"250ms\"`, `\"30s\"`, `\"1m30s\"`" + `). Sizes are integers (bytes) or
strings with a unit: ` + "`KiB`, `MiB`, `GiB`, `TiB`" + ` are powers of 1024, ` + "`kB`, `MB`, `GB`, `TB`" + `
powers of 1000 (` + "`\"64MiB\"`, `\"100kB\"`, `\"1.5GiB\"`" + `). A list key also takes a single
string. Relative paths in the file are relative to the file's directory. An
unknown key or a bad value is an error naming the file, the line and the key.

Flags of ` + "`fcgihost serve`" + ` win over the file, ` + "`[app.NAME]`" + ` tables included:
` + "`--apps`, `--root` (repeatable, `roots`), `--listen` (repeatable), `--http`, `--watch=BOOL`,\n`--workers`, `--timeout`, `--max-requests`, `--debug`" + `. When ` + "`--listen` or `--http`" + ` is
given, only the listeners named on the command line open.

## Host keys (top level only)

`)
	writeTable(&b, hostKeys, func(k keyDef) any { return load(hostField(c, k)) })
	b.WriteString(`
## App keys

At the top level they set every app; in an ` + "`[app.NAME]`" + ` table they override
the keys written there for one app. NAME is the app's name (` + "`hello`" + ` for
` + "`apps/hello.js`" + ` or ` + "`apps/hello/index.lua`" + `) or, for a script under a root, its real
path, quoted: ` + "`[app.\"/var/www/alice/public_html/api.js\"]`" + `.

`)
	writeTable(&b, appKeys, func(k keyDef) any { return load(appField(&c.Defaults, k)) })
	b.WriteString(`
Example:

` + "```toml" + `
listen = ["127.0.0.1:9000", "unix:/run/fcgihost.sock"]
status_path = "/fcgihost-status"
workers = 4
timeout = "30s"
memory_limit = "64MiB"

[app.hello]
workers = 1
timeout = "2s"
` + "```\n")
	return b.String()
}

func writeTable(b *strings.Builder, keys []keyDef, value func(keyDef) any) {
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, k := range keys {
		def := "`" + k.format(value(k)) + "`"
		if k.name == "workers" {
			def = "number of CPUs"
		}
		b.WriteString("| `" + k.name + "` | " + kindNames[k.kind] + " | " + def + " | " + k.doc + " |\n")
	}
}

// TestKeysMD keeps KEYS.md generated from the key tables, with the real
// defaults.
func TestKeysMD(t *testing.T) {
	got := keysMarkdown()
	if *update {
		if err := os.WriteFile("KEYS.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("KEYS.md")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("KEYS.md is stale; run: go test ./config -run TestKeysMD -update")
	}
}

// TestPackageDocListsEveryKey checks that doc.go names every key with the
// default the code has.
func TestPackageDocListsEveryKey(t *testing.T) {
	fixWorkers(t)
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	c := Default()
	check := func(k keyDef, v any) {
		for _, line := range lines {
			fields := strings.Fields(strings.TrimPrefix(line, "//"))
			if len(fields) < 3 || strings.TrimSuffix(fields[0], ",") != k.name && !(len(fields) > 1 && fields[1] == k.name) {
				continue
			}
			if k.name == "workers" {
				return
			}
			if !strings.Contains(line, " "+k.format(v)+" ") {
				t.Errorf("doc.go line for %q does not show its default %s:\n%s", k.name, k.format(v), line)
			}
			return
		}
		t.Errorf("doc.go does not list key %q", k.name)
	}
	for _, k := range hostKeys {
		check(k, load(hostField(c, k)))
	}
	for _, k := range appKeys {
		check(k, load(appField(&c.Defaults, k)))
	}
}
