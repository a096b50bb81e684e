//go:build !linux

package watch

import "os"

// sysInfo returns 0, 0: off Linux the shortcut uses size and mtime only.
func sysInfo(fi os.FileInfo) (ino uint64, ctime int64) { return 0, 0 }
