package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/internal/logsafe"
)

// LogFile is a log destination that can be reopened (SIGUSR1, after
// logrotate moved it). A nil path means standard error.
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenLogFile opens path for appending ("" or "-" = standard error).
func OpenLogFile(path string) (*LogFile, error) {
	l := &LogFile{path: path}
	if path == "" || path == "-" {
		l.path = ""
		return l, nil
	}
	return l, l.Reopen()
}

// Write appends p.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return os.Stderr.Write(p)
	}
	return l.f.Write(p)
}

// Reopen closes and reopens the file.
func (l *LogFile) Reopen() error {
	if l.path == "" {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("open log %s: %w", l.path, err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		err := l.f.Close()
		l.f = nil
		return err
	}
	return nil
}

// NewLogger makes the host logger of cfg (log_format, log_level) on w.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	if cfg.Defaults.Debug && lvl > slog.LevelDebug {
		lvl = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		// Durations as "3.915ms", not as nanoseconds: a process-isolated
		// app's child logs JSON and its parent re-logs the fields.
		// Scripts' text (log(), error messages) is in these lines: the
		// JSON handler escapes ASCII controls, ReplaceAttrJSON the rest
		// (DEL, C1, bidi; docs/sandbox.md, "Logs"). The text handler
		// quotes and escapes every such value itself.
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			return logsafe.ReplaceAttrJSON(groups, durationString(groups, a))
		}
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// NewAccessLogger makes the access logger of cfg on w: with
// access_log_format "combined" (the default) one Apache/nginx combined log
// format line per request followed by app=, vm= and duration_ms= fields;
// with "json" one JSON object per request (see docs/observability.md).
func NewAccessLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if cfg.AccessLogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: logsafe.ReplaceAttrJSON}))
	}
	return slog.New(&combinedHandler{w: w, mu: &sync.Mutex{}})
}

// combinedHandler formats the host's access records (attributes app,
// method, uri, proto, status, bytes, duration_ms, remote, user, referer,
// user_agent, vm) as combined log format lines:
//
//	127.0.0.1 - - [22/Nov/2026:03:00:00 +0000] "GET /hello?x=1 HTTP/1.1" 200 12 "-" "curl/8.0" app=hello vm=3 duration_ms=0.412
type combinedHandler struct {
	w     io.Writer
	mu    *sync.Mutex
	attrs []slog.Attr
}

func (h *combinedHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *combinedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &combinedHandler{w: h.w, mu: h.mu, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *combinedHandler) WithGroup(string) slog.Handler { return h }

func (h *combinedHandler) Handle(_ context.Context, r slog.Record) error {
	f := map[string]slog.Value{}
	for _, a := range h.attrs {
		f[a.Key] = a.Value.Resolve()
	}
	r.Attrs(func(a slog.Attr) bool {
		f[a.Key] = a.Value.Resolve()
		return true
	})
	str := func(k string) string {
		if v, ok := f[k]; ok {
			return v.String()
		}
		return ""
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	status := dash(str("status"))
	if status == "0" {
		status = "-"
	}
	bytes := dash(str("bytes"))
	if bytes == "0" {
		bytes = "-" // Apache's %b
	}
	proto := str("proto")
	if proto == "" {
		proto = "HTTP/1.0"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - %s [%s] \"%s %s %s\" %s %s \"%s\" \"%s\" app=%s vm=%s duration_ms=%s\n",
		dash(str("remote")), dash(logEscape(str("user"))), t.Format("02/Jan/2006:15:04:05 -0700"),
		logEscape(dash(str("method"))), logEscape(dash(str("uri"))), logEscape(proto), status, bytes,
		logEscape(dash(str("referer"))), logEscape(dash(str("user_agent"))),
		dash(strings.ReplaceAll(logEscape(str("app")), " ", "\\x20")), dash(str("vm")), dash(str("duration_ms")))
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// logEscape escapes a field as Apache does: quotes and backslashes with a
// backslash, control and non-ASCII bytes as \xhh.
func logEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// durationString is a slog ReplaceAttr that writes a time.Duration as its
// String form ("1.5s") rather than a count of nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
