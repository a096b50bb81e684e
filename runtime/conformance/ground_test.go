package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// ttlKV records the ttl each Set receives.
type ttlKV struct {
	script.KV
	ttls []time.Duration
}

func (k *ttlKV) Set(_ context.Context, _, _ string, ttl time.Duration) error {
	k.ttls = append(k.ttls, ttl)
	return nil
}

// serveBoth runs one handler body per engine and returns each body (or
// error text), keyed by engine name.
func serveBoth(t *testing.T, code map[string]string, kv script.KV) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, eng := range engines() {
		dir := t.TempDir()
		file := filepath.Join(dir, "app"+eng.Extensions()[0])
		src := handlerSource(eng.Name(), code[eng.Name()])
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := eng.Compile(script.Source{App: "app", Dir: dir, Entry: file, Code: []byte(src)},
			script.Options{Limits: sandbox.Limits{}.WithDefaults(), KV: kv})
		if err != nil {
			t.Fatalf("%s: compile: %v", eng.Name(), err)
		}
		vm, err := b.NewVM(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s := &sink{}
		res := script.NewResponse(s, 0, false)
		if err := vm.Serve(context.Background(), buildRequest(request{}), res); err != nil {
			out[eng.Name()] = "error: " + err.Error()
		} else {
			res.Finish()
			out[eng.Name()] = s.body.String()
		}
		vm.Close()
	}
	return out
}

// TestGroundConformance: the built-ins both languages have, from the same
// implementation (script/builtin), give the same results.
func TestGroundConformance(t *testing.T) {
	tests := []struct{ name, js, lua, want string }{
		{"url encode", `return encodeURIComponent("a b&é~*'()") + "|" + decodeURIComponent("a%20b+%C3%A9")`,
			`return url.encode("a b&é~*'()") .. "|" .. url.decode("a%20b+%C3%A9")`, "a%20b%26%C3%A9~*'()|a b+é"},
		{"random uuid shape", `const u = crypto.randomUUID(); return u[14] + u.replace(/[0-9a-f]/g, "x")`,
			`local u = crypto.random_uuid() return u:sub(15, 15) .. (u:gsub("%x", "x"))`, "4xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"},
		{"random bytes length", `const a = new Uint8Array(32); crypto.getRandomValues(a); return String(a.length)`,
			`return tostring(#crypto.random_bytes(32))`, "32"},
		{"random bytes quota", `try { crypto.getRandomValues(new Uint8Array(65537)); return "no error" } catch (e) { return "quota" }`,
			`local ok = pcall(crypto.random_bytes, 65537) return ok and "no error" or "quota"`, "quota"},
		{"utf8 round trip", `return new TextDecoder().decode(new TextEncoder().encode("hé€😀")) + "|" + [..."hé€😀"].length`,
			`return utf8.char(utf8.codepoint("hé€😀", 1, -1)) .. "|" .. utf8.len("hé€😀")`, "hé€😀|4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serveBoth(t, map[string]string{"js": tt.js, "lua": tt.lua}, nil)
			for eng, body := range got {
				if body != tt.want {
					t.Errorf("%s: %q, want %q", eng, body, tt.want)
				}
			}
		})
	}
}

// TestTTLConformance: a ttl that is not a number of seconds from 0 to ten
// years is the same script error in both languages and never reaches the
// store (it used to arrive as -9223372036854775808 ns).
func TestTTLConformance(t *testing.T) {
	for _, ttl := range []string{"1e10", "1e300", "0/0", "-1", "1/0"} {
		t.Run(ttl, func(t *testing.T) {
			kv := &ttlKV{}
			got := serveBoth(t, map[string]string{
				"js":  `try { kv.set("k", "v", {ttl: ` + ttl + `}); return "stored" } catch (e) { return e.message }`,
				"lua": `local ok, err = pcall(kv.set, "k", "v", {ttl = ` + ttl + `}) return ok and "stored" or tostring(err)`,
			}, kv)
			if len(kv.ttls) != 0 {
				t.Errorf("the store got ttls %v", kv.ttls)
			}
			for eng, msg := range got {
				if !strings.Contains(msg, "kv.set: ttl must be a number of seconds from 0 to 315360000") {
					t.Errorf("%s: %q, want the ttl error", eng, msg)
				}
			}
		})
	}
	kv := &ttlKV{}
	serveBoth(t, map[string]string{"js": `kv.set("k", "v", {ttl: 1.5}); return ""`, "lua": `kv.set("k", "v", {ttl = 1.5}) return ""`}, kv)
	if len(kv.ttls) != 2 || kv.ttls[0] != 1500*time.Millisecond || kv.ttls[1] != kv.ttls[0] {
		t.Errorf("ttl 1.5: the store got %v, want 1.5s from each engine", kv.ttls)
	}
}
