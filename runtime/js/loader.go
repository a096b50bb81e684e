package js

// This file loads ES module and TypeScript apps (README.md "Coming from
// Workers / Node"): NAME.mjs, NAME.ts, and NAME.js or index.{js,mjs,ts}
// files written as ES modules. esbuild (github.com/evanw/esbuild/pkg/api)
// bundles the app's module graph once per app version, at Compile, into one
// CommonJS program that goja runs like any handler-style script; TypeScript
// types are stripped (no type check). A source map of that program maps
// every position goja reports (syntax errors, uncaught errors, stacks, the
// slow log) back to the original file, line and column.
//
// A plain CommonJS .js file never comes here: only a .js file that goja
// cannot parse and that has an import or export statement is treated as a
// module, so every script that worked before is compiled exactly as before.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
	"github.com/go-sourcemap/sourcemap"

	"github.com/fcgihost/fcgihost/script"
)

// esmStatementRE finds an import or export statement at the start of a line.
var esmStatementRE = regexp.MustCompile(`(?m)^[ \t]*(?:import[ \t]*[\w{*'"$]|export[ \t]+[\w{*]|export[ \t]*\{)`)

// needsBundling reports whether the entry must go through esbuild: .mjs and
// .ts always; a .js file only if it is an ES module (goja cannot parse it as
// a script and it has an import or export statement).
func needsBundling(entry, code string, parseErr *script.ScriptError) bool {
	switch strings.ToLower(filepath.Ext(entry)) {
	case ".mjs", ".ts", ".mts":
		return true
	case ".js":
		return parseErr != nil && parseErr.Err != nil && strings.HasPrefix(parseErr.Err.Error(), "SyntaxError") && esmStatementRE.MatchString(code)
	}
	return false
}

// esmBundle is what esbuild made of an app: the CommonJS program, its source
// map, and every file that went into it.
type esmBundle struct {
	code  string
	smap  *sourcemap.Consumer
	files []string // absolute, entry excluded
	dir   string   // directory the map's sources are relative to
}

// confinePlugin refuses any import that resolves outside the app folder
// (a relative path climbing out, a symlink out, a package from a
// node_modules above the app), and node built-ins, at load, with the file
// and line of the import.
func confinePlugin(realDir string) api.Plugin {
	type inner struct{}
	return api.Plugin{
		Name: "fcgihost-confine",
		Setup: func(build api.PluginBuild) {
			build.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
				if _, ok := args.PluginData.(inner); ok {
					return api.OnResolveResult{}, nil // the call below: esbuild's own resolution
				}
				if args.Kind == api.ResolveEntryPoint {
					return api.OnResolveResult{}, nil
				}
				if p := args.Path; strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p) {
					if !filepath.IsAbs(p) {
						p = filepath.Join(args.ResolveDir, p)
					}
					if !within(realDir, filepath.Clean(p)) {
						return api.OnResolveResult{}, fmt.Errorf("import %q resolves outside the app folder %s", args.Path, realDir)
					}
				}
				if strings.HasPrefix(args.Path, hostPrefix) {
					// A host module (docs/embedding.md): left to require at run time.
					return api.OnResolveResult{Path: args.Path, External: true}, nil
				}
				if strings.HasPrefix(args.Path, "node:") {
					return api.OnResolveResult{}, fmt.Errorf("import %q: node built-in modules are not available (README.md \"Coming from Workers / Node\")", args.Path)
				}
				r := build.Resolve(args.Path, api.ResolveOptions{
					Importer: args.Importer, Namespace: args.Namespace, ResolveDir: args.ResolveDir,
					Kind: args.Kind, PluginData: inner{}, With: args.With,
				})
				if len(r.Errors) > 0 {
					return api.OnResolveResult{}, errors.New(r.Errors[0].Text)
				}
				if r.External || r.Namespace != "file" {
					return api.OnResolveResult{}, fmt.Errorf("import %q: only files inside the app folder can be imported", args.Path)
				}
				real, err := filepath.EvalSymlinks(r.Path)
				if err != nil {
					return api.OnResolveResult{}, fmt.Errorf("import %q: %w", args.Path, err)
				}
				if !within(realDir, real) {
					return api.OnResolveResult{}, fmt.Errorf("import %q resolves to %s, outside the app folder %s", args.Path, real, realDir)
				}
				return api.OnResolveResult{Path: real, Namespace: "file", SideEffects: sideEffects(r.SideEffects)}, nil
			})
		},
	}
}

// bundleModules runs esbuild on the entry. code, if not nil, is the entry's
// source (instead of the file).
func bundleModules(app, entry, realDir string, code []byte) (*esmBundle, *script.ScriptError) {
	realEntry, err := filepath.EvalSymlinks(entry)
	if err != nil {
		realEntry = entry
	}
	out := filepath.Join(realDir, ".fcgihost-bundle.js")
	opts := api.BuildOptions{
		Bundle:   true,
		Write:    false,
		Format:   api.FormatCommonJS,
		Platform: api.PlatformNeutral,
		Target:   api.ES2020,
		// goja has neither: esbuild lowers them (for await over a
		// ReadableStream, README.md "Coming from Workers / Node").
		Supported:      map[string]bool{"async-generator": false, "for-await": false},
		MainFields:     []string{"module", "main"},
		Conditions:     []string{"worker", "workerd", "browser"},
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		Outfile:        out,
		AbsWorkingDir:  realDir,
		Metafile:       true,
		LogLevel:       api.LogLevelSilent,
		TsconfigRaw:    "{}", // no tsconfig.json is read from above the app
		Charset:        api.CharsetUTF8,
		Loader: map[string]api.Loader{
			".js": api.LoaderJS, ".mjs": api.LoaderJS, ".cjs": api.LoaderJS,
			".ts": api.LoaderTS, ".mts": api.LoaderTS, ".cts": api.LoaderTS, ".json": api.LoaderJSON,
		},
		ResolveExtensions: []string{".ts", ".mts", ".js", ".mjs", ".cjs", ".json"},
		Plugins:           []api.Plugin{confinePlugin(realDir)},
	}
	if code != nil {
		loader := api.LoaderJS
		if e := strings.ToLower(filepath.Ext(entry)); e == ".ts" || e == ".mts" {
			loader = api.LoaderTS
		}
		opts.Stdin = &api.StdinOptions{Contents: string(code), ResolveDir: filepath.Dir(realEntry), Sourcefile: realEntry, Loader: loader}
	} else {
		opts.EntryPoints = []string{realEntry}
	}
	res := api.Build(opts)
	if len(res.Errors) > 0 {
		m := res.Errors[0]
		se := &script.ScriptError{App: app, File: entry, Err: errors.New(m.Text)}
		if isSyntaxText(m.Text) {
			se.Err = errors.New("SyntaxError: " + m.Text)
		}
		if l := m.Location; l != nil {
			se.File = l.File
			if se.File != "" && !filepath.IsAbs(se.File) {
				se.File = filepath.Join(realDir, se.File)
			}
			se.Line, se.Col = l.Line, l.Column+1
		}
		if len(res.Errors) > 1 {
			se.Err = fmt.Errorf("%w (and %d more errors)", se.Err, len(res.Errors)-1)
		}
		return nil, se
	}
	eb := &esmBundle{dir: realDir}
	var mapData []byte
	for _, f := range res.OutputFiles {
		if strings.HasSuffix(f.Path, ".map") {
			mapData = f.Contents
		} else {
			eb.code = string(f.Contents)
		}
	}
	// The program must not name its map: goja would try to read it.
	eb.code = strings.TrimRight(eb.code, "\n")
	if i := strings.LastIndex(eb.code, "\n//# sourceMappingURL="); i >= 0 {
		eb.code = eb.code[:i+1]
	}
	if mapData != nil {
		sm, err := sourcemap.Parse("", mapData)
		if err != nil {
			return nil, &script.ScriptError{App: app, File: entry, Err: fmt.Errorf("source map: %w", err)}
		}
		eb.smap = sm
	}
	var meta struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(res.Metafile), &meta); err == nil {
		for in := range meta.Inputs {
			p := in
			if !filepath.IsAbs(p) {
				p = filepath.Join(realDir, p)
			}
			if p != realEntry && p != entry && !strings.HasPrefix(in, "<") {
				eb.files = append(eb.files, p)
			}
		}
	}
	return eb, nil
}

func isSyntaxText(s string) bool {
	return strings.HasPrefix(s, "Expected") || strings.HasPrefix(s, "Unexpected") || strings.Contains(s, "syntax")
}

// mapPos maps a position in the bundled program (line 1-based, col
// 1-based, as goja reports) to the original file. ok is false when the
// position is not in the map (esbuild's runtime helpers).
func (eb *esmBundle) mapPos(line, col int) (file string, l, c int, ok bool) {
	if eb == nil || eb.smap == nil || line < 1 {
		return "", 0, 0, false
	}
	if col < 1 {
		col = 1
	}
	src, _, l, c, ok := eb.smap.Source(line, col-1)
	if !ok || src == "" {
		return "", 0, 0, false
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(eb.dir, filepath.FromSlash(src))
	}
	return src, l, c + 1, true
}

// compileModules bundles an ES module / TypeScript app and compiles the
// result. The bundle is named after the entry; positions are mapped back.
func (b *bundle) compileModules(code []byte) *script.ScriptError {
	eb, serr := bundleModules(b.src.App, b.src.Entry, b.realDir, code)
	if serr != nil {
		return serr
	}
	prog, _, serr := compileSource(b.src.Entry, eb.code, 0)
	if serr != nil {
		serr.App = b.src.App
		if f, l, c, ok := eb.mapPos(serr.Line, serr.Col); ok {
			serr.File, serr.Line, serr.Col = f, l, c
		}
		return serr
	}
	b.prog = prog
	b.esm = eb
	b.style = script.StyleHandler
	b.files = append(b.files, eb.files...)
	return nil
}

// readEntry reads the entry's source, or returns src.Code.
func readEntry(src script.Source) ([]byte, error) {
	if src.Code != nil {
		return src.Code, nil
	}
	return os.ReadFile(src.Entry)
}

func sideEffects(b bool) api.SideEffects {
	if b {
		return api.SideEffectsTrue
	}
	return api.SideEffectsFalse
}
