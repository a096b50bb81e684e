package host

import (
	"sync"
	"time"
	"unsafe"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/sandbox"
)

// vmTags gives each VM (a pool and its VM number) the tag its requests run
// under (sandbox.RunTagged), so that the memory watchdog charges a VM with
// what it allocated and keeps, over all its requests: docs/sandbox.md,
// "What attribution guarantees". Tags are handed out in sequence over
// 2^24-1 values; a VM unused for tagIdle loses its tag (its entry is
// pruned once there are more than tagPrune) and gets a fresh one when it
// serves again.
var vmTags = struct {
	mu     sync.Mutex
	m      map[vmKey]*vmTag
	next   uint32
	pruned time.Time
}{m: map[vmKey]*vmTag{}}

// vmKey names a VM: its pool's address (not a reference: a closed pool
// must not be kept alive by this map) and its number in the pool.
type vmKey struct {
	pool uintptr
	vm   uint64
}

type vmTag struct {
	tag  uint32
	used time.Time
}

const (
	tagPrune = 4096
	tagIdle  = 10 * time.Minute
)

// tagOf returns the tag of VM id of p.
func tagOf(p *pool.Pool, id uint64) uint32 {
	now := time.Now()
	vmTags.mu.Lock()
	defer vmTags.mu.Unlock()
	k := vmKey{uintptr(unsafe.Pointer(p)), id}
	if t := vmTags.m[k]; t != nil {
		t.used = now
		return t.tag
	}
	if len(vmTags.m) >= tagPrune && now.Sub(vmTags.pruned) >= time.Second {
		// At most once a second; with many VMs made and dropped
		// (max_requests = 1) the idle limit shrinks to a second.
		vmTags.pruned = now
		idle := tagIdle
		if len(vmTags.m) >= 4*tagPrune {
			idle = time.Second
		}
		for k, t := range vmTags.m {
			if now.Sub(t.used) > idle {
				delete(vmTags.m, k)
			}
		}
	}
	vmTags.next++
	if vmTags.next >= 1<<sandbox.TagBits {
		vmTags.next = 1
	}
	vmTags.m[k] = &vmTag{tag: vmTags.next, used: now}
	return vmTags.next
}
