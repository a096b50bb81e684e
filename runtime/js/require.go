package js

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"
)

// errModule is the cause of every require failure (not found, forbidden).
var errModule = errors.New("cannot load module")

func (v *jsVM) newModuleObject(path string) *goja.Object {
	m := v.rt.NewObject()
	_ = m.Set("exports", v.rt.NewObject())
	_ = m.Set("id", path)
	_ = m.Set("filename", path)
	_ = m.Set("loaded", false)
	return m
}

// requireFunc is the require of the file from: names resolve relative to
// its folder. A module's exports are cached per VM (a cycle sees the partial
// exports, as in Node); its compiled code is cached in the Bundle.
func (v *jsVM) requireFunc(from string) goja.Value {
	return v.rt.ToValue(func(c goja.FunctionCall) goja.Value {
		name := c.Argument(0).String()
		if strings.HasPrefix(name, hostPrefix) {
			return v.hostModule(name) // call.go
		}
		path, err := v.b.resolve(from, name)
		if err != nil {
			where := from
			if f := v.callerFrame(); f.file != "" {
				where = fmt.Sprintf("%s:%d", f.file, f.line)
			}
			v.throw("Error", fmt.Errorf("require(%q) in %s: %w", name, where, err))
		}
		if m, ok := v.modules[path]; ok {
			return m.Get("exports")
		}
		prog, serr := v.b.module(path)
		if serr != nil {
			v.throw("SyntaxError", serr)
		}
		module := v.newModuleObject(path)
		v.modules[path] = module
		wrapper, err := v.rt.RunProgram(prog)
		if err != nil {
			delete(v.modules, path)
			panic(err)
		}
		fn, ok := goja.AssertFunction(wrapper)
		if !ok {
			delete(v.modules, path)
			v.throw("Error", fmt.Errorf("module %s: wrapper is not a function", path))
		}
		_, err = fn(goja.Undefined(), module.Get("exports"), v.requireFunc(path), module,
			v.rt.ToValue(path), v.rt.ToValue(filepath.Dir(path)))
		if err != nil {
			delete(v.modules, path)
			panic(err)
		}
		_ = module.Set("loaded", true)
		return module.Get("exports")
	})
}

// callerFrame is the innermost script frame of the running call stack.
func (v *jsVM) callerFrame() frame {
	for _, f := range v.b.frames(v.rt.CaptureCallStack(0, nil)) {
		if f.file != "" {
			return f
		}
	}
	return frame{}
}

// resolve finds the file require(name) names from the file from. Only
// relative names ("./x", "../x") resolve; the result must be a regular .js
// file inside the app folder, also after symlinks are resolved. "./lib"
// tries lib.js, then lib/index.js; "./lib/" only lib/index.js.
func (b *bundle) resolve(from, name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty module name", errModule)
	case strings.ContainsRune(name, 0):
		return "", fmt.Errorf("%w: module name contains a NUL byte", errModule)
	case filepath.IsAbs(name) || strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`):
		return "", fmt.Errorf("%w: absolute paths are not allowed; require a path relative to this file (\"./lib\")", errModule)
	case !strings.HasPrefix(name, "./") && !strings.HasPrefix(name, "../") && name != "." && name != "..":
		return "", fmt.Errorf("%w: %q is not a relative path; only the app's own files can be required (\"./%s\"), there are no Node or npm modules", errModule, name, name)
	}
	base := filepath.Join(filepath.Dir(from), filepath.FromSlash(name))
	if !within(b.src.Dir, base) {
		return "", fmt.Errorf("%w: %s is outside the app folder %s", errModule, base, b.src.Dir)
	}
	var candidates []string
	switch {
	case strings.HasSuffix(name, "/") || name == "." || name == "..":
		candidates = []string{filepath.Join(base, "index.js")}
	case strings.HasSuffix(base, ".js"):
		candidates = []string{base}
	default:
		candidates = []string{base + ".js", filepath.Join(base, "index.js")}
	}
	for _, p := range candidates {
		if !within(b.src.Dir, p) {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if !within(b.realDir, real) {
			return "", fmt.Errorf("%w: %s resolves (through a symlink) outside the app folder", errModule, p)
		}
		if !fi.Mode().IsRegular() || !strings.HasSuffix(real, ".js") {
			return "", fmt.Errorf("%w: %s is not a .js file", errModule, p)
		}
		return p, nil
	}
	return "", fmt.Errorf("%w: no file %s", errModule, strings.Join(candidates, " or "))
}

// within reports whether path is dir or inside it (lexically).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
