package main

// This file holds `fcgihost version`: the fcgihost version and commit, the
// Go toolchain, and the versions of the two script engines compiled in.

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Commit are set at build time:
//
//	go build -ldflags "-X main.Version=1.2.0 -X main.Commit=$(git rev-parse --short HEAD)" ./cmd/fcgihost
//
// Without -X, Commit comes from the Go toolchain's VCS stamp when the
// build had one (-buildvcs).
var (
	Version = "dev"
	Commit  = ""
)

// versionInfo is what `fcgihost version` prints.
type versionInfo struct {
	Version, Commit, Built, Go, Platform, Goja, GopherLua string
}

func readVersion() versionInfo {
	v := versionInfo{Version: Version, Commit: Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Goja: "unknown", GopherLua: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.time":
			v.Built = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(v.Commit) > 12 {
		v.Commit = v.Commit[:12]
	}
	if modified && Commit == "" {
		v.Commit += "+dirty"
	}
	for _, d := range bi.Deps {
		if r := d.Replace; r != nil {
			if r.Version == "" || r.Version == "(devel)" {
				// A directory replace: the engine is built from its patched
				// copy in third_party (see docs/sandbox.md).
				r = &debug.Module{Path: d.Path, Version: d.Version + " (patched copy in " + strings.TrimPrefix(r.Path, "./") + ")"}
			}
			d = r
		}
		switch d.Path {
		case "github.com/dop251/goja":
			v.Goja = d.Version
		case "github.com/yuin/gopher-lua":
			v.GopherLua = d.Version
		}
	}
	if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	return v
}

func (m *Main) version() error {
	v := readVersion()
	fmt.Fprintf(m.Stdout, "fcgihost   %s\n", v.Version)
	commit := v.Commit
	if commit == "" {
		commit = "unknown (build with -ldflags \"-X main.Commit=…\")"
	}
	if v.Built != "" {
		commit += " (" + v.Built + ")"
	}
	fmt.Fprintf(m.Stdout, "commit     %s\n", commit)
	fmt.Fprintf(m.Stdout, "go         %s %s\n", v.Go, v.Platform)
	fmt.Fprintf(m.Stdout, "goja       %s\n", v.Goja)
	fmt.Fprintf(m.Stdout, "gopher-lua %s\n", v.GopherLua)
	return nil
}
