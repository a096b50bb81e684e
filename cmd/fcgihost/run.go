package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/host"
	"github.com/fcgihost/fcgihost/internal/logsafe"
	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/runtime/lua"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
	"github.com/fcgihost/fcgihost/server"
)

func engineFor(path string) (script.Engine, error) {
	for _, e := range []script.Engine{js.New(), lua.New()} {
		for _, ext := range e.Extensions() {
			if filepath.Ext(path) == ext {
				return e, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: not a .js or .lua file", path)
}

// runFile runs FILE: over FastCGI when the web server passed a listening
// socket on fd 0 (serveScript), else once as a CGI program (runCGI).
func (m *Main) runFile(ctx context.Context, file string) error {
	if l, err := fcgi.InheritedListener(); err == nil && l != nil {
		return m.serveScript(ctx, file, l)
	}
	return m.runCGI(ctx, file)
}

// serveScript serves FILE alone over FastCGI on l, the socket on fd 0:
// every request runs FILE, whatever its SCRIPT_FILENAME (kept in
// ORIG_SCRIPT_FILENAME, as PHP does). This is how a FastCGI Authorizer
// runs — mod_fcgid's FcgidAuthorizer and lighttpd's "mode" => "authorizer"
// name the program, not a script, and send the protected file as
// SCRIPT_FILENAME — and how a "#!/usr/bin/fcgihost" script runs under
// mod_fcgid or lighttpd bin-path. FILE is an app of its own (a root script:
// its directory is the root), with the settings of $FCGIHOST_CONFIG if set;
// it stops when ctx ends (SIGTERM from the web server).
func (m *Main) serveScript(ctx context.Context, file string, l net.Listener) error {
	defer l.Close()
	real, err := filepath.Abs(file)
	if err == nil {
		real, err = filepath.EvalSymlinks(real)
	}
	if err != nil {
		return fmt.Errorf("serve %s: %w", file, err)
	}
	if _, err := engineFor(real); err != nil {
		return err
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags := config.BindFlags(fs)
	flags.EnvFileOptional = true
	cfg, err := flags.Load()
	if err != nil {
		return m.serveBroken(ctx, l, err)
	}
	cfg.Apps, cfg.Roots, cfg.Listen, cfg.HTTP = "", []string{filepath.Dir(real)}, nil, ""
	logOut, err := server.OpenLogFile(cfg.LogFile)
	if err != nil {
		return err
	}
	defer logOut.Close()
	log := server.NewLogger(cfg, logOut)
	if msg, ok := missingConfigMessage(flags); ok {
		log.Warn(msg, "file", flags.Missing())
	}
	srv, err := server.New(cfg, server.Options{Logger: log})
	if err != nil {
		return m.serveBroken(ctx, l, fmt.Errorf("serve %s: %w", real, err))
	}
	fsrv := srv.NewFCGIServer(cfg)
	fsrv.Handler = fcgi.HandlerFunc(func(w fcgi.ResponseWriter, r *fcgi.Request) {
		if sf, ok := r.Params["SCRIPT_FILENAME"]; ok {
			r.Params["ORIG_SCRIPT_FILENAME"] = sf
		}
		r.Params["SCRIPT_FILENAME"] = real
		srv.ServeFCGI(w, r)
	})
	log.Info("fcgihost serving one script", "script", real, "addr", l.Addr().String(), "pid", os.Getpid())
	errc := make(chan error, 1)
	go func() { errc <- fsrv.Serve(l) }()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, fcgi.ErrServerClosed) {
			runErr = fmt.Errorf("fastcgi %s: %w", l.Addr(), err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.GracePeriod)
	defer cancel()
	if err := fsrv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at the end of the grace period were cancelled", "err", err)
	}
	srv.Close(sctx)
	log.Info("stopped")
	return runErr
}

// runCGI runs FILE once as a CGI program: the environment and stdin are
// the request, stdout gets a CGI response. Without GATEWAY_INTERFACE (by
// hand) the request is what the environment's CGI variables and stdin
// give, the rest filled in (byHandParams).
func (m *Main) runCGI(ctx context.Context, file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return m.cgiFail(abs, fmt.Errorf("open %s: %w", file, err))
	}
	eng, err := engineFor(real)
	if err != nil {
		return m.cgiFail(abs, err)
	}
	params := map[string]string{}
	lim := sandbox.Limits{}.WithDefaults()
	var body []byte
	if m.Getenv("GATEWAY_INTERFACE") != "" {
		for _, kv := range m.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				params[k] = v
			}
		}
	} else if params, body, err = m.byHandParams(lim.MaxBody); err != nil {
		return m.cgiFail(abs, fmt.Errorf("read request body: %w", err))
	} else if int64(len(body)) > lim.MaxBody {
		return m.cgiStatus(http.StatusRequestEntityTooLarge, "request body too large")
	}
	params["SCRIPT_FILENAME"] = real

	if n, err := strconv.ParseInt(params["CONTENT_LENGTH"], 10, 64); err == nil && n > 0 && body == nil {
		if n > lim.MaxBody {
			return m.cgiStatus(http.StatusRequestEntityTooLarge, "request body too large")
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(m.Stdin, body); err != nil {
			return m.cgiFail(real, fmt.Errorf("read request body: %w", err))
		}
	}
	code, err := os.ReadFile(real)
	if err != nil {
		return m.cgiFail(real, fmt.Errorf("read %s: %w", real, err))
	}
	code = script.StripShebang(filepath.Ext(real), code)
	log := slog.New(slog.NewTextHandler(m.Stderr, nil)).With("app", filepath.Base(real))
	b, err := eng.Compile(script.Source{App: filepath.Base(real), Dir: filepath.Dir(real), Entry: real, Code: code},
		script.Options{Limits: lim, Logger: log})
	if err != nil {
		return m.cgiFail(real, err)
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	vm, err := b.NewVM(ctx)
	if err != nil {
		return m.cgiFail(real, err)
	}
	defer vm.Close()
	method := params["REQUEST_METHOD"]
	if method == "" {
		method = "GET"
	}
	path := params["PATH_INFO"]
	if path == "" {
		path = "/"
	}
	req := &script.Request{Params: params, Method: method, URI: params["REQUEST_URI"], Path: path,
		Base:     strings.TrimSuffix(params["SCRIPT_NAME"], "/"),
		RawQuery: params["QUERY_STRING"], RemoteAddr: params["REMOTE_ADDR"], Body: body}
	sink := host.NewCGISink(m.Stdout)
	res := script.NewResponse(host.GuardSink(sink, false, log, req.URI), lim.MaxResponse, method == "HEAD")
	if err := vm.Serve(ctx, req, res); err != nil {
		if res.Reset() {
			return m.cgiFail(real, err)
		}
		fmt.Fprintf(m.Stderr, "fcgihost: %s: %s\n", logsafe.Escape(real), logsafe.Escape(strings.ReplaceAll(err.Error(), "\n", " | ")))
		res.Finish()
		sink.Close()
		return &exitError{code: 1}
	}
	res.Finish()
	return sink.Close()
}

// cgiFail reports err on stderr (the web server's error log) and answers
// 500 (400 for a client error).
func (m *Main) cgiFail(file string, err error) error {
	msg := err.Error()
	var se *script.ScriptError
	if errors.As(err, &se) && se.Stack != "" {
		msg += "\n" + se.Stack
	}
	// One line, with the script's control characters escaped: this is
	// the web server's error log (docs/sandbox.md, "Logs").
	fmt.Fprintf(m.Stderr, "fcgihost: %s: %s\n", logsafe.Escape(file), logsafe.Escape(strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " | ")))
	status := http.StatusInternalServerError
	if errors.Is(err, script.ErrBadRequest) {
		status = http.StatusBadRequest
	}
	m.cgiStatus(status, strings.ToLower(http.StatusText(status)))
	return &exitError{code: 1}
}

func (m *Main) cgiStatus(status int, body string) error {
	fmt.Fprintf(m.Stdout, "Status: %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\n", status, http.StatusText(status), body)
	return nil
}
