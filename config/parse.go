package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the TOML file at path over Default(). Relative paths in the
// file (apps, roots, data_dir, log_file, access_log, unix: listen
// addresses) are taken relative to the file's directory. Errors name the
// file, the line and the key: `config.toml:12: key "timeout": bad duration
// "30 s"`. Load does not call Validate; call it once flags are applied.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads TOML data over Default(); name is the file name used in
// errors, and its directory is the base of relative paths (none when name
// has no directory part).
func Parse(name string, data []byte) (*Config, error) {
	p := parser{name: name, data: string(data), base: filepath.Dir(name), c: Default()}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.c, nil
}

// parser reads one file into c.
type parser struct {
	name string
	data string
	base string // directory that relative paths resolve against; "." = none
	c    *Config
	errs []*keyError
}

// keyError is one problem of a config file, at a line when known.
type keyError struct {
	file string
	line int // 0 = unknown
	msg  string
}

func (e *keyError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

func (p *parser) parse() error {
	var m map[string]any
	md, err := toml.Decode(p.data, &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &keyError{file: p.name, line: pe.Position.Line, msg: "bad TOML: " + pe.Message}
		}
		return fmt.Errorf("%s: %w", p.name, err)
	}
	var bad []toml.Key // keys already reported: nothing under them is checked
	isUnder := func(k toml.Key) bool {
		return slices.ContainsFunc(bad, func(b toml.Key) bool {
			return len(k) > len(b) && slices.Equal(k[:len(b)], b)
		})
	}
	for _, k := range md.Keys() {
		if isUnder(k) {
			continue
		}
		if k[0] == "pool" {
			switch len(k) {
			case 1, 2:
				if t := md.Type(k...); t != "Hash" {
					p.errAt(k, "key %q must be a table, like [pool.www]", k.String())
					bad = append(bad, k)
					continue
				}
				if len(k) == 2 {
					p.pool(k[1])
				}
			case 3:
				if !p.setPool(k, lookup(m, k)) {
					bad = append(bad, k)
				}
			}
			continue
		}
		if k[0] != "app" {
			if len(k) != 1 {
				continue // inside a value that is a table; reported on the value's key
			}
			if !p.setTop(k, lookup(m, k)) {
				bad = append(bad, k)
			}
			continue
		}
		switch len(k) {
		case 1, 2:
			if t := md.Type(k...); t != "Hash" {
				what := "key \"app\" must be a table of apps, like [app.hello]"
				if len(k) == 2 {
					what = fmt.Sprintf("key %q must be a table, like [%s]", k.String(), k.String())
				}
				p.errAt(k, "%s, got %s", what, tomlType(lookup(m, k)))
				bad = append(bad, k)
				continue
			}
			if len(k) == 2 {
				p.override(k[1])
			}
		case 3:
			if !p.setApp(k, lookup(m, k)) {
				bad = append(bad, k)
			}
		}
	}
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *keyError) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// setTop sets a top-level key: a host key or an app default. It reports
// whether the key was known and its value good.
func (p *parser) setTop(k toml.Key, raw any) bool {
	name := k[0]
	if def, ok := hostByName[name]; ok {
		return p.set(k, *def, raw, hostField(p.c, *def))
	}
	if def, ok := appByName[name]; ok {
		return p.set(k, *def, raw, appField(&p.c.Defaults, *def))
	}
	p.unknown(k, name, "")
	return false
}

// setApp sets a key of an [app.NAME] table.
func (p *parser) setApp(k toml.Key, raw any) bool {
	app, name := k[1], k[2]
	def, ok := appByName[name]
	if !ok {
		if _, host := hostByName[name]; host {
			p.errAt(k, "key %q is host-wide: set it at the top level, not in [app.%s]", name, toml.Key{app}.String())
		} else {
			p.unknown(k, k.String(), name)
		}
		return false
	}
	a := p.override(app)
	if !p.set(k, *def, raw, appField(&a, *def)) {
		return false
	}
	p.c.AppOverrides[app] = a
	p.c.setOverride(app, name)
	return true
}

// override returns the [app.NAME] table of app, creating it.
func (p *parser) override(app string) App {
	if p.c.AppOverrides == nil {
		p.c.AppOverrides = make(map[string]App)
	}
	a, ok := p.c.AppOverrides[app]
	if !ok {
		p.c.AppOverrides[app] = a
		if p.c.appSet == nil {
			p.c.appSet = make(map[string]map[string]bool)
		}
		p.c.appSet[app] = make(map[string]bool)
	}
	return a
}

// set converts raw and stores it in field, or records an error.
func (p *parser) set(k toml.Key, def keyDef, raw any, field reflect.Value) bool {
	v, err := def.convert(raw)
	if err != nil {
		p.errAt(k, "key %q: %v", k.String(), err)
		return false
	}
	if def.path {
		v = p.resolve(def, v)
	}
	store(field, v)
	return true
}

// resolve makes the relative paths of a path key relative to p.base.
func (p *parser) resolve(def keyDef, v any) any {
	if p.base == "." || p.base == "" {
		return v
	}
	one := func(s string) string {
		if s == "" || (def.name == "access_log" && s == "-") {
			return s
		}
		if def.name == "listen" || def.name == "http" {
			proto, a := "", s
			if def.name == "listen" {
				if pr, rest := SplitProto(s); rest != s {
					proto, a = pr+":", rest
				}
			}
			if path, ok := strings.CutPrefix(a, "unix:"); ok && !filepath.IsAbs(path) {
				return proto + "unix:" + filepath.Join(p.base, path)
			}
			return s
		}
		if filepath.IsAbs(s) {
			return s
		}
		return filepath.Join(p.base, s)
	}
	switch x := v.(type) {
	case string:
		return one(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = one(s)
		}
		return out
	}
	return v
}

func (p *parser) unknown(k toml.Key, shown, last string) {
	if last == "" {
		last = shown
	}
	tables := [][]keyDef{hostKeys, appKeys}
	if len(k) > 1 {
		tables = [][]keyDef{appKeys}
	}
	msg := fmt.Sprintf("unknown key %q", shown)
	if s := suggest(last, tables...); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	p.errs = append(p.errs, &keyError{file: p.name, line: keyLine(p.data, k), msg: msg})
}

func (p *parser) errAt(k toml.Key, format string, args ...any) {
	p.errs = append(p.errs, &keyError{file: p.name, line: keyLine(p.data, k), msg: fmt.Sprintf(format, args...)})
}

// lookup returns the decoded value at key k.
func lookup(m map[string]any, k toml.Key) any {
	var v any = m
	for _, piece := range k {
		t, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = t[piece]
	}
	return v
}

// probe fails to decode, so that the TOML decoder reports where its key is.
type probe struct{}

var errProbe = errors.New("config: probe")

func (probe) UnmarshalTOML(any) error { return errProbe }

// keyLine returns the line of key k in data, or 0 when it cannot tell.
// BurntSushi/toml knows every key's position but only tells it in errors,
// so keyLine decodes data again into a struct that has only k, whose value
// refuses to decode.
func keyLine(data string, k toml.Key) int {
	t := reflect.TypeOf(probe{})
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == "" || k[i] == "-" || strings.ContainsAny(k[i], ",\"`\\") {
			return 0 // not expressible as a struct tag
		}
		t = reflect.StructOf([]reflect.StructField{{
			Name: "F",
			Type: t,
			Tag:  reflect.StructTag(`toml:"` + k[i] + `"`),
		}})
	}
	_, err := toml.Decode(data, reflect.New(t).Interface())
	var pe toml.ParseError
	if errors.As(err, &pe) && pe.Message == errProbe.Error() { // ParseError has no Unwrap
		return pe.Position.Line
	}
	return 0
}
