package server

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/fcgihost/fcgihost/config"
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
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// NewAccessLogger makes the access logger of cfg on w: JSON lines, or
// text lines of key=value pairs in the order of the combined log format.
func NewAccessLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if cfg.AccessLogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
