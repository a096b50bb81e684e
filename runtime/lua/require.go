package lua

// This file is require: module names resolved inside the app folder only,
// each file compiled once per bundle and run once per VM (per request in
// CGI style).
//
// Names: "./x" and "../x" are relative to the requiring file's folder;
// other names are dotted module names relative to the app folder
// ("lib.util" → lib/util.lua; a name with a slash is taken as a path).
// A trailing ".lua" is optional; "name/init.lua" is tried after
// "name.lua". Absolute names, NUL bytes, names that leave the app folder
// (lexically or through a symlink) and non-regular files are refused.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fcgihost/fcgihost/script"
	glua "github.com/yuin/gopher-lua"
)

// errModule marks require failures (not found, forbidden).
var errModule = errors.New("require failed")

func (v *vm) require(L *glua.LState) int {
	name := L.CheckString(1)
	if strings.HasPrefix(name, hostPrefix) {
		return v.hostModule(L, name) // call.go
	}
	from := v.callerFile(L)
	path, err := v.b.resolve(name, from)
	if err != nil {
		return v.fail(&luaError{msg: fmt.Sprintf("require %q: %v", name, err), cause: errModule})
	}
	if val, ok := v.mods[path]; ok {
		L.Push(val)
		return 1
	}
	if v.loading[path] {
		return v.fail(&luaError{msg: fmt.Sprintf("require %q: circular require of %s", name, path), cause: errModule})
	}
	mod := v.b.load(path)
	if mod.err != nil {
		return v.fail(mod.err)
	}
	if v.mods == nil {
		v.mods = map[string]glua.LValue{}
	}
	if v.loading == nil {
		v.loading = map[string]bool{}
	}
	v.loading[path] = true
	defer delete(v.loading, path)
	fn := L.NewFunctionFromProto(mod.proto)
	fn.Env = v.env
	L.Push(fn)
	L.Push(glua.LString(name))
	L.Call(1, 1)
	ret := L.Get(-1)
	L.Pop(1)
	if ret == glua.LNil {
		ret = glua.LTrue
	}
	v.mods[path] = ret
	L.Push(ret)
	return 1
}

// callerFile is the chunk name of the nearest calling script function.
func (v *vm) callerFile(L *glua.LState) string {
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return ""
		}
		if _, err := L.GetInfo("S", dbg, glua.LNil); err != nil {
			return ""
		}
		if dbg.What != "G" && filepath.IsAbs(dbg.Source) {
			return dbg.Source
		}
	}
}

func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

// resolve maps a module name required from the file from to the path of
// an existing file inside the app folder.
func (b *bundle) resolve(name, from string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty module name")
	case strings.IndexByte(name, 0) >= 0:
		return "", errors.New("module name contains a NUL byte")
	case filepath.IsAbs(name) || strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`):
		return "", errors.New("absolute paths are not allowed; use a path relative to the app")
	}
	base, rel := b.dir, strings.TrimSuffix(name, ".lua")
	if strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../") {
		if from != "" {
			base = filepath.Dir(from)
		}
	} else if !strings.Contains(rel, "/") {
		rel = strings.ReplaceAll(rel, ".", "/")
	}
	cand := filepath.Join(base, rel)
	if !within(b.dir, cand) {
		return "", fmt.Errorf("%s is outside the app folder %s", cand, b.dir)
	}
	tried := []string{cand + ".lua", filepath.Join(cand, "init.lua")}
	for _, p := range tried {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if !within(b.realDir, real) {
			return "", fmt.Errorf("%s resolves outside the app folder (to %s)", p, real)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if fi, err = os.Stat(p); err != nil {
				return "", fmt.Errorf("resolve %s: %w", p, err)
			}
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file", p)
		}
		return p, nil
	}
	return "", fmt.Errorf("module not found (tried %s)", strings.Join(tried, ", "))
}

// load returns the compiled module at path, compiling it on first use.
func (b *bundle) load(path string) *module {
	b.mu.Lock()
	m, ok := b.modules[path]
	if !ok {
		m = &module{}
		b.modules[path] = m
		b.order = append(b.order, path)
	}
	b.mu.Unlock()
	m.once.Do(func() {
		code, err := os.ReadFile(path)
		if err != nil {
			m.err = &script.ScriptError{App: b.src.App, File: path, Err: fmt.Errorf("read module: %w", err)}
			return
		}
		_, m.proto, m.err = compileChunk(b.src.App, path, code)
		if m.err == nil && m.proto == nil {
			m.err = &script.ScriptError{App: b.src.App, File: path, Err: errors.New("module did not compile")}
		}
	})
	return m
}
