package kv

import (
	"context"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNumberGlobs(t *testing.T) {
	for _, r := range [][2]int{{1, 9999}, {7, 9999}, {10, 9999}, {23, 9999}, {100, 9999}, {105, 9999}, {990, 9999}, {3, 47}, {5, 5}} {
		globs := numberGlobs(r[0], r[1])
		for n := 0; n <= 10050; n++ {
			s := strconv.Itoa(n)
			got := false
			for _, g := range globs {
				if ok, err := path.Match(g, s); err != nil {
					t.Fatalf("%q: %v", g, err)
				} else if ok {
					got = true
				}
			}
			if want := n >= r[0] && n <= r[1]; got != want {
				t.Fatalf("range %v, globs %q: %d matched=%v", r, globs, n, got)
			}
		}
		if len(globs) > 20 {
			t.Errorf("range %v: %d globs", r, len(globs))
		}
	}
}

// TestRedisUnitACL: each isolated unit's Redis user reaches its own apps'
// keys and nothing else, on a real redis-server with a password.
func TestRedisUnitACL(t *testing.T) {
	admin := startRedisWith(t, "admin-secret")
	ctx := context.Background()
	unitURL := func(unit string, apps, roots []string) string {
		u, err := RedisUnitURL(ctx, admin, unit, apps, roots)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(u, "admin-secret") {
			t.Fatalf("unit URL holds the admin password: %s", u)
		}
		return u
	}
	urlA := unitURL("app\x00a", []string{"a"}, nil)
	urlB := unitURL("app\x00b", []string{"b"}, nil)
	urlR := unitURL("root\x00/srv/t1", nil, []string{"/srv/t1"})
	if again := unitURL("app\x00a", []string{"a"}, nil); again != urlA {
		t.Errorf("the unit's URL changed: %s then %s", urlA, again)
	}
	open := func(u string) Store {
		s, err := OpenRedis(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	adm, sa, sb, sr := open(admin), open(urlA), open(urlB), open(urlR)
	mustSet(t, adm.Namespace("b", Quota{}), "secret", "of b")
	mustSet(t, adm.Namespace("/srv/t2/y.js", Quota{}), "secret", "of t2")

	// Each unit's own apps work in full.
	for _, c := range []struct {
		s   Store
		app string
	}{{sa, "a"}, {sb, "b"}, {sr, "/srv/t1/x.js"}, {sr, "/srv/t1/sub/deep/z.lua"}} {
		ns := c.s.Namespace(c.app, Quota{MaxKeys: 100})
		mustSet(t, ns, "k", "v")
		wantValue(t, ns, "k", "v")
		if n, err := ns.Incr(ctx, "n", 2); err != nil || n != 2 {
			t.Errorf("%s incr: %d %v", c.app, n, err)
		}
		if ok, err := ns.CAS(ctx, "c", nil, "1"); err != nil || !ok {
			t.Errorf("%s cas: %v %v", c.app, ok, err)
		}
		if err := ns.(Batcher).Batch(ctx, []Op{{Kind: OpSet, Key: "b1", Value: "x", TTL: 60e9}, {Kind: OpDelete, Key: "k"}}); err != nil {
			t.Errorf("%s batch: %v", c.app, err)
		}
		want := []string{"b1", "c", "n"}
		if c.app == "b" {
			want = append(want, "secret") // the admin's
		}
		wantList(t, ns, "", 0, want)
	}
	wantValue(t, sb.Namespace("b", Quota{}), "secret", "of b")

	// Nobody else's: every call on another app's namespace is refused.
	for _, c := range []struct {
		s   Store
		app string
	}{{sa, "b"}, {sb, "a"}, {sa, "/srv/t1/x.js"}, {sr, "a"}, {sr, "/srv/t2/y.js"},
		{sr, "/srv/t1"}, {sr, "/srv/t10/x.js"}, {sr, "/srv/t1x"}, {sa, "a:"}, {sa, ""}} {
		ns := c.s.Namespace(c.app, Quota{})
		if _, _, err := ns.Get(ctx, "secret"); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("get of app %q's key: %v, want NOPERM", c.app, err)
		}
		if err := ns.Set(ctx, "k", "v", 0); err == nil {
			t.Errorf("set in app %q succeeded", c.app)
		}
		if _, err := ns.List(ctx, "", 0); err == nil {
			t.Errorf("list of app %q succeeded", c.app)
		}
	}
	// Nor the raw commands a tenant would try with its credentials.
	opt, _ := redis.ParseURL(urlA)
	raw := redis.NewClient(opt)
	defer raw.Close()
	for _, cmd := range [][]any{
		{"GET", redisPrefix("b") + "k:secret"}, {"KEYS", "*"}, {"SCAN", "0"}, {"ACL", "LIST"},
		{"CONFIG", "GET", "requirepass"}, {"FLUSHALL"}, {"EVAL", "return redis.call('GET', KEYS[1])", "1", redisPrefix("b") + "k:secret"},
		{"EVAL", "return redis.call('KEYS', '*')", "0"}, {"AUTH", "default", "x"},
	} {
		err := raw.Do(ctx, cmd...).Err()
		if err == nil || (!strings.Contains(err.Error(), "NOPERM") && !strings.Contains(err.Error(), "WRONGPASS") &&
			!strings.Contains(err.Error(), "can't run this command")) {
			t.Errorf("%v with A's credentials: %v, want NOPERM", cmd, err)
		}
	}
	// A server without a password: nothing to protect, the URL is kept.
	if u, err := RedisUnitURL(ctx, "redis://127.0.0.1:1/0", "x", []string{"a"}, nil); err != nil || u != "redis://127.0.0.1:1/0" {
		t.Errorf("no password: %q %v", u, err)
	}
	// An admin that may not create users says so.
	if u, err := RedisUnitURL(ctx, urlA, "app\x00c", []string{"c"}, nil); err == nil || !strings.Contains(err.Error(), "ACL SETUSER") ||
		u == "" || u == urlA || strings.Contains(u, "admin-secret") {
		t.Errorf("unit user made by a unit user: %q %v", u, err)
	}
}
