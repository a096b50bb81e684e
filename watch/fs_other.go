//go:build !linux

package watch

// remoteFileSystem returns "": only Linux's file system types are known.
func remoteFileSystem(dir string) string { return "" }
