package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/fcgi"
)

func TestSystemdProtos(t *testing.T) {
	t.Setenv("LISTEN_FDNAMES", "scgi:fcgihost.socket:uwsgi:")
	if got, want := systemdProtos(), []string{"scgi", "fcgi", "uwsgi", "fcgi"}; !slices.Equal(got, want) {
		t.Errorf("systemdProtos = %v, want %v", got, want)
	}
	t.Setenv("LISTEN_FDNAMES", "")
	if got := systemdProtos(); got != nil {
		t.Errorf("without names: %v", got)
	}
}

// A process started on fd 0 that cannot start answers 500 in the protocol
// each connection speaks: the configuration naming it may be what failed.
func TestServeBrokenEachProtocol(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var errb syncBuf
	m := &Main{Stdout: io.Discard, Stderr: &errb, Getenv: os.Getenv, Environ: os.Environ}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.serveBroken(ctx, l, errors.New("bad key \"nope\" on line 3")) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveBroken: %v", err)
		}
	}()
	addr := l.Addr().String()
	raw := func(req []byte) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		c.Write(req)
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	scgiReq := []byte("24:CONTENT_LENGTH\x000\x00SCGI\x001\x00,")
	if got := raw(scgiReq); !strings.HasPrefix(got, "Status: 500 ") || !strings.Contains(got, "could not start") {
		t.Errorf("SCGI: %q", got)
	}
	v := []byte{14, 0}
	v = append(v, "CONTENT_LENGTH"...)
	v = append(v, 1, 0, '0')
	uw := append([]byte{0, byte(len(v)), 0, 0}, v...)
	if got := raw(uw); !strings.HasPrefix(got, "HTTP/1.1 500 ") || !strings.Contains(got, "could not start") {
		t.Errorf("uwsgi: %q", got)
	}
	c := &fcgi.Client{Addr: addr}
	defer c.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	resp, err := c.Do(rctx, &fcgi.ClientRequest{Params: map[string]string{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/x"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := resp.ReadAll()
	if resp.Status != 500 || !strings.Contains(string(body), "could not start") || !strings.Contains(string(resp.Stderr), `bad key "nope"`) {
		t.Errorf("FastCGI: %d %q stderr %q", resp.Status, body, resp.Stderr)
	}
	// A connection closed before its first byte is no trouble.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
	}
	if !strings.Contains(errb.String(), "cannot start") {
		t.Errorf("stderr: %q", errb.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOpenListenersNamesInheritedSocket: fd:0 in listen gives the socket
// on fd 0 the protocol named, and only that one; naming it twice, or a
// descriptor nothing was passed on, is an error that leaves fd 0 open.
func TestOpenListenersNamesInheritedSocket(t *testing.T) {
	t.Setenv("LISTEN_PID", "")
	t.Setenv("LISTEN_FDS", "")
	flags := config.BindFlags(flag.NewFlagSet("serve", flag.ContinueOnError))
	inh, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inh.Close()
	tcp := "scgi:127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := config.Default()
	cfg.Listen = []string{"uwsgi:fd:0", tcp}
	fls, hl, err := openListeners(cfg, flags, inh)
	if err != nil {
		t.Fatal(err)
	}
	if hl != nil || len(fls) != 2 || fls[0].Listener != inh || fls[0].proto != protoUWSGI || fls[1].proto != protoSCGI {
		t.Errorf("listeners: %+v, http %v", fls, hl)
	}
	fls[1].Close()
	cfg.Listen = nil
	if fls, _, err := openListeners(cfg, flags, inh); err != nil || len(fls) != 1 || fls[0].proto != protoFCGI {
		t.Errorf("fd 0 unnamed: %+v, %v (want FastCGI)", fls, err)
	}
	for _, listen := range [][]string{{"scgi:fd:0", "uwsgi:fd:0"}, {"scgi:fd:3"}, {"scgi:fd:0", tcp, "fd:4"}} {
		cfg.Listen = listen
		if _, _, err := openListeners(cfg, flags, inh); err == nil {
			t.Errorf("listen %q accepted", listen)
		}
		// fd 0 stays open for serveBroken.
		if c, err := net.Dial("tcp", inh.Addr().String()); err != nil {
			t.Fatalf("after listen %q, fd 0 closed: %v", listen, err)
		} else {
			c.Close()
		}
	}
	// The TCP listener of the failed attempt was closed.
	l, err := net.Listen("tcp", strings.TrimPrefix(tcp, "scgi:"))
	if err != nil {
		t.Errorf("the failed attempt left %s open: %v", tcp, err)
	} else {
		l.Close()
	}
	cfg.Listen = []string{"scgi:fd:0"}
	if _, _, err := openListeners(cfg, flags, nil); err == nil || !strings.Contains(err.Error(), "fd 0 is not a listening socket") {
		t.Errorf("fd:0 without fd 0: %v", err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
