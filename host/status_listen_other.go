//go:build !linux

package host

func tcpAcceptQueue(fd int) (n, backlog int, ok bool)  { return 0, 0, false }
func unixAcceptQueue(fd int) (n, backlog int, ok bool) { return 0, 0, false }
