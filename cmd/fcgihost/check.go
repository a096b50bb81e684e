package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// check compiles every .js and .lua file under each PATH (default ./apps)
// — entries and modules alike — and prints each error as
// file:line:col: message. Exit 1 if any failed.
func (m *Main) check(args []string) error {
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
	for _, f := range files {
		if err := compileOne(f); err != nil {
			failed++
			fmt.Fprintln(m.Stdout, formatCheckError(f, err))
		}
	}
	if failed > 0 {
		fmt.Fprintf(m.Stderr, "%d of %d files failed to compile\n", failed, len(files))
		return &exitError{code: 1}
	}
	fmt.Fprintf(m.Stderr, "%d files compiled\n", len(files))
	return nil
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
// engine gives no column), with the path as the user wrote it.
func formatCheckError(path string, err error) string {
	var se *script.ScriptError
	if errors.As(err, &se) && se.Line > 0 {
		msg := ""
		if se.Err != nil {
			msg = se.Err.Error()
		}
		if se.Col > 0 {
			return fmt.Sprintf("%s:%d:%d: %s", path, se.Line, se.Col, msg)
		}
		return fmt.Sprintf("%s:%d: %s", path, se.Line, msg)
	}
	return fmt.Sprintf("%s: %v", path, err)
}
