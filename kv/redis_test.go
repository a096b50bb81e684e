package kv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// skipOrFail skips t for a missing external program, or fails it under CI.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// startRedis starts a private redis-server on a free loopback port with no
// persistence, stopped when t ends, and returns its URL.
func startRedis(t testing.TB) string {
	t.Helper()
	return startRedisWith(t, "")
}

// startRedisWith is startRedis with requirepass pass (if not "") and extra
// server arguments; the URL carries the password.
func startRedisWith(t testing.TB, pass string, extra ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not installed (apt-get install redis-server): %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		logPath := filepath.Join(dir, fmt.Sprintf("redis-%d.log", attempt))
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", logPath}
		if pass != "" {
			args = append(args, "--requirepass", pass)
		}
		cmd := exec.Command(bin, append(args, extra...)...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		if pass != "" {
			url = fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", pass, port)
		}
		if lastErr = waitRedis(url, exited); lastErr == nil {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return url
		}
		cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(logPath)
		lastErr = fmt.Errorf("%w; log:\n%s", lastErr, log)
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return ""
}

// waitRedis polls url until it answers PING, the server exits, or 20s pass.
func waitRedis(url string, exited <-chan error) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("redis-server exited: %v", werr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer: %w", err)
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestRedisPrefix_Unambiguous(t *testing.T) {
	// No two (app, key) pairs may share a data key.
	pairs := [][2]string{
		{"a", "b:c"}, {"a:b", "c"}, {"a:", "b:c"}, {"", "a:b:c"}, {"a\x00", "c"},
		{"1:a", "c"}, {"a", "k:c"}, {"a:k", "c"}, {"fcgihost:1:a", "c"}, {"12", "x"},
		{"1", "2:x"}, {"", "1:a:k:c"}, {"a", "\x00"}, {"a\x00", ""},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		k := redisPrefix(p[0]) + "k:" + p[1]
		if prev, dup := seen[k]; dup {
			t.Errorf("app %q key %q and app %q key %q both map to %q", prev[0], prev[1], p[0], p[1], k)
		}
		seen[k] = p
		for _, suffix := range []string{"m", "i", "e", "s"} {
			if k == redisPrefix(p[0])+suffix {
				t.Errorf("data key %q equals a bookkeeping key", k)
			}
		}
	}
}

func TestLexRange(t *testing.T) {
	cases := []struct{ prefix, lo, hi string }{
		{"", "-", "+"},
		{"ab", "[ab", "(ac"},
		{"a\xff", "[a\xff", "(b"},
		{"\xff\xff", "[\xff\xff", "+"},
		{"a\x00", "[a\x00", "(a\x01"},
	}
	for _, c := range cases {
		lo, hi := lexRange(c.prefix)
		if lo != c.lo || hi != c.hi {
			t.Errorf("lexRange(%q) = %q, %q; want %q, %q", c.prefix, lo, hi, c.lo, c.hi)
		}
	}
}

func TestOpenRedis_Unreachable(t *testing.T) {
	port := freePort(t) // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", port), "")
	if err == nil {
		t.Fatal("open of an unreachable redis succeeded")
	}
}

func TestOpenRedis_BadURL(t *testing.T) {
	_, err := OpenRedis(context.Background(), "redis://127.0.0.1:notaport/x")
	if err == nil {
		t.Fatal("bad url accepted")
	}
}

func TestRedis_DeadlineInFlight(t *testing.T) {
	// A server that accepts and never answers: every call must end with its
	// context's deadline, not hang on the client's own timeouts.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	opt, err := redis.ParseURL("redis://" + l.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	opt.ReadTimeout = time.Hour // only the context can end the wait
	opt.Protocol = 2            // no HELLO handshake
	s := &redisStore{c: redis.NewClient(opt)}
	t.Cleanup(func() { s.Close() })
	kv := s.Namespace("app", Quota{})
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"get", func(ctx context.Context) error { _, _, err := kv.Get(ctx, "k"); return err }},
		{"set", func(ctx context.Context) error { return kv.Set(ctx, "k", "v", 0) }},
		{"list", func(ctx context.Context) error { _, err := kv.List(ctx, "", 0); return err }},
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := c.call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s against a silent server: err = %v, want DeadlineExceeded", c.name, err)
		}
	}
}
