package kv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSQLite_MigrateFromBolt writes a store with the previous embedded
// backend (bbolt, kv.db) and opens its data_dir with the new one: every
// live key is there, with its expiry and its app's quota usage, the old
// file is kept renamed, the migration is logged, and it happens once.
func TestSQLite_MigrateFromBolt(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clock := &fakeClock{}
	old, err := openBolt(filepath.Join(dir, "kv.db"), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	type kvp struct{ k, v string }
	want := map[string][]kvp{
		"hello":     {{"a", "1"}, {"b", ""}, {"bin\x00\xff", "v\x00al"}, {"counter", "41"}},
		"a:b":       {{"c", "x"}},
		"/srv/t1/x": {{strings.Repeat("k", MaxKeyLen), strings.Repeat("v", 5000)}},
	}
	for app, kvs := range want {
		ns := old.Namespace(app, Quota{})
		for _, p := range kvs {
			mustSet(t, ns, p.k, p.v)
		}
	}
	hello := old.Namespace("hello", Quota{})
	if err := hello.Set(ctx, "soon", "gone", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := hello.Set(ctx, "later", "kept", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute) // "soon" has expired, "later" has not

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	// Two processes start at once: both open, one migrates.
	var (
		wg     sync.WaitGroup
		stores [2]*sqlStore
		errs   [2]error
	)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = openSQLite(ctx, filepath.Join(dir, "kv.sqlite"), clock.now, log)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if n := strings.Count(logs.String(), "migrating the bbolt store"); n != 1 {
		t.Errorf("migration logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "keys=7") {
		t.Errorf("log does not count the 7 live keys:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "kv.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kv.db still there after migration: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kv.db.migrated")); err != nil {
		t.Errorf("the old store is not kept: %v", err)
	}
	s := stores[1]
	for app, kvs := range want {
		ns := s.Namespace(app, Quota{})
		for _, p := range kvs {
			wantValue(t, ns, p.k, p.v)
		}
	}
	hello = s.Namespace("hello", Quota{})
	wantAbsent(t, hello, "soon")
	wantValue(t, hello, "later", "kept")
	// The usage came along: at 5 live keys, a quota of 5 refuses a sixth.
	if err := s.Namespace("hello", Quota{MaxKeys: 5}).Set(ctx, "e", "v", 0); !errors.Is(err, ErrQuota) {
		t.Errorf("sixth key under a 5-key quota: %v, want ErrQuota", err)
	}
	clock.advance(time.Hour)
	wantAbsent(t, hello, "later") // the expiry came along
	if n, err := hello.Incr(ctx, "counter", 1); err != nil || n != 42 {
		t.Errorf("incr of a migrated counter = %d, %v; want 42", n, err)
	}
	wantList(t, hello, "", 0, []string{"a", "b", "bin\x00\xff", "counter"})
	mustSet(t, s.Namespace("hello", Quota{MaxKeys: 4}), "a", "changed")

	// Reopening does not migrate again (the old file is gone), and a
	// kv.db.migrated is never read.
	for _, st := range stores {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	logs.Reset()
	s, err = openSQLite(ctx, filepath.Join(dir, "kv.sqlite"), clock.now, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantValue(t, s.Namespace("hello", Quota{}), "a", "changed")
	if strings.Contains(logs.String(), "migrat") {
		t.Errorf("second open logged a migration:\n%s", logs.String())
	}
}

// TestSQLite_MigrateHeldBolt: an fcgihost of the previous version still
// running on the data_dir holds kv.db; the new one says so, and migrates
// once it has gone.
func TestSQLite_MigrateHeldBolt(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for bbolt's lock timeout")
	}
	dir := t.TempDir()
	old, err := OpenBolt(filepath.Join(dir, "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, old.Namespace("app", Quota{}), "k", "v")
	_, err = Open(context.Background(), "embedded", dir)
	if err == nil {
		t.Fatal("opened while the old store is held")
	}
	for _, w := range []string{filepath.Join(dir, "kv.db"), "held by another process", "stop it"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	old.Close()
	s, err := Open(context.Background(), "embedded", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantValue(t, s.Namespace("app", Quota{}), "k", "v")
}

// TestSQLite_OpenErrors: a store that cannot be opened says what, where
// and what to do.
func TestSQLite_OpenErrors(t *testing.T) {
	dir := t.TempDir()
	// Not a database.
	if err := os.WriteFile(filepath.Join(dir, "kv.sqlite"), bytes.Repeat([]byte("junk"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), "embedded", dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "kv.sqlite")) {
		t.Errorf("junk file: %v", err)
	}
	// Not a bbolt store either.
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kv.db"), bytes.Repeat([]byte("junk"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), "embedded", dir)
	if err == nil || !strings.Contains(err.Error(), "not an fcgihost bbolt store, or it is damaged") || !strings.Contains(err.Error(), "move it out of data_dir") {
		t.Errorf("junk kv.db: %v", err)
	}
	if os.Geteuid() != 0 {
		dir = t.TempDir()
		os.Chmod(dir, 0o500)
		_, err = Open(context.Background(), "embedded", dir)
		if err == nil || !strings.Contains(err.Error(), "writable by the user fcgihost runs as") {
			t.Errorf("read-only data_dir: %v", err)
		}
	}
}

// The multi-process table: helper processes (this test binary re-run)
// share one store file.

const (
	mpEnvPath = "FCGIHOST_KV_MP_DB"
	mpEnvMode = "FCGIHOST_KV_MP_MODE"
)

const (
	mpProcs      = 4
	mpGoroutines = 16
)

// TestMultiProcessHelper is the child of the multi-process tests: it opens
// the store, says "ready", waits for a line on stdin, runs its mode with
// mpGoroutines goroutines and prints its result.
func TestMultiProcessHelper(t *testing.T) {
	path, mode := os.Getenv(mpEnvPath), os.Getenv(mpEnvMode)
	if path == "" {
		t.Skip("helper process for the multi-process tests")
	}
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		ok, bad atomic.Int64
		fail    atomic.Value
	)
	for g := 0; g < mpGoroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mpWork(ctx, s, mode, g, &ok, &bad); err != nil {
				fail.Store(err.Error())
			}
		}()
	}
	wg.Wait()
	if f := fail.Load(); f != nil {
		fmt.Println("error", f)
		os.Exit(1)
	}
	s.Close()
	fmt.Println("done", ok.Load(), bad.Load())
	os.Exit(0)
}

const (
	mpIncrs     = 40  // per goroutine
	mpCASes     = 10  // successful swaps per goroutine
	mpBatches   = 30  // per writer goroutine
	mpQuotaKeys = 100 // the quota of the quota case
)

func mpWork(ctx context.Context, s Store, mode string, g int, ok, bad *atomic.Int64) error {
	kv := s.Namespace("mp", Quota{})
	switch mode {
	case "incr":
		for i := 0; i < mpIncrs; i++ {
			if _, err := kv.Incr(ctx, "n", 1); err != nil {
				return err
			}
			ok.Add(1)
		}
	case "cas":
		// Every goroutine of every process swaps "n" from v to v+1 until it
		// has won mpCASes times; a lost update shows as a final value below
		// the number of wins.
		for won := 0; won < mpCASes; {
			v, found, err := kv.Get(ctx, "n")
			if err != nil {
				return err
			}
			var old *string
			next := "1"
			if found {
				old = &v
				n, _ := strconv.Atoi(v)
				next = strconv.Itoa(n + 1)
			}
			swapped, err := kv.CAS(ctx, "n", old, next)
			if err != nil {
				return err
			}
			if swapped {
				won++
				ok.Add(1)
			} else {
				bad.Add(1)
			}
		}
	case "batch":
		// Half the goroutines move a token of their own: each batch deletes
		// the token's key and sets its next one. The other half list the
		// tokens (one statement: a snapshot) and must always see exactly
		// one key per token seen so far: two is a torn batch (the set
		// without the delete), none a lost one.
		if g%2 == 0 {
			cur := ""
			for i := 1; i <= mpBatches; i++ {
				next := fmt.Sprintf("t:%d-%02d:%06d", os.Getpid(), g, i)
				ops := []Op{{Kind: OpSet, Key: next, Value: "v"}}
				if cur != "" {
					ops = append(ops, Op{Kind: OpDelete, Key: cur})
				}
				if err := kv.(Batcher).Batch(ctx, ops); err != nil {
					return err
				}
				cur = next
				ok.Add(1)
			}
			return nil
		}
		seen := 0
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			keys, err := kv.List(ctx, "t:", 0)
			if err != nil {
				return err
			}
			tokens := map[string]int{}
			for _, k := range keys {
				tokens[k[:strings.LastIndexByte(k, ':')]]++
			}
			for tok, n := range tokens {
				if n != 1 {
					bad.Add(1)
					return fmt.Errorf("torn batch: token %s has %d keys: %q", tok, n, keys)
				}
			}
			if len(tokens) < seen {
				bad.Add(1)
				return fmt.Errorf("a token vanished: %d seen, now %q", seen, keys)
			}
			seen = len(tokens)
		}
	case "quota":
		q := s.Namespace("mpq", Quota{MaxKeys: mpQuotaKeys})
		for i := 0; i < 10; i++ {
			err := q.Set(ctx, fmt.Sprintf("%d-%d-%d", os.Getpid(), g, i), "v", 0)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrQuota):
				bad.Add(1)
			default:
				return err
			}
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

// runProcs runs mpProcs helpers in mode on path, all released at once, and
// returns the sums of their ok and bad counts and the time from their
// release to the end of the last.
func runProcs(t testing.TB, path, mode string) (ok, bad int64, took time.Duration) {
	t.Helper()
	type proc struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		lines *bufio.Scanner
	}
	var procs []*proc
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		}
	})
	for i := 0; i < mpProcs; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcessHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), mpEnvPath+"="+path, mpEnvMode+"="+mode)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: cmd, in: in, lines: bufio.NewScanner(out)}
		procs = append(procs, p)
	}
	for i, p := range procs {
		if !p.lines.Scan() || p.lines.Text() != "ready" {
			t.Fatalf("helper %d: %q %v", i, p.lines.Text(), p.lines.Err())
		}
	}
	start := time.Now()
	for _, p := range procs {
		io.WriteString(p.in, "go\n")
	}
	for i, p := range procs {
		var line string
		for p.lines.Scan() {
			line = p.lines.Text()
			if strings.HasPrefix(line, "done ") || strings.HasPrefix(line, "error ") {
				break
			}
		}
		if err := p.cmd.Wait(); err != nil || !strings.HasPrefix(line, "done ") {
			t.Fatalf("helper %d: %q (%v)", i, line, err)
		}
		var o, b int64
		fmt.Sscanf(line, "done %d %d", &o, &b)
		ok += o
		bad += b
	}
	return ok, bad, time.Since(start)
}

func TestSQLite_MultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	cases := []struct {
		mode  string
		check func(t *testing.T, s Store, ok, bad int64)
	}{
		{"incr", func(t *testing.T, s Store, ok, bad int64) {
			want := int64(mpProcs * mpGoroutines * mpIncrs)
			wantValue(t, s.Namespace("mp", Quota{}), "n", strconv.FormatInt(want, 10))
			if ok != want {
				t.Errorf("%d increments acknowledged, want %d", ok, want)
			}
		}},
		{"cas", func(t *testing.T, s Store, ok, bad int64) {
			want := int64(mpProcs * mpGoroutines * mpCASes)
			wantValue(t, s.Namespace("mp", Quota{}), "n", strconv.FormatInt(want, 10))
			t.Logf("%d swaps won, %d lost the race", ok, bad)
		}},
		{"batch", func(t *testing.T, s Store, ok, bad int64) {
			if bad != 0 {
				t.Errorf("%d torn batches seen", bad)
			}
			keys, err := s.Namespace("mp", Quota{}).List(context.Background(), "t:", 0)
			if err != nil || len(keys) != mpProcs*mpGoroutines/2 {
				t.Fatalf("%d tokens at the end (%v), want %d", len(keys), err, mpProcs*mpGoroutines/2)
			}
			for _, k := range keys {
				if !strings.HasSuffix(k, fmt.Sprintf(":%06d", mpBatches)) {
					t.Errorf("token %q is not at its last batch", k)
				}
			}
		}},
		{"quota", func(t *testing.T, s Store, ok, bad int64) {
			if ok != mpQuotaKeys || ok+bad != mpProcs*mpGoroutines*10 {
				t.Errorf("%d writes accepted, %d refused; want exactly %d accepted", ok, bad, mpQuotaKeys)
			}
			keys, err := s.Namespace("mpq", Quota{}).List(context.Background(), "", 0)
			if err != nil || len(keys) != mpQuotaKeys {
				t.Errorf("%d keys stored (%v), want %d", len(keys), err, mpQuotaKeys)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kv.sqlite")
			ok, bad, took := runProcs(t, path, c.mode)
			t.Logf("%d processes × %d goroutines: %d ok, %d refused/lost in %v", mpProcs, mpGoroutines, ok, bad, took.Round(time.Millisecond))
			s, err := OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c.check(t, s, ok, bad)
		})
	}
}

func TestSQLite_CrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "kv.sqlite")
	for round := 0; round < 3; round++ {
		acked, maxCount := crashChild(t, path, 150)
		s, err := OpenSQLite(context.Background(), path)
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
		var check string
		if err := s.(*sqlStore).db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity check: %q %v", round, check, err)
		}
		// The quota counters match the data.
		var n1, n2 int64
		s.(*sqlStore).db.QueryRow("SELECT count(*) FROM kv WHERE app = ?", []byte("app")).Scan(&n1)
		s.(*sqlStore).db.QueryRow("SELECT n FROM usage WHERE app = ?", []byte("app")).Scan(&n2)
		if n1 != n2 {
			t.Errorf("round %d: %d keys, usage says %d", round, n1, n2)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged writes survived kill -9", round, len(acked))
	}
}

// TestSQLite_ReadCacheAcrossStores: two stores on one file (as two
// processes: each its own connections and cache, one shared generation
// file) never read a value the other has replaced, including after a
// writer died mid-transaction.
func TestSQLite_ReadCacheAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.sqlite")
	ctx := context.Background()
	open := func() *sqlStore {
		s, err := openSQLite(ctx, path, time.Now, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if s.cache == nil {
			t.Skip("no read cache on this system")
		}
		return s
	}
	a, b := open(), open()
	na, nb := a.Namespace("app", Quota{}), b.Namespace("app", Quota{})
	wantAbsent(t, na, "k") // cached as absent
	wantAbsent(t, na, "k")
	mustSet(t, nb, "k", "1")
	wantValue(t, na, "k", "1") // cached
	wantValue(t, na, "k", "1")
	mustSet(t, nb, "k", "2")
	wantValue(t, na, "k", "2")
	if err := nb.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	wantAbsent(t, na, "k")

	// A writer that died after its commit, before it marked the write
	// done: the counter stays odd, and readers read the database.
	mustSet(t, nb, "k", "3")
	wantValue(t, na, "k", "3")
	b.cache.beginWrite()
	if _, err := b.db.Exec("UPDATE kv SET value = ? WHERE app = ? AND key = ?", []byte("4"), []byte("app"), []byte("k")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, na, "k", "4")
	wantValue(t, na, "k", "4")
	mustSet(t, nb, "k", "5") // the next writer brings the cache back
	wantValue(t, na, "k", "5")
	wantValue(t, na, "k", "5")

	// While b counts up, a never reads a count older than one it has read,
	// and reads the last one at the end.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if _, err := nb.Incr(ctx, "n", 1); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	last := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			wantValue(t, na, "n", "200")
			return
		default:
		}
		v, _, err := na.Get(ctx, "n")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(v)
		if n < last {
			t.Fatalf("read %d after %d", n, last)
		}
		last = n
	}
}

// BenchmarkMultiProcessIncr is the increment rate of mpProcs processes ×
// mpGoroutines goroutines on one key of one store file:
// go test ./kv -run '^$' -bench MultiProcessIncr -benchtime 3x
func BenchmarkMultiProcessIncr(b *testing.B) {
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "kv.sqlite")
		ok, _, took := runProcs(b, path, "incr")
		b.ReportMetric(float64(ok)/took.Seconds(), "incr/s")
	}
}
