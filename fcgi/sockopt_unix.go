//go:build unix

package fcgi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// isListeningSocket asks the kernel whether fd is a listening socket.
func isListeningSocket(fd int) (bool, error) {
	v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	switch {
	case err == nil:
		return v != 0, nil
	case errors.Is(err, syscall.ENOTSOCK), errors.Is(err, syscall.EBADF):
		return false, nil
	case errors.Is(err, syscall.ENOPROTOOPT), errors.Is(err, syscall.EINVAL):
		// No SO_ACCEPTCONN: a socket without a peer is taken as listening,
		// as libfcgi does.
		_, perr := syscall.Getpeername(fd)
		return errors.Is(perr, syscall.ENOTCONN), nil
	}
	return false, fmt.Errorf("fcgi: getsockopt(%d, SO_ACCEPTCONN): %w", fd, err)
}

// fileListener makes a listener from fd; with dup it leaves fd itself
// open, else it closes fd (net.FileListener works on a duplicate).
func fileListener(fd int, name string, dup bool) (net.Listener, error) {
	if dup {
		syscall.ForkLock.RLock()
		nfd, err := syscall.Dup(fd)
		if err == nil {
			syscall.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("fcgi: dup fd %d: %w", fd, err)
		}
		fd = nfd
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), name)
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fcgi: listener from fd %d: %w", fd, err)
	}
	return l, nil
}
