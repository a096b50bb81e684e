// Command fcgihost serves JavaScript and Lua apps to web servers over
// FastCGI, runs one script as a CGI program, and offers the tools around
// them (check, request, bench, version). See README.md and docs/reference.md §1.
//
// main only maps an error to an exit code; each subcommand lives in its own
// file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fcgihost/fcgihost/fcgi"
)

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// Main holds the process's standard streams, so subcommands can be tested
// in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Environ        func() []string
}

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := m.Run(ctx, os.Args[1:])
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "fcgihost:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "fcgihost:", err)
	os.Exit(1)
}

const usage = `usage: fcgihost <command> [flags]

commands:
  serve [flags]         serve the apps over FastCGI (and HTTP for development)
  run FILE              run one script as a CGI program (the CGI environment and stdin are the request)
  check [PATH...]       compile every app (default ./apps); print file:line:col: message for each error
  request [flags] PATH  send one FastCGI request and print the response
  bench [flags] PATH    load-test a FastCGI server
  version               print versions

Started by a web server with a listening socket on fd 0 (mod_fcgid, lighttpd
bin-path, spawn-fcgi), fcgihost serves FastCGI on it (SCGI or uwsgi with
--listen scgi:fd:0 or uwsgi:fd:0, or that listen key), and "fcgihost FILE"
(or a FILE starting with a "#!/path/to/fcgihost" line) serves FILE alone for
every request, as a FastCGI Authorizer needs. Under CGI (GATEWAY_INTERFACE
set) "fcgihost FILE" runs FILE once.
Run "fcgihost <command> -h" (or "fcgihost help <command>") for a command's
usage and flags.
`

// Run dispatches on the first argument. A subcommand's -h/--help prints
// its usage on stdout and succeeds.
func (m *Main) Run(ctx context.Context, args []string) error {
	if err := m.run(ctx, args); !errors.Is(err, errHelpShown) {
		return err
	}
	return nil
}

const (
	runUsage = `usage: fcgihost run FILE

Run FILE (.js or .lua) once as a CGI program: the request is the CGI
environment (REQUEST_METHOD, QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH,
PATH_INFO, HTTP_*, ...) and stdin, and the CGI response goes to stdout.
By hand (no GATEWAY_INTERFACE), what the environment does not give is
filled in: a GET of / from 127.0.0.1 unless REQUEST_METHOD, PATH_INFO,
QUERY_STRING... say otherwise; another method reads its body from stdin
(a form unless CONTENT_TYPE says otherwise). The host's other variables
never reach the script. For example:

  echo a=1 | REQUEST_METHOD=POST fcgihost run apps/cgi-env.js
`
	checkUsage = `usage: fcgihost check [PATH...]

Load every app under each PATH (default ./apps) as serve would, and every
.js and .lua file: print file:line:col: message for each error and exit 1
if there was any.
`
	versionUsage = `usage: fcgihost version

Print the fcgihost version and commit, the Go toolchain and the versions
of the script engines.
`
)

func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		if l, err := fcgi.InheritedListener(); err == nil && l != nil {
			return m.serve(ctx, nil, l)
		}
		if m.Getenv("GATEWAY_INTERFACE") != "" {
			if sf := m.Getenv("SCRIPT_FILENAME"); sf != "" {
				return m.runCGI(ctx, sf)
			}
		}
		fmt.Fprint(m.Stderr, usage)
		return &exitError{code: 2}
	}
	switch args[0] {
	case "serve":
		// "fcgihost serve --config …" as a mod_fcgid wrapper or lighttpd
		// bin-path also serves the socket on fd 0.
		l, _ := fcgi.InheritedListener()
		return m.serve(ctx, args[1:], l)
	case "__worker": // started by a master (docs/processes.md); not in the usage
		return m.worker(ctx, args[1:])
	case "run":
		if wantsHelp(args[1:]) {
			fmt.Fprint(m.Stdout, runUsage)
			return errHelpShown
		}
		if len(args) != 2 {
			return m.usageError("run", "expected one FILE")
		}
		if strings.HasPrefix(args[1], "-") {
			if _, err := os.Stat(args[1]); err != nil {
				return m.usageError("run", "unknown flag "+args[1]+" (run takes no flags)")
			}
		}
		return m.runFile(ctx, args[1])
	case "check":
		return m.check(args[1:])
	case "request":
		return m.request(ctx, args[1:])
	case "bench":
		return m.bench(ctx, args[1:])
	case "version", "--version", "-v":
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		if err := m.parseFlags(fs, versionUsage, args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return m.usageError("version", "unexpected argument "+fs.Arg(0))
		}
		return m.version()
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] != "help" {
			return m.run(ctx, []string{args[1], "-h"})
		}
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	// "fcgihost FILE": as a #! interpreter under CGI or FastCGI, or by hand.
	if st, err := os.Stat(args[0]); err == nil && st.Mode().IsRegular() {
		return m.runFile(ctx, args[0])
	}
	fmt.Fprintf(m.Stderr, "fcgihost: unknown command %q\n\n%s", args[0], usage)
	return &exitError{code: 2}
}
