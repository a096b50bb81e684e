package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/config"
)

// accessRecord logs one request the way host.Host does.
func accessRecord(l *slog.Logger, method, uri, ua string, status int, bytes int64) {
	l.Info("request", "app", "hello", "method", method, "uri", uri,
		"status", status, "bytes", bytes, "duration_ms", 1.25,
		"remote", "127.0.0.1", "vm", uint64(3), "proto", "HTTP/1.1",
		"referer", "", "user_agent", ua, "user", "")
}

func TestAccessLog_Combined(t *testing.T) {
	tests := []struct {
		name, method, uri, ua string
		status                int
		bytes                 int64
		want                  string // after the [time] field
	}{
		{"plain", "GET", "/hello?x=1", "curl/8.0", 200, 12,
			`"GET /hello?x=1 HTTP/1.1" 200 12 "-" "curl/8.0" app=hello vm=3 duration_ms=1.25`},
		{"no body, quote in agent", "HEAD", "/hello", `a "b" \c`, 304, 0,
			`"HEAD /hello HTTP/1.1" 304 - "-" "a \"b\" \\c" app=hello vm=3 duration_ms=1.25`},
		{"control bytes", "GET", "/a\nb", "", 400, 5,
			`"GET /a\x0ab HTTP/1.1" 400 5 "-" "-" app=hello vm=3 duration_ms=1.25`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := NewAccessLogger(&config.Config{AccessLogFormat: "combined"}, &buf)
			accessRecord(l, tt.method, tt.uri, tt.ua, tt.status, tt.bytes)
			line := buf.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Fatalf("not one line: %q", line)
			}
			if !strings.HasPrefix(line, "127.0.0.1 - - [") {
				t.Errorf("prefix: %q", line)
			}
			_, rest, ok := strings.Cut(line, "] ")
			if !ok || strings.TrimSuffix(rest, "\n") != tt.want {
				t.Errorf("got  %q\nwant %q", rest, tt.want)
			}
		})
	}
}

func TestAccessLog_JSON(t *testing.T) {
	var buf bytes.Buffer
	l := NewAccessLogger(&config.Config{AccessLogFormat: "json"}, &buf)
	accessRecord(l, "POST", "/hello", "x", 201, 7)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for k, want := range map[string]any{"app": "hello", "status": 201.0, "bytes": 7.0, "vm": 3.0, "duration_ms": 1.25, "method": "POST"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}
