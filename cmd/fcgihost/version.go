package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func (m *Main) version() error {
	commit, modified := "", false
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		for _, d := range bi.Deps {
			deps[d.Path] = d.Version
		}
		if Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			Version = bi.Main.Version
		}
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if modified {
		commit += "+dirty"
	}
	fmt.Fprintf(m.Stdout, "fcgihost %s\n", Version)
	if commit != "" {
		fmt.Fprintf(m.Stdout, "commit     %s\n", commit)
	}
	fmt.Fprintf(m.Stdout, "go         %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(m.Stdout, "goja       %s\n", orUnknown(deps["github.com/dop251/goja"]))
	fmt.Fprintf(m.Stdout, "gopher-lua %s\n", orUnknown(deps["github.com/yuin/gopher-lua"]))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
