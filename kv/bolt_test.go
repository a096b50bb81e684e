package kv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpen_EmbeddedFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "sub")
	cases := []struct{ url string }{{""}, {"embedded"}}
	for _, c := range cases {
		s, err := Open(context.Background(), c.url, dir)
		if err != nil {
			t.Fatalf("open %q: %v", c.url, err)
		}
		mustSet(t, s.Namespace("app", Quota{}), "k", "v")
		// SQLite's -wal and -shm exist while the store is open.
		for _, f := range []struct {
			path string
			mode os.FileMode
		}{{dir, 0o700}, {filepath.Join(dir, "kv.sqlite"), 0o600},
			{filepath.Join(dir, "kv.sqlite-wal"), 0o600}, {filepath.Join(dir, "kv.sqlite-shm"), 0o600},
			{filepath.Join(dir, "kv.sqlite-gen"), 0o600}} {
			st, err := os.Stat(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != f.mode {
				t.Errorf("%s: mode %v, want %v", f.path, got, f.mode)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpen_UnknownBackend(t *testing.T) {
	for _, url := range []string{"memcached://x", "sqlite", "REDIS"} {
		if _, err := Open(context.Background(), url, t.TempDir()); err == nil {
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}

func TestBolt_Sweep(t *testing.T) {
	clock := &fakeClock{}
	s, err := openBolt(filepath.Join(t.TempDir(), "kv.db"), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	apps := []string{"a", "b"}
	for _, app := range apps {
		kv := s.Namespace(app, Quota{})
		for i := 0; i < sweepChunk+10; i++ { // more than one sweep chunk
			if err := kv.Set(ctx, fmt.Sprint("t", i), "v", time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		mustSet(t, kv, "keep", "v")
		if err := kv.Set(ctx, "later", "v", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(2 * time.Minute)
	n, err := s.sweepAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(apps) * (sweepChunk + 10); n != want {
		t.Fatalf("swept %d keys, want %d", n, want)
	}
	for _, app := range apps {
		var keys, bytes, data, idx int64
		err := s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bktApps).Bucket([]byte("app:" + app))
			keys, bytes = getInt(b, keyCount), getInt(b, keyBytes)
			data, idx = int64(b.Bucket(bktData).Stats().KeyN), int64(b.Bucket(bktExp).Stats().KeyN)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if keys != 2 || bytes != int64(len("keep")+len("later")+2) || data != 2 || idx != 1 {
			t.Errorf("app %s after sweep: counters %d keys %d bytes, %d records, %d index entries; want 2, 11, 2, 1",
				app, keys, bytes, data, idx)
		}
	}
}

func TestParseInt(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"42", 42, true},
		{"9223372036854775807", 1<<63 - 1, true}, {"-9223372036854775808", -1 << 63, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false}, {"", 0, false}, {"-", 0, false}, {"-0", 0, false},
		{"01", 0, false}, {"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1e3", 0, false},
		{"0x10", 0, false}, {"١", 0, false},
	}
	for _, c := range cases {
		got, err := parseInt(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && !errors.Is(err, ErrNotInteger) {
			t.Errorf("parseInt(%q): %v does not wrap ErrNotInteger", c.in, err)
		}
	}
}

const crashEnv = "FCGIHOST_KV_CRASH_DB"

// TestHelperProcess is the child of TestBolt_CrashSafety: it writes keys
// from several goroutines and prints each one once its write returned.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestBolt_CrashSafety and TestSQLite_CrashSafety")
	}
	open := OpenBolt
	if strings.HasSuffix(path, ".sqlite") {
		open = func(path string) (Store, error) { return OpenSQLite(context.Background(), path) }
	}
	s, err := open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	kv := s.Namespace("app", Quota{})
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				if err := kv.Set(context.Background(), key, strings.Repeat(key, 10), 0); err != nil {
					mu.Lock()
					fmt.Println("error", err)
					mu.Unlock()
					return
				}
				n, err := kv.Incr(context.Background(), "counter", 1)
				mu.Lock()
				if err != nil {
					fmt.Println("error", err)
				} else {
					fmt.Println("ack", key, n) // os.Stdout is unbuffered
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(1)
}

func TestBolt_CrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "kv.db")
	for round := 0; round < 3; round++ {
		acked, maxCount := crashChild(t, path, 150)
		s, err := OpenBolt(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		kv := s.Namespace("app", Quota{})
		for _, key := range acked {
			wantValue(t, kv, key, strings.Repeat(key, 10))
		}
		v, ok := mustGet(t, kv, "counter")
		n, _ := strconv.ParseInt(v, 10, 64)
		if !ok || n < maxCount {
			t.Errorf("round %d: counter = %q, want at least the %d acknowledged", round, v, maxCount)
		}
		err = s.(*boltStore).db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: consistency check: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged writes survived kill -9", round, len(acked))
	}
}

// crashChild runs the helper on path, kills it with SIGKILL after it has
// acknowledged at least n writes, and returns the acknowledged keys and the
// highest acknowledged counter.
func crashChild(t *testing.T, path string, n int) ([]string, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	var maxCount int64
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "ack":
			acked = append(acked, f[1])
			if c, _ := strconv.ParseInt(f[2], 10, 64); c > maxCount {
				maxCount = c
			}
		case len(f) > 0 && f[0] == "error":
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper: %s", sc.Text())
		}
		if len(acked) >= n && !killed {
			// Keep reading what was already acknowledged before the kill.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended before %d writes (%d acked): %v", n, len(acked), err)
	}
	return acked, maxCount
}

func TestBolt_DeadlineWhileWaitingForTheWriter(t *testing.T) {
	s, err := openBolt(filepath.Join(t.TempDir(), "kv.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	kv := s.Namespace("app", Quota{})
	// Hold bbolt's single writer lock until released.
	held, release := make(chan struct{}), make(chan struct{})
	go s.db.Update(func(*bolt.Tx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"set", func(ctx context.Context) error { return kv.Set(ctx, "k", "v", 0) }},
		{"incr", func(ctx context.Context) error { _, err := kv.Incr(ctx, "n", 1); return err }},
		{"batch", func(ctx context.Context) error {
			return kv.(Batcher).Batch(ctx, []Op{{Kind: OpSet, Key: "b", Value: "v"}})
		}},
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := c.call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the writer is held: err = %v, want DeadlineExceeded", c.name, err)
		}
	}
	close(release)
	mustSet(t, kv, "after", "v") // the abandoned transactions roll back whenever they run
	for _, k := range []string{"k", "n", "b"} {
		wantAbsent(t, kv, k)
	}
	wantValue(t, kv, "after", "v")
}
