package logsafe

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, with \\ and ü", "plain text, with \\ and ü"},
		{"boom\r[crit] forged \x1b[2J", `boom\r[crit] forged \x1b[2J`},
		{"a\nb\tc\x00d\x7f", `a\nb\tc\x00d\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"iso \u2066x\u2069 \u200e", `iso \u2066x\u2069 \u200e`},
		{"sep \u2028 \u2029", `sep \u2028 \u2029`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
	} {
		got := Escape(c.in)
		if got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x202e || r == 0x2028 {
				t.Errorf("Escape(%q) left %U", c.in, r)
			}
		}
	}
}

// TestJSONHandler: what a script logs reaches a JSON log as one line with
// no raw DEL, C1 or bidi character, and multi-line values still decode to
// their lines.
func TestJSONHandler(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: ReplaceAttrJSON}))
	msg := "boom\r[crit] forged \x1b[2J\x7f\u009b\u202e"
	l.Info(msg, "err", errors.New(msg), "stack", "at a\nat b")
	out := buf.String()
	if strings.Count(out, "\n") != 1 || strings.ContainsAny(out, "\r\x1b\x7f\u009b\u202e") {
		t.Fatalf("raw control characters in %q", out)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["stack"] != "at a\nat b" {
		t.Errorf("stack = %q", rec["stack"])
	}
	if want := "boom\r[crit] forged \x1b[2J\\x7f\\u009b\\u202e"; rec["msg"] != want || rec["err"] != want {
		t.Errorf("msg = %q, err = %q, want %q", rec["msg"], rec["err"], want)
	}
}
