package sandbox

// This file lets the memory watchdog know which request's VM holds memory.
// The Go runtime keeps no per-goroutine allocation counts, but its heap
// profile records, for about one allocation in every 512 KiB
// (runtime.MemProfileRate), the stack that made it and whether the object
// is still live after the last GC. A request runs its VM under RunTagged,
// which puts a run of frames on the goroutine's stack that spells out a
// tag (the VM's): every sampled allocation the VM makes carries it, and
// HeapByTag sums the live bytes of each tag. A VM that allocated nothing
// has no sample and holds nothing, however long it runs. docs/sandbox.md
// ("What attribution guarantees") says what this gives and what it does
// not.

import (
	"bytes"
	"math"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
)

// TagBits is the width of a tag: tags are 1 … 2^TagBits-1 (0 = untagged).
const TagBits = 24

// tagDigits is the number of tag frames below the mark: one per 4 bits.
const tagDigits = TagBits / 4

// Runner is what RunTagged runs.
type Runner interface{ Run() }

// RunTagged runs r.Run on this goroutine under tag: the heap profile
// charges what it allocates (and keeps) to tag. tag 0 runs r untagged.
func RunTagged(tag uint32, r Runner) {
	if tag == 0 {
		r.Run()
		return
	}
	tagMark(tag&(1<<TagBits-1), r)
}

// The tag frames: tagMark, then one frame per hexadecimal digit of the
// tag, lowest digit outermost: 7 frames of the 128 the heap profile keeps
// of each stack. They must not be inlined, or the frames vanish.

//go:noinline
func tagMark(tag uint32, r Runner) { tagDigitFuncs[tag&15](tag>>4, tagDigits-1, r) }

var tagDigitFuncs [16]func(tag uint32, n int, r Runner)

func init() {
	tagDigitFuncs = [16]func(uint32, int, Runner){tagD0, tagD1, tagD2, tagD3, tagD4, tagD5, tagD6, tagD7,
		tagD8, tagD9, tagDa, tagDb, tagDc, tagDd, tagDe, tagDf}
	for d, f := range tagDigitFuncs {
		tagEntries[funcEntry(f)] = frameDigit0 + d
	}
	tagEntries[funcEntry(tagMark)] = frameMark
}

func tagNext(tag uint32, n int, r Runner) {
	if n == 0 {
		r.Run()
		return
	}
	tagDigitFuncs[tag&15](tag>>4, n-1, r)
}

//go:noinline
func tagD0(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD1(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD2(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD3(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD4(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD5(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD6(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD7(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD8(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagD9(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagDa(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagDb(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagDc(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagDd(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagDe(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

//go:noinline
func tagDf(tag uint32, n int, r Runner) { tagNext(tag, n, r) }

// frame kinds: other, the mark, digit 0 … 15.
const (
	frameOther  = 0
	frameMark   = 1
	frameDigit0 = 2
)

var (
	tagEntries = map[uintptr]int{}
	pcKinds    sync.Map // return PC → frame kind
)

func funcEntry(f any) uintptr {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Entry()
}

func pcKind(pc uintptr) int {
	if k, ok := pcKinds.Load(pc); ok {
		return k.(int)
	}
	k := frameOther
	if f := runtime.FuncForPC(pc - 1); f != nil {
		k = tagEntries[f.Entry()]
	}
	pcKinds.Store(pc, k)
	return k
}

// tagOfStack decodes the tag of a sampled allocation's stack (innermost
// frame first), or 0 if the stack has none (an untagged goroutine, or an
// allocation more than about 120 frames below RunTagged: the profile keeps
// 128 frames of a stack).
func tagOfStack(stk []uintptr) uint32 {
	var tag uint32
	digits := 0
	for _, pc := range stk {
		switch k := pcKind(pc); {
		case k >= frameDigit0:
			tag, digits = tag<<4|uint32(k-frameDigit0), digits+1
		case k == frameMark:
			if digits != tagDigits {
				return 0
			}
			return tag
		}
	}
	return 0
}

var profBuf struct {
	sync.Mutex
	b bytes.Buffer
}

// HeapByTag returns the live heap bytes charged to each tag, estimated
// from the heap profile as of the last GC cycles (an allocation shows once
// a cycle after its own has completed), scaled as pprof does. It costs a
// walk and a print of the whole profile: call it once per GC cycle at most.
//
// It reads runtime/pprof's "heap" profile in its text form, whose records
// keep 128 frames (runtime.MemProfile's keep 32, too few for a VM's stack
// under the tag frames).
func HeapByTag() map[uint32]int64 {
	profBuf.Lock()
	defer profBuf.Unlock()
	b := &profBuf.b
	b.Reset()
	if err := pprof.Lookup("heap").WriteTo(b, 1); err != nil {
		return nil
	}
	rate := runtime.MemProfileRate
	out := map[uint32]int64{}
	var stk []uintptr
	for line := range bytes.Lines(b.Bytes()) {
		// "IN_OBJS: IN_BYTES [ALLOC_OBJS: ALLOC_BYTES] @ 0xPC 0xPC …"
		if len(line) == 0 || line[0] < '0' || line[0] > '9' {
			continue
		}
		head, pcs, ok := bytes.Cut(line, []byte(" @ "))
		if !ok {
			continue
		}
		objsS, rest, _ := bytes.Cut(head, []byte(": "))
		bytesS, _, _ := bytes.Cut(rest, []byte(" ["))
		objs, err1 := strconv.ParseInt(string(objsS), 10, 64)
		n, err2 := strconv.ParseInt(string(bytesS), 10, 64)
		if err1 != nil || err2 != nil || objs <= 0 || n <= 0 {
			continue
		}
		stk = stk[:0]
		for _, f := range bytes.Fields(pcs) {
			pc, err := strconv.ParseUint(strings.TrimPrefix(string(f), "0x"), 16, 64)
			if err == nil {
				stk = append(stk, uintptr(pc))
			}
		}
		if tag := tagOfStack(stk); tag != 0 {
			out[tag] += scaleHeap(objs, n, rate)
		}
	}
	return out
}

// scaleHeap is pprof's estimate of the bytes that count sampled objects
// of bytes in all stand for.
func scaleHeap(count, bytes int64, rate int) int64 {
	if rate <= 1 {
		return bytes
	}
	avg := float64(bytes) / float64(count)
	return int64(float64(bytes) / (1 - math.Exp(-avg/float64(rate))))
}
