package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// check compiles every .js and .lua file under each PATH (default ./apps)
// — entries and modules alike — and prints each error as
// file:line:col: message. Exit 1 if any failed.
func (m *Main) check(args []string) error {
	flags := flag.NewFlagSet("check", flag.ContinueOnError)
	if err := m.parseFlags(flags, checkUsage, args); err != nil {
		return err
	}
	args = flags.Args()
	if len(args) == 0 {
		args = []string{"./apps"}
	}
	var files []string
	for _, p := range args {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(m.Stderr, "%s: %v\n", p, err)
			return &exitError{code: 1}
		}
		if !st.IsDir() {
			files = append(files, p)
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
	}
	sort.Strings(files)
	failed := 0
	seen := map[string]bool{} // an error in a module may come up for its app too
	for _, f := range files {
		if err := compileOne(f); err != nil {
			failed++
			if line := formatCheckError(f, err); !seen[line] {
				seen[line] = true
				fmt.Fprintln(m.Stdout, line)
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(m.Stderr, "%d of %d files failed to compile\n", failed, len(files))
		return &exitError{code: 1}
	}
	fmt.Fprintf(m.Stderr, "%d %s compiled\n", len(files), plural(len(files), "file", "files"))
	return nil
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
		script.Options{Limits: sandbox.Limits{}.WithDefaults()})
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
