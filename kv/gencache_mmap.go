//go:build linux || darwin || freebsd || netbsd || openbsd

package kv

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// openReadCache maps the generation file path (created 0600).
func openReadCache(path string) (*readCache, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const size = 4096
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if fi.Size() < size {
		if err := f.Truncate(size); err != nil {
			return nil, err
		}
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &readCache{
		gen:   (*atomic.Uint64)(unsafe.Pointer(&b[0])), // page-aligned
		m:     map[cacheKey]cacheEntry{},
		unmap: func() error { return syscall.Munmap(b) },
	}, nil
}
