package main

// This file holds what every subcommand shares on its command line:
// -h/--help prints the command's usage and flags on stdout and exits 0;
// an unknown flag is named with the nearest known one and exits 2.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelpShown ends a subcommand after its usage was printed for -h or
// --help; Run turns it into success.
var errHelpShown = errors.New("help shown")

// wantsHelp reports whether args ask for help: -h, -help or --help before
// any other argument or "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
		if !strings.HasPrefix(a, "-") {
			return false
		}
	}
	return false
}

// parseFlags parses args into fs, the flags of `fcgihost NAME` (fs's
// name). usage is the command's synopsis (its "usage: …" lines and any
// explanation), printed with the flags for -h/--help.
func (m *Main) parseFlags(fs *flag.FlagSet, usage string, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		m.printUsage(fs, usage)
		return errHelpShown
	}
	return m.usageError(fs.Name(), flagError(fs, err))
}

// printUsage prints usage and fs's flags on stdout.
func (m *Main) printUsage(fs *flag.FlagSet, usage string) {
	fmt.Fprint(m.Stdout, strings.TrimRight(usage, "\n")+"\n")
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(m.Stdout, "\nflags:")
		fs.SetOutput(m.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// usageError reports a command-line mistake of `fcgihost cmd` and exits 2.
func (m *Main) usageError(cmd, msg string) error {
	fmt.Fprintf(m.Stderr, "fcgihost %s: %s\nRun \"fcgihost %s -h\" for its usage and flags.\n", cmd, msg, cmd)
	return &exitError{code: 2}
}

// flagError rewords the flag package's error for an unknown flag with the
// nearest known one.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "flag provided but not defined: -")
	if !ok {
		return msg
	}
	msg = "unknown flag " + dashes(name)
	if s := nearestFlag(fs, name); s != "" {
		msg += " (did you mean " + dashes(s) + "?)"
	}
	return msg
}

func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// nearestFlag returns the flag of fs closest to name (within a third of
// its length in edits, at least one), or "".
func nearestFlag(fs *flag.FlagSet, name string) string {
	name = strings.TrimLeft(name, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	best, bestDist := "", max(2, len(name)/3)+1
	fs.VisitAll(func(f *flag.Flag) {
		d := editDistance(strings.ToLower(name), strings.ToLower(f.Name))
		if strings.HasPrefix(f.Name, name) && len(name) >= 3 {
			d = min(d, 1) // a prefix: --max for --max-requests
		}
		if d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

const (
	serveUsage = `usage: fcgihost serve [flags]

Serve the apps over FastCGI (and over HTTP for development). With no
listener flag or config key: FastCGI on 127.0.0.1:9000 and HTTP on
127.0.0.1:8080. Flags win over the config file (every key:
config/KEYS.md).
`
	requestUsage = `usage: fcgihost request [flags] PATH

Send one FastCGI request for PATH (with its query string) and print the
response body (-i: the status line and headers first). Exit 22 with -f
when the status is 400 or more.
`
	benchUsage = `usage: fcgihost bench [flags] PATH
       fcgihost bench --compare-cgi FILE [flags] [PATH]
       fcgihost bench --compare FILE [--svg OUT] [flags] [PATH]

Load-test a FastCGI server (an SCGI or uwsgi one with --connect scgi:ADDR
or uwsgi:ADDR); --compare-cgi serves FILE as CGI and through
the pool and prints both; --compare runs FILE as CGI and through the pool
over FastCGI, SCGI, uwsgi and HTTP, one row per transport (docs/teaching.md).
`
)
