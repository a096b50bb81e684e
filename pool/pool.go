// Package pool owns the VMs of one app: it preloads them from the app's
// compiled Bundle, lends one VM to one request at a time through a bounded
// wait queue, recycles VMs after max_requests or after a failure, and swaps
// to a new app version atomically — requests in flight finish on the old
// VMs, new requests get VMs of the new version that were started ahead, so
// the first request after a reload pays no compile and no VM start.
//
// Concurrency model: the pool has Workers slots. A slot holds at most one VM
// and is owned by whoever took it from the idle channel (a request, or the
// builder goroutine preparing its replacement VM). A VM therefore always has
// exactly one owner. Waiters beyond QueueSize are refused at once
// (ErrQueueFull); a waiter that gets no slot within QueueTimeout gets
// ErrQueueTimeout. Both map to 503.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// Errors returned by Do.
var (
	ErrQueueFull    = errors.New("all workers busy and the wait queue is full")
	ErrQueueTimeout = errors.New("no worker became free within queue_timeout")
	ErrClosed       = errors.New("pool closed")
)

// Options configure a Pool. Zero values get the defaults named.
type Options struct {
	Workers      int           // VMs, default 1
	MaxRequests  int           // requests per VM before it is replaced; 0 = never
	QueueSize    int           // requests allowed to wait; default 1024
	QueueTimeout time.Duration // longest wait for a VM; 0 = default 5s; < 0 = do not wait (503 at once)
	StartTimeout time.Duration // bound on one VM's top-level run; default 30s
	Logger       *slog.Logger
}

// Version is one compiled app version.
type Version struct {
	Bundle script.Bundle
	ID     string // content hash, shown on the status page
}

type generation struct {
	v  Version
	id uint64
}

type vmHolder struct {
	vm     script.VM
	gen    *generation
	served int
	vmID   uint64
}

type slot struct {
	cur *vmHolder // owned by the slot's owner
}

// Pool lends VMs of one app. Safe for concurrent use.
type Pool struct {
	opts  Options
	log   *slog.Logger
	idle  chan *slot
	slots []*slot // all Workers slots, fixed at New
	gen   atomic.Pointer[generation]
	genID atomic.Uint64
	vmSeq atomic.Uint64

	ctx    context.Context // cancelled by Close: stops builders
	cancel context.CancelFunc
	wg     sync.WaitGroup // builders

	waiting  atomic.Int64
	busy     atomic.Int64
	requests atomic.Uint64
	maxBusy  atomic.Int64
	spares   atomic.Int64 // len(spare), for prepare's lock-free path

	mu      sync.Mutex // guards stats below and closed
	closed  bool
	st      Stats
	spare   map[*slot]*vmHolder // replacement VMs built ahead for slots in use
	pending map[*slot]bool      // slots with a builder running
}

// Stats are counters for the status page.
type Stats struct {
	Workers   int    `json:"workers"`
	Busy      int    `json:"busy"`
	Idle      int    `json:"idle"`
	Queued    int    `json:"queued"`
	MaxBusy   int    `json:"max_busy"`
	MaxQueued int    `json:"max_queued"`
	QueueFull uint64 `json:"queue_full"`
	Timeouts  uint64 `json:"queue_timeouts"`
	Requests  uint64 `json:"requests"`
	Recycled  uint64 `json:"recycled"`
	Discarded uint64 `json:"discarded"`
	VMStarts  uint64 `json:"vm_starts"`
	Version   string `json:"version"`
}

// New makes a pool for version v and starts its Workers VMs now, so the
// first request pays nothing. An error in the top-level code of the first VM
// is returned (and nothing is left running).
func New(v Version, o Options) (*Pool, error) {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.QueueTimeout == 0 {
		o.QueueTimeout = 5 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Pool{opts: o, log: o.Logger, idle: make(chan *slot, o.Workers),
		spare: map[*slot]*vmHolder{}, pending: map[*slot]bool{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	g := p.newGen(v)
	vms, err := p.startVMs(g, o.Workers)
	if err != nil {
		p.cancel()
		return nil, err
	}
	p.gen.Store(g)
	for _, h := range vms {
		s := &slot{cur: h}
		p.slots = append(p.slots, s)
		p.idle <- s
	}
	return p, nil
}

func (p *Pool) newGen(v Version) *generation {
	return &generation{v: v, id: p.genID.Add(1)}
}

// startVMs builds n VMs of g, in parallel up to 2 at a time; on any error it
// closes those built and returns the first error.
func (p *Pool) startVMs(g *generation, n int) ([]*vmHolder, error) {
	out := make([]*vmHolder, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = p.startVM(g)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, h := range out {
			if h != nil {
				h.vm.Close()
			}
		}
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
	}
	return out, nil
}

func (p *Pool) startVM(g *generation) (h *vmHolder, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.StartTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start VM: panic: %v", r)
		}
	}()
	vm, err := g.v.Bundle.NewVM(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.st.VMStarts++
	p.mu.Unlock()
	return &vmHolder{vm: vm, gen: g, vmID: p.vmSeq.Add(1)}, nil
}

// Lease is a VM lent to one request by Do.
type Lease struct {
	VM      script.VM
	Version string
	VMID    uint64
}

// Do waits for a VM (bounded by the queue and ctx), calls fn with it, and
// takes it back. fn's error is returned as is.
func (p *Pool) Do(ctx context.Context, fn func(Lease) error) (err error) {
	s, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	n := p.busy.Add(1)
	for m := p.maxBusy.Load(); n > m && !p.maxBusy.CompareAndSwap(m, n); m = p.maxBusy.Load() {
	}
	p.requests.Add(1)
	defer p.release(s)
	defer p.busy.Add(-1)

	if err := p.prepare(s); err != nil {
		return err
	}
	h := s.cur
	h.served++
	defer func() {
		if r := recover(); r != nil {
			// A Go panic escaped the engine: the VM's state is unknown, so
			// it is dropped (release builds a replacement).
			h.vm.Close()
			s.cur = nil
			p.mu.Lock()
			p.st.Discarded++
			p.mu.Unlock()
			p.rebuild(s, p.gen.Load(), false)
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(Lease{VM: h.vm, Version: h.gen.v.ID, VMID: h.vmID})
}

// PanicError is a Go panic recovered from a request; the VM it ran on was
// discarded.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

func (p *Pool) acquire(ctx context.Context) (*slot, error) {
	select {
	case s, ok := <-p.idle:
		if !ok {
			return nil, ErrClosed
		}
		return s, nil
	default:
	}
	if p.isClosed() {
		return nil, ErrClosed
	}
	if p.opts.QueueTimeout < 0 { // queue_timeout = "0s": never wait
		p.mu.Lock()
		p.st.QueueFull++
		p.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := p.waiting.Add(1)
	defer p.waiting.Add(-1)
	if int(w) > p.opts.QueueSize {
		p.mu.Lock()
		p.st.QueueFull++
		p.mu.Unlock()
		return nil, ErrQueueFull
	}
	p.mu.Lock()
	if int(w) > p.st.MaxQueued {
		p.st.MaxQueued = int(w)
	}
	p.mu.Unlock()
	t := time.NewTimer(p.opts.QueueTimeout)
	defer t.Stop()
	select {
	case s, ok := <-p.idle:
		if !ok {
			return nil, ErrClosed
		}
		return s, nil
	case <-t.C:
		p.mu.Lock()
		p.st.Timeouts++
		p.mu.Unlock()
		return nil, ErrQueueTimeout
	case <-ctx.Done():
		return nil, sandbox.Cause(ctx)
	}
}

// prepare makes sure s holds a healthy VM of the current generation: it
// takes a spare built ahead, or builds one now (cold path: after a failure
// or when a reload's VMs have all been taken).
func (p *Pool) prepare(s *slot) error {
	// The common case, without the lock: no spare anywhere, and the VM is
	// of the current version. The generation is read first: Swap stores it
	// before the spares, so a spare it left is seen here or the VM is
	// still of the generation read.
	if g := p.gen.Load(); p.spares.Load() == 0 && s.cur != nil && s.cur.gen == g && s.cur.vm.Healthy() {
		return nil
	}
	// The generation is read with the spare, under p.mu, as Swap stores
	// both: reading it before could find the new spare, judge it stale
	// and start a VM of the old version on this request's path.
	p.mu.Lock()
	sp := p.spare[s]
	if sp != nil {
		delete(p.spare, s)
		p.spares.Add(-1)
	}
	g := p.gen.Load()
	p.mu.Unlock()
	if sp != nil {
		if s.cur != nil {
			s.cur.vm.Close()
		}
		s.cur = sp
	}
	if s.cur != nil && s.cur.gen == g && s.cur.vm.Healthy() {
		return nil
	}
	if s.cur != nil {
		s.cur.vm.Close()
		s.cur = nil
	}
	h, err := p.startVM(g)
	if err != nil {
		return fmt.Errorf("start VM of %s: %w", g.v.ID, err)
	}
	s.cur = h
	return nil
}

// release takes back s after a request. An unhealthy VM is dropped now and
// a replacement is built in the background before the slot goes back to
// work; a VM at max_requests keeps serving until its replacement is ready.
func (p *Pool) release(s *slot) {
	h := s.cur
	g := p.gen.Load()
	switch {
	case h == nil:
	case !h.vm.Healthy():
		h.vm.Close()
		s.cur = nil
		p.mu.Lock()
		p.st.Discarded++
		p.mu.Unlock()
		if p.rebuild(s, g, true) {
			return // the builder returns the slot
		}
	case h.gen != g:
		// Reload: the new VM was (or is being) built ahead by Swap.
	case p.opts.MaxRequests > 0 && h.served >= p.opts.MaxRequests:
		// The VM keeps serving until its replacement is ready; count the
		// recycle once, when the replacement starts being built.
		if p.rebuild(s, g, false) {
			p.mu.Lock()
			p.st.Recycled++
			p.mu.Unlock()
		}
	}
	p.put(s)
}

// rebuild starts a builder for s's replacement VM. If own, the builder
// owns the slot and returns it to the idle channel when done (reports
// true); otherwise the VM is left as a spare that the slot's next owner
// swaps in.
func (p *Pool) rebuild(s *slot, g *generation, own bool) bool {
	p.mu.Lock()
	if p.closed || p.pending[s] || (!own && p.spare[s] != nil) {
		p.mu.Unlock()
		return false // a replacement is already built or being built
	}
	p.pending[s] = true
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		h, err := p.startVM(g)
		p.mu.Lock()
		delete(p.pending, s)
		if err != nil {
			p.mu.Unlock()
			p.log.Error("replacement VM failed to start", "version", g.v.ID, "err", err)
		} else if own {
			p.mu.Unlock()
			s.cur = h
		} else if p.closed || g != p.gen.Load() {
			// Closed, or a Swap came meanwhile and left this slot a spare
			// of the new version: this one is of no use.
			p.mu.Unlock()
			h.vm.Close()
		} else {
			if old := p.spare[s]; old != nil {
				old.vm.Close()
			} else {
				p.spares.Add(1)
			}
			p.spare[s] = h
			p.mu.Unlock()
		}
		if own {
			p.put(s)
		}
	}()
	return true
}

func (p *Pool) put(s *slot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed && s.cur != nil {
		s.cur.vm.Close()
		s.cur = nil
	}
	p.idle <- s // never blocks: there are Workers slots and Workers capacity
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Swap makes v the version new requests get. It starts Workers VMs of v
// first; if any fails (its top-level code throws), the pool keeps the old
// version and the error is returned. Requests in flight finish on their old
// VMs, which are closed when they come back.
func (p *Pool) Swap(v Version) error {
	g := p.newGen(v)
	vms, err := p.startVMs(g, p.opts.Workers)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		for _, h := range vms {
			h.vm.Close()
		}
		return ErrClosed
	}
	p.gen.Store(g)
	// Idle slots (drained from the channel, so owned here) switch now;
	// busy ones get their new VM as a spare, swapped in by their next owner.
	// Old VMs in flight are closed when they come back.
	owned := map[*slot]bool{}
drain:
	for {
		select {
		case s := <-p.idle:
			owned[s] = true
		default:
			break drain
		}
	}
	for _, old := range p.spare {
		old.vm.Close()
	}
	p.spare = map[*slot]*vmHolder{}
	for i, s := range p.slots {
		if owned[s] {
			if s.cur != nil {
				s.cur.vm.Close()
			}
			s.cur = vms[i]
		} else {
			p.spare[s] = vms[i]
		}
	}
	p.spares.Store(int64(len(p.spare)))
	p.mu.Unlock()
	for s := range owned {
		p.put(s)
	}
	return nil
}

// Version returns the ID of the version new requests get.
func (p *Pool) Version() string { return p.gen.Load().v.ID }

// Bundle returns the bundle of the current version.
func (p *Pool) Bundle() script.Bundle { return p.gen.Load().v.Bundle }

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	st := p.st
	p.mu.Unlock()
	st.Requests = p.requests.Load()
	st.MaxBusy = int(p.maxBusy.Load())
	st.Workers = p.opts.Workers
	st.Busy = int(p.busy.Load())
	st.Idle = st.Workers - st.Busy
	st.Queued = int(p.waiting.Load())
	st.Version = p.Version()
	return st
}

// Close stops lending, waits up to ctx for requests in flight to return
// their VMs, and closes every VM.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	var err error
	for i := 0; i < p.opts.Workers; i++ {
		select {
		case s := <-p.idle:
			if s.cur != nil {
				s.cur.vm.Close()
			}
		case <-ctx.Done():
			err = fmt.Errorf("close pool: %d requests still in flight: %w", p.opts.Workers-i, ctx.Err())
			i = p.opts.Workers
		}
	}
	p.mu.Lock()
	for _, h := range p.spare {
		h.vm.Close()
	}
	p.spare = nil
	p.spares.Store(0)
	p.mu.Unlock()
	return err
}
