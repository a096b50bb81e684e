package prefork

// This file holds the slot table: a small file shared by one worker and
// the master (mapped by both), where the worker writes what each request
// it serves is and when it started, and counts its requests. The master
// reads it to say what a dead worker was running and to find a request
// stuck past its time. A request costs the worker a few atomic stores and
// a copy of its line: no system call.

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	tableEntries = 64
	entrySize    = 256
	headerSize   = 64
	tableSize    = headerSize + tableEntries*entrySize
	textMax      = entrySize - 24
)

// Entry states.
const (
	entryFree    = 0
	entryWriting = 1
	entryBusy    = 2
)

// table is a mapped slot table.
type table struct {
	b    []byte
	free chan int // worker side: free entry indexes
}

// newTableFile makes the unlinked file a worker's table lives in.
func newTableFile() (*os.File, error) {
	f, err := os.CreateTemp("", "fcgihost-worker-*")
	if err != nil {
		return nil, fmt.Errorf("slot table: %w", err)
	}
	os.Remove(f.Name())
	if err := f.Truncate(tableSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("slot table: %w", err)
	}
	return f, nil
}

func mapTable(f *os.File, worker bool) (*table, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, tableSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("slot table: mmap: %w", err)
	}
	t := &table{b: b}
	if worker {
		t.free = make(chan int, tableEntries)
		for i := range tableEntries {
			t.free <- i
		}
	}
	return t, nil
}

func (t *table) close() {
	if t != nil && t.b != nil {
		syscall.Munmap(t.b)
		t.b = nil
	}
}

func (t *table) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&t.b[off])) }

// header fields
const (
	hRequests = 0  // requests finished
	hInFlight = 8  // requests running
	hLost     = 16 // requests not recorded (every entry busy)
)

// begin records a request; the index is -1 when every entry is taken.
func (t *table) begin(text string) int {
	atomic.AddUint64(t.u64(hInFlight), 1)
	var i int
	select {
	case i = <-t.free:
	default:
		atomic.AddUint64(t.u64(hLost), 1)
		return -1
	}
	off := headerSize + i*entrySize
	atomic.StoreUint64(t.u64(off), entryWriting)
	atomic.StoreUint64(t.u64(off+8), uint64(time.Now().UnixNano()))
	n := copy(t.b[off+24:off+entrySize], text)
	atomic.StoreUint64(t.u64(off+16), uint64(n))
	atomic.StoreUint64(t.u64(off), entryBusy)
	return i
}

// end records the end of request i.
func (t *table) end(i int) {
	atomic.AddUint64(t.u64(hRequests), 1)
	atomic.AddUint64(t.u64(hInFlight), ^uint64(0))
	if i < 0 {
		return
	}
	atomic.StoreUint64(t.u64(headerSize+i*entrySize), entryFree)
	t.free <- i
}

// Running is one request a worker was running.
type Running struct {
	What    string
	Started time.Time
}

// running lists the requests the worker has in flight (master side).
func (t *table) running() []Running {
	var out []Running
	for i := range tableEntries {
		off := headerSize + i*entrySize
		if atomic.LoadUint64(t.u64(off)) != entryBusy {
			continue
		}
		start := atomic.LoadUint64(t.u64(off + 8))
		n := min(int(atomic.LoadUint64(t.u64(off+16))), textMax)
		text := string(t.b[off+24 : off+24+n])
		if atomic.LoadUint64(t.u64(off)) != entryBusy || atomic.LoadUint64(t.u64(off+8)) != start {
			continue // it changed while read
		}
		out = append(out, Running{What: text, Started: time.Unix(0, int64(start))})
	}
	return out
}

func (t *table) requests() uint64 { return atomic.LoadUint64(t.u64(hRequests)) }
func (t *table) inFlight() uint64 { return atomic.LoadUint64(t.u64(hInFlight)) }
