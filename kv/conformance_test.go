package kv

// The conformance table: every case runs against every backend (SQLite
// and bbolt always, Redis when redis-server is installed).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// env is one backend as a case sees it.
type env struct {
	s      Store
	prefix string // app names of this case start with it
	// advance makes d pass on the store's clock.
	advance func(d time.Duration)
	// reopen closes the store and opens it again on the same data.
	reopen func(t *testing.T) Store
}

func (e *env) ns(app string, q Quota) script.KV { return e.s.Namespace(e.prefix+app, q) }

// backend opens a fresh env for one case.
type backend struct {
	name string
	open func(t *testing.T, prefix string) *env
}

// fakeClock is a clock tests move forward.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func boltBackend() backend {
	return backend{name: "bolt", open: func(t *testing.T, prefix string) *env {
		path := filepath.Join(t.TempDir(), "kv.db")
		clock := &fakeClock{}
		s, err := openBolt(path, clock.now)
		if err != nil {
			t.Fatal(err)
		}
		e := &env{s: s, prefix: prefix, advance: clock.advance}
		t.Cleanup(func() { e.s.Close() })
		e.reopen = func(t *testing.T) Store {
			if err := e.s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := openBolt(path, clock.now)
			if err != nil {
				t.Fatal(err)
			}
			e.s = s
			return s
		}
		return e
	}}
}

func sqliteBackend() backend {
	return backend{name: "sqlite", open: func(t *testing.T, prefix string) *env {
		path := filepath.Join(t.TempDir(), "kv.sqlite")
		clock := &fakeClock{}
		open := func(t *testing.T) *sqlStore {
			s, err := openSQLite(context.Background(), path, clock.now, slog.Default())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		e := &env{s: open(t), prefix: prefix, advance: clock.advance}
		t.Cleanup(func() { e.s.Close() })
		e.reopen = func(t *testing.T) Store {
			if err := e.s.Close(); err != nil {
				t.Fatal(err)
			}
			e.s = open(t)
			return e.s
		}
		return e
	}}
}

// redisBackend shares one redis-server, started on first use, between the
// cases of test t; cases keep apart by their app name prefixes.
func redisBackend(t *testing.T) backend {
	var (
		once sync.Once
		url  string
	)
	return backend{name: "redis", open: func(ct *testing.T, prefix string) *env {
		once.Do(func() { url = startRedis(t) })
		if url == "" {
			ct.Skip("redis-server unavailable")
		}
		open := func(t *testing.T) Store {
			s, err := OpenRedis(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		e := &env{s: open(ct), prefix: prefix, advance: time.Sleep}
		ct.Cleanup(func() { e.s.Close() })
		e.reopen = func(t *testing.T) Store {
			if err := e.s.Close(); err != nil {
				t.Fatal(err)
			}
			e.s = open(t)
			return e.s
		}
		return e
	}}
}

func backends(t *testing.T) []backend {
	return []backend{sqliteBackend(), boltBackend(), redisBackend(t)}
}

func ptr(s string) *string { return &s }

func mustGet(t *testing.T, kv script.KV, key string) (string, bool) {
	t.Helper()
	v, ok, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return v, ok
}

func mustSet(t *testing.T, kv script.KV, key, value string) {
	t.Helper()
	if err := kv.Set(context.Background(), key, value, 0); err != nil {
		t.Fatalf("set %q: %v", key, err)
	}
}

func wantValue(t *testing.T, kv script.KV, key, want string) {
	t.Helper()
	got, ok := mustGet(t, kv, key)
	if !ok || got != want {
		t.Fatalf("get %q = %q, %v; want %q, true", key, got, ok, want)
	}
}

func wantAbsent(t *testing.T, kv script.KV, key string) {
	t.Helper()
	if got, ok := mustGet(t, kv, key); ok {
		t.Fatalf("get %q = %q, true; want absent", key, got)
	}
}

func wantList(t *testing.T, kv script.KV, prefix string, limit int, want []string) {
	t.Helper()
	got, err := kv.List(context.Background(), prefix, limit)
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("list %q limit %d = %q; want %q", prefix, limit, got, want)
	}
}

var conformance = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"ListPages", func(t *testing.T, e *env) {
		// Paging through a prefix with after = the last key of a page:
		// every live key once, in order, whatever lies around the prefix.
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		var want []string
		for i := 0; i < 25; i++ {
			k := fmt.Sprintf("p:%02d", i)
			want = append(want, k)
			mustSet(t, kv, k, "v")
		}
		for _, k := range []string{"p", "o\xff", "p;", "q", "p:\xff\xff", "p:\xff\xff\x00"} {
			mustSet(t, kv, k, "v")
		}
		want = append(want, "p:\xff\xff", "p:\xff\xff\x00")
		if err := kv.Set(ctx, "p:10x", "gone", time.Second); err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Second)
		pg := kv.(Pager)
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("no end after %d pages: %q", pages, got)
			}
			keys, err := pg.ListAfter(ctx, "p:", after, 10)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, keys...)
			if len(keys) < 10 {
				break
			}
			after = keys[len(keys)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages = %q\nwant %q", got, want)
		}
		for _, c := range []struct {
			prefix, after string
			want          []string
		}{
			{"p:", "a", want[:3]},         // after before the prefix: from its start
			{"p:", "p:\xff\xff\x00", nil}, // after its last key
			{"p:", "z", nil},              // after the prefix
			{"", "p:24", []string{"p:\xff\xff", "p:\xff\xff\x00", "p;"}},
			{"\xff", "", nil},
		} {
			keys, err := pg.ListAfter(ctx, c.prefix, c.after, 3)
			if err != nil || !slices.Equal(keys, c.want) && (len(keys) != 0 || len(c.want) != 0) {
				t.Errorf("ListAfter(%q, %q, 3) = %q, %v; want %q", c.prefix, c.after, keys, err, c.want)
			}
		}
	}},
	{"GetSetDelete", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		wantAbsent(t, kv, "k")
		mustSet(t, kv, "k", "v1")
		wantValue(t, kv, "k", "v1")
		mustSet(t, kv, "k", "v2")
		wantValue(t, kv, "k", "v2")
		mustSet(t, kv, "empty", "")
		wantValue(t, kv, "empty", "")
		if err := kv.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		wantAbsent(t, kv, "k")
		if err := kv.Delete(ctx, "never-set"); err != nil {
			t.Fatalf("delete of a missing key: %v", err)
		}
	}},
	{"BinaryKeysAndValues", func(t *testing.T, e *env) {
		kv := e.ns("app", Quota{})
		pairs := map[string]string{
			"nul\x00key":                   "v\x00al",
			"\xff\xfe":                     "\x00\x01\xff",
			"snow☃man":                     "ünïcode",
			"a:b":                          "colon",
			strings.Repeat("k", MaxKeyLen): strings.Repeat("v", MaxValueLen),
		}
		for k, v := range pairs {
			mustSet(t, kv, k, v)
		}
		for k, v := range pairs {
			wantValue(t, kv, k, v)
		}
		wantAbsent(t, kv, "nul")
		wantAbsent(t, kv, "nul\x00")
	}},
	{"Limits", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		cases := []struct {
			name string
			err  error
			want error
		}{
			{"empty key set", kv.Set(ctx, "", "v", 0), ErrInvalidKey},
			{"long key set", kv.Set(ctx, strings.Repeat("k", MaxKeyLen+1), "v", 0), ErrInvalidKey},
			{"long key get", func() error { _, _, err := kv.Get(ctx, strings.Repeat("k", MaxKeyLen+1)); return err }(), ErrInvalidKey},
			{"empty key get", func() error { _, _, err := kv.Get(ctx, ""); return err }(), ErrInvalidKey},
			{"long value", kv.Set(ctx, "k", strings.Repeat("v", MaxValueLen+1), 0), ErrValueTooLarge},
			{"long cas value", func() error { _, err := kv.CAS(ctx, "k", nil, strings.Repeat("v", MaxValueLen+1)); return err }(), ErrValueTooLarge},
			{"negative ttl", kv.Set(ctx, "k", "v", -time.Second), ErrInvalidTTL},
			{"empty key incr", func() error { _, err := kv.Incr(ctx, "", 1); return err }(), ErrInvalidKey},
			{"bad batch kind", kv.(Batcher).Batch(ctx, []Op{{Kind: 99, Key: "k"}}), ErrInvalidOp},
			{"long batch", kv.(Batcher).Batch(ctx, make([]Op, MaxBatchOps+1)), ErrInvalidOp},
		}
		for _, c := range cases {
			if !errors.Is(c.err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
			}
		}
		wantAbsent(t, kv, "k")
		wantList(t, kv, "", 0, []string{})
	}},
	{"TTL", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		if err := kv.Set(ctx, "short", "s", 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := kv.Set(ctx, "long", "l", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := kv.Set(ctx, "reset", "r", 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		mustSet(t, kv, "reset", "r2") // a set without ttl clears it
		if _, err := kv.Incr(ctx, "counter", 5); err != nil {
			t.Fatal(err)
		}
		if err := kv.Set(ctx, "counter", "5", 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if n, err := kv.Incr(ctx, "counter", 1); err != nil || n != 6 {
			t.Fatalf("incr = %d, %v; want 6", n, err)
		}
		wantValue(t, kv, "short", "s")
		wantList(t, kv, "", 0, []string{"counter", "long", "reset", "short"})
		e.advance(400 * time.Millisecond)
		wantAbsent(t, kv, "short")
		wantAbsent(t, kv, "counter") // incr kept the ttl
		wantValue(t, kv, "long", "l")
		wantValue(t, kv, "reset", "r2")
		wantList(t, kv, "", 0, []string{"long", "reset"})
		// An expired key is absent for cas and incr too.
		if err := kv.Set(ctx, "gone", "x", 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		e.advance(200 * time.Millisecond)
		if ok, err := kv.CAS(ctx, "gone", nil, "fresh"); err != nil || !ok {
			t.Fatalf("cas on expired key = %v, %v; want true", ok, err)
		}
		wantValue(t, kv, "gone", "fresh")
	}},
	{"Incr", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		steps := []struct {
			key  string
			n    int64
			want int64
		}{
			{"c", 1, 1}, {"c", 1, 2}, {"c", -10, -8}, {"c", 0, -8}, {"d", -3, -3},
		}
		for _, s := range steps {
			got, err := kv.Incr(ctx, s.key, s.n)
			if err != nil || got != s.want {
				t.Fatalf("incr %s %d = %d, %v; want %d", s.key, s.n, got, err, s.want)
			}
		}
		wantValue(t, kv, "c", "-8")
		bad := []struct{ value string }{{"abc"}, {"1.5"}, {" 1"}, {"+1"}, {"007"}, {""}, {"99999999999999999999"}}
		for _, b := range bad {
			mustSet(t, kv, "x", b.value)
			if _, err := kv.Incr(ctx, "x", 1); !errors.Is(err, ErrNotInteger) {
				t.Errorf("incr of %q: err = %v, want ErrNotInteger", b.value, err)
			}
			wantValue(t, kv, "x", b.value)
		}
		mustSet(t, kv, "max", "9223372036854775807")
		if _, err := kv.Incr(ctx, "max", 1); !errors.Is(err, ErrNotInteger) {
			t.Errorf("overflow: err = %v, want ErrNotInteger", err)
		}
		wantValue(t, kv, "max", "9223372036854775807")
		if got, err := kv.Incr(ctx, "max", -1); err != nil || got != 9223372036854775806 {
			t.Errorf("incr max -1 = %d, %v", got, err)
		}
		mustSet(t, kv, "min", "-9223372036854775808")
		if got, err := kv.Incr(ctx, "min", 0); err != nil || got != -9223372036854775808 {
			t.Errorf("incr min 0 = %d, %v", got, err)
		}
	}},
	{"CAS", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		steps := []struct {
			old  *string
			new  string
			want bool
			then string
		}{
			{nil, "a", true, "a"},
			{nil, "b", false, "a"},
			{ptr("x"), "b", false, "a"},
			{ptr(""), "b", false, "a"},
			{ptr("a"), "b", true, "b"},
			{ptr("b"), "", true, ""},
			{ptr(""), "c", true, "c"},
		}
		for i, s := range steps {
			got, err := kv.CAS(ctx, "k", s.old, s.new)
			if err != nil || got != s.want {
				t.Fatalf("step %d: cas = %v, %v; want %v", i, got, err, s.want)
			}
			wantValue(t, kv, "k", s.then)
		}
		if ok, err := kv.CAS(ctx, "missing", ptr(""), "v"); err != nil || ok {
			t.Fatalf("cas of missing key against \"\" = %v, %v; want false", ok, err)
		}
		wantAbsent(t, kv, "missing")
	}},
	{"List", func(t *testing.T, e *env) {
		kv := e.ns("app", Quota{})
		keys := []string{"user:2", "user:10", "user:1", "users", "user;", "u", "\xff", "\xff\xff", "\xff\xfe", "a\x00b"}
		for _, k := range keys {
			mustSet(t, kv, k, "v")
		}
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		cases := []struct {
			prefix string
			limit  int
			want   []string
		}{
			{"", 0, sorted},
			{"user:", 0, []string{"user:1", "user:10", "user:2"}},
			{"user:", 2, []string{"user:1", "user:10"}},
			{"user", 0, []string{"user:1", "user:10", "user:2", "user;", "users"}},
			{"\xff", 0, []string{"\xff", "\xff\xfe", "\xff\xff"}},
			{"\xff\xff", 0, []string{"\xff\xff"}},
			{"a\x00", 0, []string{"a\x00b"}},
			{"a", 0, []string{"a\x00b"}},
			{"nothing", 0, []string{}},
			{strings.Repeat("u", MaxKeyLen+1), 0, []string{}},
			{"", 3, sorted[:3]},
			{"", -1, sorted},
		}
		for _, c := range cases {
			wantList(t, kv, c.prefix, c.limit, c.want)
		}
	}},
	{"ListDefaultLimit", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{})
		b := kv.(Batcher)
		for start := 0; start < DefaultListLimit+5; start += MaxBatchOps {
			var ops []Op
			for i := start; i < start+MaxBatchOps && i < DefaultListLimit+5; i++ {
				ops = append(ops, Op{Kind: OpSet, Key: fmt.Sprintf("k%05d", i), Value: "v"})
			}
			if err := b.Batch(ctx, ops); err != nil {
				t.Fatal(err)
			}
		}
		got, err := kv.List(ctx, "", 0)
		if err != nil || len(got) != DefaultListLimit || got[0] != "k00000" {
			t.Fatalf("list with limit 0: %d keys, %v", len(got), err)
		}
		got, err = kv.List(ctx, "", MaxListLimit*10)
		if err != nil || len(got) != DefaultListLimit+5 {
			t.Fatalf("list with a huge limit: %d keys, %v; want all %d", len(got), err, DefaultListLimit+5)
		}
	}},
	{"Batch", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{MaxKeys: 3})
		b := kv.(Batcher)
		mustSet(t, kv, "old", "o")
		err := b.Batch(ctx, []Op{
			{Kind: OpSet, Key: "a", Value: "1"},
			{Kind: OpSet, Key: "b", Value: "2", TTL: time.Hour},
			{Kind: OpDelete, Key: "old"},
			{Kind: OpSet, Key: "a", Value: "1b"},
			{Kind: OpDelete, Key: "nope"},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantValue(t, kv, "a", "1b")
		wantValue(t, kv, "b", "2")
		wantAbsent(t, kv, "old")
		// Over quota as a whole: nothing applied, even the delete.
		err = b.Batch(ctx, []Op{
			{Kind: OpDelete, Key: "a"},
			{Kind: OpSet, Key: "c", Value: "3"},
			{Kind: OpSet, Key: "d", Value: "4"},
			{Kind: OpSet, Key: "e", Value: "5"},
		})
		if !errors.Is(err, ErrQuota) {
			t.Fatalf("batch over quota: err = %v, want ErrQuota", err)
		}
		wantValue(t, kv, "a", "1b")
		wantList(t, kv, "", 0, []string{"a", "b"})
		// An invalid op anywhere: nothing applied.
		err = b.Batch(ctx, []Op{{Kind: OpSet, Key: "c", Value: "3"}, {Kind: OpSet, Key: "", Value: "x"}})
		if !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("batch with empty key: err = %v", err)
		}
		wantAbsent(t, kv, "c")
		// Within quota once net: delete two, add two.
		if err := b.Batch(ctx, []Op{
			{Kind: OpDelete, Key: "a"}, {Kind: OpDelete, Key: "b"},
			{Kind: OpSet, Key: "c", Value: "3"}, {Kind: OpSet, Key: "d", Value: "4"}, {Kind: OpSet, Key: "e", Value: "5"},
		}); err != nil {
			t.Fatal(err)
		}
		wantList(t, kv, "", 0, []string{"c", "d", "e"})
		if err := b.Batch(ctx, nil); err != nil {
			t.Fatalf("empty batch: %v", err)
		}
	}},
	{"QuotaKeys", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{MaxKeys: 3})
		for _, k := range []string{"a", "b", "c"} {
			mustSet(t, kv, k, "v")
		}
		over := []struct {
			name string
			err  error
		}{
			{"set", kv.Set(ctx, "d", "v", 0)},
			{"incr", func() error { _, err := kv.Incr(ctx, "d", 1); return err }()},
			{"cas", func() error { _, err := kv.CAS(ctx, "d", nil, "v"); return err }()},
		}
		for _, o := range over {
			if !errors.Is(o.err, ErrQuota) {
				t.Errorf("%s of a 4th key: err = %v, want ErrQuota", o.name, o.err)
			}
		}
		wantAbsent(t, kv, "d")
		mustSet(t, kv, "a", "overwrite is fine")
		if err := kv.Delete(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		mustSet(t, kv, "d", "v")
		wantList(t, kv, "", 0, []string{"a", "b", "d"})
		// Expired keys do not count.
		if err := kv.Set(ctx, "a", "v", 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		e.advance(300 * time.Millisecond)
		mustSet(t, kv, "e", "v")
		wantList(t, kv, "", 0, []string{"b", "d", "e"})
		// Another namespace handle with a lowered quota: the app may shrink.
		low := e.ns("app", Quota{MaxKeys: 1})
		if err := low.Set(ctx, "f", "v", 0); !errors.Is(err, ErrQuota) {
			t.Fatalf("set over a lowered quota: %v", err)
		}
		mustSet(t, low, "b", "replaced")
		if err := low.Delete(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}},
	{"QuotaBytes", func(t *testing.T, e *env) {
		ctx := context.Background()
		kv := e.ns("app", Quota{MaxBytes: 20})
		mustSet(t, kv, "k1", "12345678") // 10 bytes
		mustSet(t, kv, "k2", "1234")     // 6 bytes, total 16
		if err := kv.Set(ctx, "k3", "123", 0); !errors.Is(err, ErrQuota) {
			t.Fatalf("set to 21 bytes: %v", err)
		}
		wantAbsent(t, kv, "k3")
		if err := kv.Set(ctx, "k2", "123456789", 0); !errors.Is(err, ErrQuota) {
			t.Fatalf("grow k2 to 21 bytes: %v", err)
		}
		wantValue(t, kv, "k2", "1234")
		mustSet(t, kv, "k2", "12345678") // exactly 20
		mustSet(t, kv, "k2", "1")        // shrink to 13
		mustSet(t, kv, "n", "999999")    // 7 bytes: 20
		if _, err := kv.Incr(ctx, "n", 1); !errors.Is(err, ErrQuota) {
			t.Fatalf("incr 999999 -> 1000000 past 20 bytes: %v", err)
		}
		wantValue(t, kv, "n", "999999")
		if got, err := kv.Incr(ctx, "n", -1); err != nil || got != 999998 {
			t.Fatalf("incr -1 = %d, %v", got, err)
		}
		if ok, err := kv.CAS(ctx, "k1", ptr("12345678"), "123456789"); !errors.Is(err, ErrQuota) || ok {
			t.Fatalf("cas growing past quota = %v, %v", ok, err)
		}
		wantValue(t, kv, "k1", "12345678")
	}},
	{"Isolation", func(t *testing.T, e *env) {
		ctx := context.Background()
		const secret = "SECRET"
		victim := e.ns("a", Quota{})
		victimKeys := []string{"b:c", "c", "k:c", "x", "\x00", "long" + strings.Repeat("z", 1000)}
		for _, k := range victimKeys {
			mustSet(t, victim, k, secret)
		}
		// Attackers whose name and key could spell the victim's storage
		// under naive concatenation.
		attackers := []string{"a:b", "a:", "", "a\x00", "\x00a", "1:a", "a:k", "A", "a:k:", "fcgihost:1:a"}
		probes := []string{"c", "b:c", ":c", "k:c", "k:b:c", "x", "\x00", "a:b:c", "a\x00b:c",
			"fcgihost:1:a:k:x", ":1:a:k:x", "1:a:k:x", "k:x", "../a/x", "a/x", "%00x",
			"long" + strings.Repeat("z", 1000), strings.Repeat("\x00", MaxKeyLen)}
		for _, app := range attackers {
			kv := e.ns(app, Quota{})
			for _, p := range probes {
				if v, ok := mustGet(t, kv, p); ok && v == secret {
					t.Errorf("app %q read the victim's value with key %q", app, p)
				}
			}
			for _, prefix := range []string{"", "b", "k", ":", "\x00", "a", "fcgihost"} {
				got, err := kv.List(ctx, prefix, MaxListLimit)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 0 {
					t.Errorf("app %q lists %q under prefix %q", app, got, prefix)
				}
			}
			// Writes and deletes of the same names do not touch the victim.
			for _, p := range probes {
				if err := kv.Delete(ctx, p); err != nil {
					t.Fatal(err)
				}
				mustSet(t, kv, p, "attacker")
			}
		}
		for _, k := range victimKeys {
			wantValue(t, victim, k, secret)
		}
		got, err := victim.List(ctx, "", 0)
		if err != nil || len(got) != len(victimKeys) {
			t.Fatalf("victim lists %d keys, %v; want %d", len(got), err, len(victimKeys))
		}
		// Quotas are per app: the attackers' keys do not count against it.
		full := e.ns("a", Quota{MaxKeys: int64(len(victimKeys) + 1)})
		mustSet(t, full, "one-more", "v")
	}},
	{"ConcurrentIncr", func(t *testing.T, e *env) {
		ctx := context.Background()
		const workers, each = 16, 50
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		var seen sync.Map
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kv := e.ns("app", Quota{}) // a VM's own handle
				for i := 0; i < each; i++ {
					n, err := kv.Incr(ctx, "hits", 1)
					if err != nil {
						errs <- err
						return
					}
					if _, dup := seen.LoadOrStore(n, true); dup {
						errs <- fmt.Errorf("value %d returned twice", n)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantValue(t, e.ns("app", Quota{}), "hits", fmt.Sprint(workers*each))
	}},
	{"ConcurrentCAS", func(t *testing.T, e *env) {
		// Each worker retries CAS until its increment lands: no update lost.
		ctx := context.Background()
		const workers, each = 8, 20
		kv := e.ns("app", Quota{})
		mustSet(t, kv, "n", "0")
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					for {
						cur, _, err := kv.Get(ctx, "n")
						if err != nil {
							errs <- err
							return
						}
						var n int
						fmt.Sscan(cur, &n)
						ok, err := kv.CAS(ctx, "n", &cur, fmt.Sprint(n+1))
						if err != nil {
							errs <- err
							return
						}
						if ok {
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantValue(t, kv, "n", fmt.Sprint(workers*each))
	}},
	{"Context", func(t *testing.T, e *env) {
		kv := e.ns("app", Quota{})
		mustSet(t, kv, "k", "v")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := []struct {
			name string
			err  error
		}{
			{"get", func() error { _, _, err := kv.Get(ctx, "k"); return err }()},
			{"set", kv.Set(ctx, "k", "changed", 0)},
			{"delete", kv.Delete(ctx, "k")},
			{"incr", func() error { _, err := kv.Incr(ctx, "n", 1); return err }()},
			{"cas", func() error { _, err := kv.CAS(ctx, "k", ptr("v"), "changed"); return err }()},
			{"list", func() error { _, err := kv.List(ctx, "", 0); return err }()},
			{"batch", kv.(Batcher).Batch(ctx, []Op{{Kind: OpSet, Key: "b", Value: "v"}})},
		}
		for _, c := range calls {
			if !errors.Is(c.err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", c.name, c.err)
			}
		}
		wantValue(t, kv, "k", "v")
		wantAbsent(t, kv, "n")
		wantAbsent(t, kv, "b")
	}},
	{"Durable", func(t *testing.T, e *env) {
		kv := e.ns("app", Quota{MaxKeys: 2})
		mustSet(t, kv, "a", "1")
		mustSet(t, kv, "b", "2")
		s := e.reopen(t)
		kv = s.Namespace(e.prefix+"app", Quota{MaxKeys: 2})
		wantValue(t, kv, "a", "1")
		wantValue(t, kv, "b", "2")
		// The quota counters survived too.
		if err := kv.Set(context.Background(), "c", "3", 0); !errors.Is(err, ErrQuota) {
			t.Fatalf("set of a 3rd key after reopen: %v", err)
		}
	}},
	{"Closed", func(t *testing.T, e *env) {
		kv := e.ns("app", Quota{})
		mustSet(t, kv, "k", "v")
		if err := e.s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		ctx := context.Background()
		if _, _, err := kv.Get(ctx, "k"); !errors.Is(err, ErrClosed) {
			t.Errorf("get after close: %v", err)
		}
		if err := kv.Set(ctx, "k", "v", 0); !errors.Is(err, ErrClosed) {
			t.Errorf("set after close: %v", err)
		}
		if _, err := kv.List(ctx, "", 0); !errors.Is(err, ErrClosed) {
			t.Errorf("list after close: %v", err)
		}
	}},
}

func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range conformance {
				t.Run(c.name, func(t *testing.T) {
					e := b.open(t, c.name+"/")
					c.run(t, e)
				})
			}
		})
	}
}
