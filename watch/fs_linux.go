//go:build linux

package watch

import "syscall"

// Magic numbers (statfs(2) f_type) of file systems whose changes made
// elsewhere — by the server or another client — inotify never reports.
var remoteFS = map[int64]string{
	0x6969:     "nfs",
	0x517b:     "smb",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x01021997: "9p",
	0x65735546: "fuse",
	0x00c36400: "ceph",
	0x5346414f: "afs",
}

// remoteFileSystem returns the name of dir's file system when inotify cannot
// be trusted on it, else "".
func remoteFileSystem(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	return remoteFS[int64(st.Type)&0xffffffff]
}
