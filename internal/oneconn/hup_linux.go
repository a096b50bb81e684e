package oneconn

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// waitHangup tells a unix-socket peer that closed its connection from one
// that only shut down its sending side (a half-close, which some SCGI
// clients do after the request): it waits for POLLHUP, which only the
// former raises, until stop is closed. It reports true on a hangup. On a
// TCP connection the two look alike until a write, so it reports true at
// once: the end of file there is taken as the client gone
// (docs/reference.md, "Gateways").
func waitHangup(nc net.Conn, stop <-chan struct{}) bool {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return true
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return true
	}
	for {
		select {
		case <-stop:
			return false
		default:
		}
		var hup bool
		var perr error
		cerr := rc.Control(func(fd uintptr) {
			// No events asked for: poll reports only POLLHUP and POLLERR.
			fds := []unix.PollFd{{Fd: int32(fd)}}
			// stop is checked between polls: a short one, as the
			// connection closes only once this returns.
			n, err := unix.Poll(fds, int((50 * time.Millisecond).Milliseconds()))
			if err != nil && err != unix.EINTR {
				perr = err
				return
			}
			hup = n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
		})
		if cerr != nil || perr != nil {
			return true
		}
		if hup {
			return true
		}
	}
}
