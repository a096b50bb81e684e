//go:build linux

package watch

import (
	"os"
	"syscall"
)

// sysInfo returns the inode number and change time (ns) of fi.
func sysInfo(fi os.FileInfo) (ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, st.Ctim.Nano()
	}
	return 0, 0
}
