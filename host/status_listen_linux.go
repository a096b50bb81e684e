//go:build linux

package host

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpAcceptQueue reads a listening TCP socket's queue from TCP_INFO: for a
// listener the kernel reports the accept queue in tcpi_unacked and the
// backlog in tcpi_sacked (what `ss -lt` shows as Recv-Q and Send-Q).
func tcpAcceptQueue(fd int) (n, backlog int, ok bool) {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, 0, false
	}
	return int(ti.Unacked), int(ti.Sacked), true
}

// sock_diag constants (linux/sock_diag.h, linux/unix_diag.h).
const (
	netlinkSockDiag  = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	udiagShowRQLen   = 0x10
	unixDiagRQLen    = 4
)

// unixAcceptQueue asks the kernel (sock_diag, as `ss -xl` does) for a
// listening unix socket's accept queue and backlog.
func unixAcceptQueue(fd int) (n, backlog int, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, 0, false
	}
	s, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return 0, 0, false
	}
	defer syscall.Close(s)
	tv := syscall.Timeval{Sec: 1}
	syscall.SetsockoptTimeval(s, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)

	// nlmsghdr (16 bytes) + unix_diag_req (24 bytes).
	req := make([]byte, 40)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], 40)
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // seq
	req[16] = syscall.AF_UNIX
	ne.PutUint32(req[20:], 0xffffffff) // all states
	ne.PutUint32(req[24:], uint32(st.Ino))
	ne.PutUint32(req[28:], udiagShowRQLen)
	ne.PutUint32(req[32:], 0xffffffff) // no cookie
	ne.PutUint32(req[36:], 0xffffffff)
	if err := syscall.Sendto(s, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, 0, false
	}
	buf := make([]byte, 4096)
	m, _, err := syscall.Recvfrom(s, buf, 0)
	if err != nil || m < 16+16 {
		return 0, 0, false
	}
	buf = buf[:m]
	msgLen := int(ne.Uint32(buf[0:]))
	if ne.Uint16(buf[4:]) != sockDiagByFamily || msgLen > m || msgLen < 32 {
		return 0, 0, false // NLMSG_ERROR (no such socket) or short
	}
	if ne.Uint32(buf[16+4:]) != uint32(st.Ino) {
		return 0, 0, false
	}
	// rtattrs after unix_diag_msg.
	for a := buf[32:msgLen]; len(a) >= 4; {
		l, typ := int(ne.Uint16(a[0:])), ne.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if typ == unixDiagRQLen && l >= 12 {
			return int(ne.Uint32(a[4:])), int(ne.Uint32(a[8:])), true
		}
		a = a[min(len(a), (l+3)&^3):]
	}
	return 0, 0, false
}
