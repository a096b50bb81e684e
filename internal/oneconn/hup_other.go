//go:build !linux

package oneconn

import "net"

// waitHangup: without poll's POLLHUP to tell a half-close from a close,
// an end of file is taken as the client gone.
func waitHangup(nc net.Conn, stop <-chan struct{}) bool { return true }
