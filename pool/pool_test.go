package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// fakeBundle makes fakeVMs; a VM records its version and how often it
// served.
type fakeBundle struct {
	version string
	fail    error
	starts  atomic.Int64
	closes  atomic.Int64
}

func (b *fakeBundle) Style() script.Style { return script.StyleHandler }
func (b *fakeBundle) Files() []string     { return nil }
func (b *fakeBundle) NewVM(ctx context.Context) (script.VM, error) {
	if b.fail != nil {
		return nil, b.fail
	}
	b.starts.Add(1)
	return &fakeVM{b: b, healthy: true}, nil
}

type fakeVM struct {
	b       *fakeBundle
	healthy bool
	closed  bool
	inUse   atomic.Int32
}

func (v *fakeVM) Serve(ctx context.Context, req *script.Request, res *script.Response) error {
	return nil
}
func (v *fakeVM) Healthy() bool { return v.healthy }
func (v *fakeVM) Close() {
	if v.closed {
		panic("closed twice")
	}
	v.closed = true
	v.b.closes.Add(1)
}

func newPool(t *testing.T, b *fakeBundle, o Options) *Pool {
	t.Helper()
	p, err := New(Version{Bundle: b, ID: b.version}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func TestPool_PreloadsWorkers(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	newPool(t, b, Options{Workers: 3})
	if got := b.starts.Load(); got != 3 {
		t.Fatalf("VMs started at New = %d, want 3", got)
	}
}

func TestPool_StartErrorIsReturned(t *testing.T) {
	b := &fakeBundle{version: "v1", fail: errors.New("boom at top level")}
	_, err := New(Version{Bundle: b, ID: "v1"}, Options{Workers: 2})
	if err == nil || err.Error() != "boom at top level" {
		t.Fatalf("New error = %v", err)
	}
}

func TestPool_OneOwnerPerVM(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	p := newPool(t, b, Options{Workers: 2, QueueTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.Do(context.Background(), func(l Lease) error {
				vm := l.VM.(*fakeVM)
				if vm.inUse.Add(1) != 1 {
					bad.Add(1)
				}
				time.Sleep(time.Millisecond)
				vm.inUse.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d times a VM had two owners", bad.Load())
	}
	if st := p.Stats(); st.Requests != 50 || st.MaxBusy != 2 {
		t.Fatalf("stats = %+v, want 50 requests, max busy 2", st)
	}
}

func TestPool_QueueFullAndTimeout(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	p := newPool(t, b, Options{Workers: 1, QueueSize: 1, QueueTimeout: 50 * time.Millisecond})
	hold := make(chan struct{})
	started := make(chan struct{})
	go p.Do(context.Background(), func(Lease) error { close(started); <-hold; return nil })
	<-started
	errc := make(chan error)
	go func() { errc <- p.Do(context.Background(), func(Lease) error { return nil }) }()
	// Wait until the second request is queued, then a third is refused.
	for p.Stats().Queued != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := p.Do(context.Background(), func(Lease) error { return nil }); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third request: %v, want ErrQueueFull", err)
	}
	if err := <-errc; !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("queued request: %v, want ErrQueueTimeout", err)
	}
	close(hold)
	st := p.Stats()
	if st.QueueFull != 1 || st.Timeouts != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestPool_UnhealthyVMReplaced(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	p := newPool(t, b, Options{Workers: 1})
	var first *fakeVM
	p.Do(context.Background(), func(l Lease) error {
		first = l.VM.(*fakeVM)
		first.healthy = false
		return nil
	})
	var second *fakeVM
	if err := p.Do(context.Background(), func(l Lease) error { second = l.VM.(*fakeVM); return nil }); err != nil {
		t.Fatal(err)
	}
	if first == second || !first.closed {
		t.Fatalf("unhealthy VM reused or not closed")
	}
	if st := p.Stats(); st.Discarded != 1 {
		t.Fatalf("discarded = %d", st.Discarded)
	}
}

func TestPool_MaxRequestsRecycles(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	p := newPool(t, b, Options{Workers: 1, MaxRequests: 3})
	seen := map[*fakeVM]int{}
	for i := 0; i < 12; i++ {
		p.Do(context.Background(), func(l Lease) error { seen[l.VM.(*fakeVM)]++; return nil })
		p.wg.Wait() // let the background replacement land (test only)
	}
	if len(seen) < 4 {
		t.Fatalf("12 requests with max_requests=3 used %d VMs, want ≥ 4", len(seen))
	}
	for vm, n := range seen {
		if n > 4 {
			t.Fatalf("a VM served %d requests", n)
		}
		_ = vm
	}
}

func TestPool_SwapKeepsInFlightOnOldVersion(t *testing.T) {
	b1 := &fakeBundle{version: "v1"}
	p := newPool(t, b1, Options{Workers: 2})
	hold := make(chan struct{})
	started := make(chan struct{})
	done := make(chan string)
	go p.Do(context.Background(), func(l Lease) error {
		close(started)
		<-hold
		done <- l.Version
		return nil
	})
	<-started
	b2 := &fakeBundle{version: "v2"}
	if err := p.Swap(Version{Bundle: b2, ID: "v2"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		var got string
		p.Do(context.Background(), func(l Lease) error { got = l.Version; return nil })
		if got != "v2" {
			t.Fatalf("request after swap ran on %s", got)
		}
	}
	close(hold)
	if v := <-done; v != "v1" {
		t.Fatalf("in-flight request ran on %s, want v1", v)
	}
	// After the in-flight request returned, every VM is v2 and v1's are closed.
	for i := 0; i < 4; i++ {
		p.Do(context.Background(), func(l Lease) error {
			if l.Version != "v2" {
				t.Errorf("request ran on %s", l.Version)
			}
			return nil
		})
	}
	if b1.closes.Load() != b1.starts.Load() {
		t.Fatalf("old VMs: %d started, %d closed", b1.starts.Load(), b1.closes.Load())
	}
	if b2.starts.Load() != 2 {
		t.Fatalf("new version started %d VMs, want 2 (built ahead, no extra)", b2.starts.Load())
	}
}

func TestPool_SwapFailureKeepsOld(t *testing.T) {
	b1 := &fakeBundle{version: "v1"}
	p := newPool(t, b1, Options{Workers: 1})
	bad := &fakeBundle{version: "v2", fail: errors.New("syntax")}
	if err := p.Swap(Version{Bundle: bad, ID: "v2"}); err == nil {
		t.Fatal("swap to a failing version succeeded")
	}
	p.Do(context.Background(), func(l Lease) error {
		if l.Version != "v1" {
			t.Errorf("version %s after failed swap", l.Version)
		}
		return nil
	})
}

func TestPool_CloseClosesAllVMs(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	p, err := New(Version{Bundle: b, ID: "v1"}, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	p.Do(context.Background(), func(Lease) error { return nil })
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.closes.Load() != b.starts.Load() {
		t.Fatalf("%d started, %d closed", b.starts.Load(), b.closes.Load())
	}
	if err := p.Do(context.Background(), func(Lease) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestPool_NoWaitWhenQueueTimeoutNegative(t *testing.T) {
	b := &fakeBundle{version: "v1"}
	p := newPool(t, b, Options{Workers: 1, QueueTimeout: -1})
	hold := make(chan struct{})
	started := make(chan struct{})
	go p.Do(context.Background(), func(Lease) error { close(started); <-hold; return nil })
	<-started
	// A waiting request would end with ErrQueueTimeout; no wait is ErrQueueFull.
	err := p.Do(context.Background(), func(Lease) error { return nil })
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("busy pool with no wait: %v, want ErrQueueFull", err)
	}
	close(hold)
}
