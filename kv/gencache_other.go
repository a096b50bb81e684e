//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package kv

import "errors"

// openReadCache: no shared mapping here, so no read cache.
func openReadCache(path string) (*readCache, error) {
	return nil, errors.New("no read cache on this system")
}
