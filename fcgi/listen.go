// This file holds the listeners: TCP and unix sockets opened by address,
// the socket a web server passes on fd 0 (FCGI_LISTENSOCK_FILENO), and
// systemd socket activation (LISTEN_FDS).

package fcgi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// DefaultSocketMode is the mode of a unix socket made by Listen.
const DefaultSocketMode os.FileMode = 0o660

// Listen opens a listener on addr: "127.0.0.1:9000", "[::1]:9000" (TCP),
// or "unix:/path" (an absolute path alone works too). A unix socket file
// left by a dead process is replaced; one another process still listens
// on, or a file that is not a socket, is an error. The socket gets mode
// (0 means DefaultSocketMode, 0660) and is removed when the listener is
// closed.
func Listen(addr string, mode os.FileMode) (net.Listener, error) {
	network, address := splitAddr(addr)
	if network == "unix" {
		return listenUnix(address, mode)
	}
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("fcgi: listen on %s: %w", addr, err)
	}
	return l, nil
}

func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("fcgi: listen on unix socket: empty path")
	}
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if path[0] != '@' { // not a Linux abstract socket
		if err := removeStaleSocket(path); err != nil {
			return nil, err
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("fcgi: listen on unix:%s: %w", path, err)
	}
	if path[0] != '@' {
		if err := os.Chmod(path, mode); err != nil {
			l.Close()
			return nil, fmt.Errorf("fcgi: chmod unix socket %s: %w", path, err)
		}
	}
	return l, nil
}

// removeStaleSocket removes path when it is a socket nobody listens on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fcgi: listen on unix:%s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("fcgi: listen on unix:%s: file exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("fcgi: listen on unix:%s: another process is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("fcgi: listen on unix:%s: probe existing socket: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fcgi: remove stale socket %s: %w", path, err)
	}
	return nil
}

// InheritedListener returns the listening socket a web server passed on
// file descriptor 0 (FCGI_LISTENSOCK_FILENO), as Apache mod_fcgid,
// lighttpd's bin-path and spawn-fcgi do, or (nil, nil) when fd 0 is not a
// listening socket. It asks the kernel (SO_ACCEPTCONN, or getpeername
// failing with ENOTCONN where that option is missing) instead of guessing.
// Fd 0 itself is left open; the listener uses a duplicate.
func InheritedListener() (net.Listener, error) {
	ok, err := isListeningSocket(ListenSockFileno)
	if err != nil || !ok {
		return nil, err
	}
	return fileListener(ListenSockFileno, "fcgi-listensock", true)
}

// SystemdListeners returns the sockets passed by systemd socket
// activation: LISTEN_FDS descriptors from fd 3 on, when LISTEN_PID is
// this process. It unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so
// that child processes do not take them for theirs. Without socket
// activation it returns (nil, nil).
func SystemdListeners() ([]net.Listener, error) {
	pidStr, fdsStr := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pidStr == "" || fdsStr == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return nil, fmt.Errorf("fcgi: LISTEN_PID=%q: %w", pidStr, err)
	}
	if pid != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(fdsStr)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("fcgi: LISTEN_FDS=%q: not a count", fdsStr)
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	const first = 3 // SD_LISTEN_FDS_START
	var ls []net.Listener
	for fd := first; fd < first+n; fd++ {
		l, err := fileListener(fd, "LISTEN_FD_"+strconv.Itoa(fd), false)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("fcgi: systemd socket: %w", err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
