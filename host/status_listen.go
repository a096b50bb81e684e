package host

// This file holds what the status page says about the FastCGI side: the
// fcgi.Server's connection counters and the accept queue ("listen queue",
// as PHP-FPM calls it) of the listening sockets.

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
)

// Frontend is the FastCGI side of a running host, as the status page sees
// it. One Frontend outlives config reloads (Host.Inherit carries it). The
// zero value is ready; a nil *Frontend reports nothing.
type Frontend struct {
	mu        sync.Mutex
	srv       *fcgi.Server
	listeners []net.Listener

	gateways map[string]func() GatewayReport

	maxQueue   atomic.Int64
	lastSample atomic.Int64 // unix nanos of the last sample
}

// SetServer names the fcgi.Server whose counters the status page shows.
func (f *Frontend) SetServer(s *fcgi.Server) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.srv = s
	f.mu.Unlock()
}

// SetGateway names the counters of the SCGI or uwsgi server the status
// page shows under proto.
func (f *Frontend) SetGateway(proto string, report func() GatewayReport) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.gateways == nil {
		f.gateways = map[string]func() GatewayReport{}
	}
	f.gateways[proto] = report
	f.mu.Unlock()
}

func (f *Frontend) gatewayReports() map[string]*GatewayReport {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.gateways) == 0 {
		return nil
	}
	out := make(map[string]*GatewayReport, len(f.gateways))
	for k, rep := range f.gateways {
		r := rep()
		out[k] = &r
	}
	return out
}

// AddListener adds a listening socket whose accept queue is reported.
func (f *Frontend) AddListener(l net.Listener) {
	if f == nil || l == nil {
		return
	}
	f.mu.Lock()
	f.listeners = append(f.listeners, l)
	f.mu.Unlock()
}

// ListenQueue is the accept queue of the listening sockets: the
// connections the kernel has completed that fcgihost has not accepted yet.
type ListenQueue struct {
	Now    int  // summed over the listeners
	Max    int  // the highest Now seen since start (sampled)
	Len    int  // the backlog the kernel allows (summed)
	Known  bool // false when no listener can be measured
	Listen int  // number of listeners
}

// sampleEvery bounds how often Touch measures the queues.
const sampleEvery = 100 * time.Millisecond

// Touch samples the listen queue unless a sample was taken within the
// last 100ms; the host calls it once per request so that the maximum
// reflects busy moments.
func (f *Frontend) Touch() {
	if f == nil {
		return
	}
	now := time.Now().UnixNano()
	last := f.lastSample.Load()
	if now-last < int64(sampleEvery) || !f.lastSample.CompareAndSwap(last, now) {
		return
	}
	f.Queue()
}

// Queue measures the listen queue now and updates the maximum.
func (f *Frontend) Queue() ListenQueue {
	var q ListenQueue
	if f == nil {
		return q
	}
	f.mu.Lock()
	ls := append([]net.Listener(nil), f.listeners...)
	f.mu.Unlock()
	q.Listen = len(ls)
	for _, l := range ls {
		n, backlog, ok := acceptQueue(l)
		if !ok {
			continue
		}
		q.Known = true
		q.Now += n
		q.Len += backlog
	}
	for {
		m := f.maxQueue.Load()
		if int64(q.Now) <= m || f.maxQueue.CompareAndSwap(m, int64(q.Now)) {
			break
		}
	}
	q.Max = int(f.maxQueue.Load())
	return q
}

// Stats returns the fcgi.Server's counters (ok false if none is set).
func (f *Frontend) Stats() (fcgi.ServerStats, bool) {
	if f == nil {
		return fcgi.ServerStats{}, false
	}
	f.mu.Lock()
	s := f.srv
	f.mu.Unlock()
	if s == nil {
		return fcgi.ServerStats{}, false
	}
	return s.Stats(), true
}

// acceptQueue reports the accept queue length and backlog of l, where the
// kernel tells them (Linux: TCP_INFO for TCP, sock_diag for unix sockets).
func acceptQueue(l net.Listener) (n, backlog int, ok bool) {
	sc, isConn := l.(syscall.Conn)
	if !isConn {
		return 0, 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	_, unix := l.Addr().(*net.UnixAddr)
	cerr := rc.Control(func(fd uintptr) {
		if unix {
			n, backlog, ok = unixAcceptQueue(int(fd))
		} else {
			n, backlog, ok = tcpAcceptQueue(int(fd))
		}
	})
	if cerr != nil {
		return 0, 0, false
	}
	return n, backlog, ok
}
