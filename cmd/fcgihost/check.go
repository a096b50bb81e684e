package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/script"
)

// check compiles every .js and .lua file under each PATH (default the
// config's apps dir, else ./apps) — entries and modules alike — then loads
// every app as serve would: its entry compiled with the app's limits,
// every require of a literal name resolved (also those inside functions
// that run only on some request), and its top-level code run in a
// sandboxed VM. Each error is printed as file:line:col: message; exit 1 if
// any.
func (m *Main) check(args []string) error {
	flags := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := flags.String("config", "", "TOML config `file` whose per-app limits apply (default $"+config.EnvConfig+")")
	if err := m.parseFlags(flags, checkUsage, args); err != nil {
		return err
	}
	args = flags.Args()
	cfg := config.Default()
	if p := *configPath; p != "" || m.Getenv(config.EnvConfig) != "" {
		if p == "" {
			p = m.Getenv(config.EnvConfig)
		}
		var err error
		if cfg, err = config.Load(p); err != nil {
			fmt.Fprintln(m.Stdout, err)
			return &exitError{code: 1}
		}
		if len(args) == 0 && cfg.Apps != "" {
			args = []string{cfg.Apps}
		}
	}
	if len(args) == 0 {
		args = []string{config.DefaultApps}
	}
	var files []string
	var apps []checkApp
	for _, p := range args {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(m.Stderr, "%s: %v\n", p, err)
			return &exitError{code: 1}
		}
		if !st.IsDir() {
			files = append(files, p)
			abs, _ := filepath.Abs(p)
			apps = append(apps, checkApp{name: abs, entry: p, dir: filepath.Dir(p)})
			continue
		}
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if _, e := engineFor(path); e == nil {
					files = append(files, path)
				}
			}
			return nil
		})
		apps = append(apps, appsIn(p)...)
	}
	sort.Strings(files)
	failed := 0
	seen := map[string]bool{} // an error in a module may come up for its app too
	report := func(f string, err error) {
		if line := formatCheckError(f, err); !seen[line] {
			seen[line] = true
			fmt.Fprintln(m.Stdout, line)
		}
	}
	broken := map[string]bool{}
	for _, f := range files {
		if err := compileOne(f); err != nil {
			failed++
			broken[f] = true
			report(f, err)
		}
	}
	appsFailed := 0
	for _, a := range apps {
		if broken[a.entry] {
			continue
		}
		errs := loadApp(a, cfg)
		for _, err := range errs {
			report(a.entry, err)
		}
		if len(errs) > 0 {
			appsFailed++
		}
	}
	if failed > 0 || appsFailed > 0 {
		fmt.Fprintf(m.Stderr, "%d of %d files failed to compile; %d of %d apps failed to load\n", failed, len(files), appsFailed, len(apps))
		return &exitError{code: 1}
	}
	fmt.Fprintf(m.Stderr, "%d %s compiled, %d %s loaded\n", len(files), plural(len(files), "file", "files"), len(apps), plural(len(apps), "app", "apps"))
	return nil
}

// checkApp is one app as serve would find it.
type checkApp struct {
	name, entry, dir string
}

// appsIn lists the apps of dir as serve finds them (README.md, "Apps and
// how a request finds its script"): NAME.js and NAME.lua, and folders with
// an index.js or index.lua. A dir that is itself a folder app (it has an
// index file) is that one app.
func appsIn(dir string) []checkApp {
	for _, idx := range []string{"index.js", "index.lua", "index.mjs", "index.ts"} {
		if st, err := os.Stat(filepath.Join(dir, idx)); err == nil && st.Mode().IsRegular() {
			abs, _ := filepath.Abs(dir)
			return []checkApp{{name: filepath.Base(abs), entry: filepath.Join(dir, idx), dir: dir}}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []checkApp
	for _, ent := range ents {
		name := ent.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(dir, name)
		st, err := os.Stat(full)
		if err != nil {
			continue
		}
		if st.IsDir() {
			for _, idx := range []string{"index.js", "index.lua", "index.mjs", "index.ts"} {
				if st, err := os.Stat(filepath.Join(full, idx)); err == nil && st.Mode().IsRegular() {
					out = append(out, checkApp{name: name, entry: filepath.Join(full, idx), dir: full})
					break
				}
			}
			continue
		}
		if _, err := engineFor(full); err == nil && st.Mode().IsRegular() {
			out = append(out, checkApp{name: strings.TrimSuffix(name, filepath.Ext(name)), entry: full, dir: dir})
		}
	}
	return out
}

// loadApp loads a as serve would, with its limits of cfg: compile the
// entry, resolve every literal require of every file it reaches, run the
// top-level code in a VM.
func loadApp(a checkApp, cfg *config.Config) []error {
	eng, err := engineFor(a.entry)
	if err != nil {
		return []error{err}
	}
	entry, err := filepath.Abs(a.entry)
	if err != nil {
		return []error{err}
	}
	dir, err := filepath.Abs(a.dir)
	if err != nil {
		return []error{err}
	}
	code, err := os.ReadFile(entry)
	if err != nil {
		return []error{err}
	}
	code = script.StripShebang(filepath.Ext(entry), code)
	lim := cfg.AppConfig(a.name).Limits().WithDefaults()
	b, err := eng.Compile(script.Source{App: a.name, Dir: dir, Entry: entry, Code: code},
		script.Options{Limits: lim, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return []error{err}
	}
	errs := checkRequires(b, entry, code)
	ctx, cancel := context.WithTimeout(context.Background(), lim.Timeout)
	defer cancel()
	vm, err := b.NewVM(ctx)
	if err != nil {
		var se, prev *script.ScriptError
		for _, e := range errs { // a missing module at the top level is reported once
			if errors.As(err, &se) && errors.As(e, &prev) && se.File == prev.File && se.Line == prev.Line {
				return errs
			}
		}
		return append(errs, err)
	}
	vm.Close()
	return errs
}

// checkRequires resolves every require("literal") of the entry and of the
// modules it reaches, as require would at run time.
func checkRequires(b script.Bundle, entry string, code []byte) []error {
	r, ok := b.(interface {
		Resolve(from, name string) (string, error)
	})
	if !ok {
		return nil
	}
	var errs []error
	done := map[string]bool{entry: true}
	var walk func(file string, code []byte)
	walk = func(file string, code []byte) {
		type req struct {
			name      string
			line, col int
		}
		var reqs []req
		if filepath.Ext(file) == ".lua" {
			for _, q := range lua.StaticRequires(file, code) {
				reqs = append(reqs, req{q.Name, q.Line, q.Col})
			}
		} else {
			for _, q := range js.StaticRequires(file, code) {
				reqs = append(reqs, req{q.Name, q.Line, q.Col})
			}
		}
		for _, q := range reqs {
			p, err := r.Resolve(file, q.name)
			if err != nil {
				errs = append(errs, &script.ScriptError{File: file, Line: q.line, Col: q.col, Err: err})
				continue
			}
			if done[p] {
				continue
			}
			done[p] = true
			if c, err := os.ReadFile(p); err == nil {
				walk(p, c)
			}
		}
	}
	walk(entry, code)
	return errs
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func compileOne(path string) error {
	eng, err := engineFor(path)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	code, err := os.ReadFile(abs)
	if err != nil {
		return err
	}
	code = script.StripShebang(filepath.Ext(abs), code)
	_, err = eng.Compile(script.Source{App: filepath.Base(abs), Dir: filepath.Dir(abs), Entry: abs, Code: code},
		script.Options{Limits: config.DefaultApp().Limits().WithDefaults()})
	return err
}

// formatCheckError prints file:line:col: message (file:line: where the
// engine gives no column), with the path as the user wrote it — or, when
// the error is in another file (a module the file loads), that file's
// path relative to the working directory.
func formatCheckError(path string, err error) string {
	var se *script.ScriptError
	if errors.As(err, &se) && se.Line > 0 {
		msg := ""
		if se.Err != nil {
			msg = se.Err.Error()
		}
		abs, _ := filepath.Abs(path)
		real, _ := filepath.EvalSymlinks(abs)
		if se.File != "" && se.File != abs && se.File != real {
			path = se.File
			if wd, err := os.Getwd(); err == nil {
				if rel, err := filepath.Rel(wd, se.File); err == nil && !strings.HasPrefix(rel, "..") {
					path = rel
				}
			}
		}
		if se.Col > 0 {
			return fmt.Sprintf("%s:%d:%d: %s", path, se.Line, se.Col, msg)
		}
		return fmt.Sprintf("%s:%d: %s", path, se.Line, msg)
	}
	return fmt.Sprintf("%s: %v", path, err)
}
