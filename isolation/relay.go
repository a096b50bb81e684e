package isolation

// This file holds the relay of a child's output into the host's log: the
// child logs JSON lines (log_format = "json" in its config), each re-logged
// through the host's logger at its own level with the child's pid; any
// other line (a Go runtime crash, a panic trace) is logged as child output,
// the first maxRawLines of them, and the last few are kept for the exit
// reason.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

const (
	maxRawLines  = 20       // raw lines logged per child
	tailLines    = 8        // raw lines kept for the exit reason
	maxLineBytes = 64 << 10 // a longer line is cut
)

// relay is an io.Writer that turns a child's output into log lines. It
// keeps the last raw lines and the first notable ones for the exit reason.
type relay struct {
	log   *slog.Logger
	level slog.Level // of raw lines

	mu      sync.Mutex
	buf     []byte
	raw     int
	tail    []string
	notable []string // the first lines that say why a process died
}

func newRelay(log *slog.Logger, rawLevel slog.Level) *relay {
	return &relay{log: log, level: rawLevel}
}

func (r *relay) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			if len(r.buf) > maxLineBytes {
				r.line(r.buf[:maxLineBytes])
				r.buf = r.buf[:0]
			}
			break
		}
		r.line(r.buf[:i])
		r.buf = r.buf[i+1:]
	}
	if len(r.buf) == 0 {
		r.buf = nil
	}
	return len(p), nil
}

// setLogger changes the logger (once the child's pid is known).
func (r *relay) setLogger(l *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = l
}

// flush logs a last line with no newline.
func (r *relay) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		r.line(r.buf)
		r.buf = nil
	}
}

// Tail returns the last raw lines, oldest first.
func (r *relay) Tail() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tail...)
}

// Notable returns the first raw lines that tell why the process died
// ("fatal error: …", "panic: …", "… out of memory …").
func (r *relay) Notable() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.notable...)
}

func (r *relay) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if b[0] == '{' {
		var rec map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber() // integers stay integers
		if d.Decode(&rec) == nil {
			if msg, ok := rec["msg"].(string); ok {
				r.structured(msg, rec)
				return
			}
		}
	}
	s := string(b)
	if len(r.notable) < 4 && (strings.HasPrefix(s, "fatal error:") || strings.HasPrefix(s, "panic:") || outOfMemory(s) ||
		strings.HasPrefix(s, "runtime/cgo:") || strings.HasPrefix(s, "SIG")) {
		r.notable = append(r.notable, s)
	}
	r.tail = append(r.tail, s)
	if len(r.tail) > tailLines {
		r.tail = r.tail[1:]
	}
	r.raw++
	switch {
	case r.raw <= maxRawLines:
		r.log.Log(context.Background(), r.level, "child output", "line", s)
	case r.raw == maxRawLines+1:
		r.log.Log(context.Background(), r.level, "child output continues; not logged")
	}
}

func (r *relay) structured(msg string, rec map[string]any) {
	level := parseLevel(rec["level"])
	if !r.log.Enabled(context.Background(), level) {
		return
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		switch k {
		case "time", "level", "msg":
		default:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		v := rec[k]
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				v = i
			} else if f, err := n.Float64(); err == nil {
				v = f
			}
		}
		args = append(args, slog.Any(k, v))
	}
	r.log.Log(context.Background(), level, msg, args...)
}

// outOfMemory reports whether a line of a dying Go process says the
// kernel refused it memory: the runtime's own words, the race detector's,
// or cgo's failure to map a thread stack (past RLIMIT_DATA, pthread_create
// fails with EAGAIN).
func outOfMemory(line string) bool {
	for _, m := range []string{"out of memory", "cannot allocate memory", "failed to allocate", "pthread_create failed", "errno=12"} {
		if strings.Contains(line, m) {
			return true
		}
	}
	return false
}

func parseLevel(v any) slog.Level {
	s, _ := v.(string)
	var l slog.Level
	// slog's JSON levels are "DEBUG", "INFO", "WARN", "ERROR", or "INFO+2".
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}
