//go:build !unix

package fcgi

import (
	"errors"
	"net"
)

func isListeningSocket(fd int) (bool, error) { return false, nil }

func fileListener(fd int, name string, dup bool) (net.Listener, error) {
	return nil, errors.New("fcgi: inherited sockets are not supported on this system")
}
