package fcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// A handler stuck in a call that ignores its context: another goroutine
// detaches it with an answer. The web server gets that answer and
// FCGI_END_REQUEST at once, the request id and the connection serve the
// next request, the handler's later output goes nowhere, and Shutdown
// does not wait for the stuck goroutine.
func TestServer_DetachStuckHandler(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{}) // never closed before the end of the test
	defer close(stuck)
	type late struct {
		cause          error
		writeErr       error
		stderrErr      error
		readErr        error
		detachedTwice  bool
		detachedByMine bool
	}
	lateCh := make(chan late, 1)
	detachers := make(chan Detacher, 1)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		if r.Params["MODE"] != "stuck" {
			io.WriteString(w, "\r\nfine")
			return
		}
		w.Write([]byte("Status: 200 OK\r\n\r\nnot yet sent")) // buffered: must not reach the client
		detachers <- w.(Detacher)
		<-stuck
		var l late
		l.cause = context.Cause(r.Context())
		_, l.writeErr = w.Write([]byte("late"))
		if f, ok := w.(Flusher); ok {
			f.Flush()
		}
		_, l.stderrErr = w.Stderr().Write([]byte("late stderr"))
		_, l.readErr = r.Stdin.Read(make([]byte, 8))
		l.detachedTwice = w.(Detacher).Detach([]byte("again"))
		lateCh <- l
	})
	s, _ := newTestServer(t, h)
	addr := startServer(t, s, "unix")
	c := dial(t, addr)
	c.send(simpleRequest(1, true, "MODE", "stuck"))
	d := <-detachers
	const answer = "Status: 504 Gateway Timeout\r\nContent-Type: text/plain\r\n\r\ntimed out\n"
	if !d.Detach([]byte(answer)) {
		t.Fatal("Detach of a running handler reported false")
	}
	if d.Detach([]byte(answer)) {
		t.Error("a second Detach reported true")
	}
	res := c.readResponse(1)
	if string(res.stdout) != answer || res.stdoutEnds != 1 || res.appStatus != 0 || res.proto != StatusRequestComplete {
		t.Errorf("detached answer: stdout %q (%d ends), app status %d, protocol status %d", res.stdout, res.stdoutEnds, res.appStatus, res.proto)
	}
	waitFor(t, "the detached request to stop counting", func() bool { return s.Stats().ActiveRequests == 0 })
	if st := s.Stats(); st.Detached != 1 {
		t.Errorf("Stats().Detached = %d, want 1", st.Detached)
	}
	// The same id, on the same connection, answers again.
	c.send(simpleRequest(1, true))
	if res := c.readResponse(1); string(res.stdout) != "\r\nfine" {
		t.Errorf("next request on the connection: %q", res.stdout)
	}
	// Shutdown does not wait for the stuck handler.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with a detached handler still stuck: %v", err)
	}
	// The handler comes back: everything it does now goes nowhere.
	stuck <- struct{}{}
	l := <-lateCh
	if !errors.Is(l.cause, ErrRequestDetached) || !errors.Is(l.writeErr, ErrRequestDetached) ||
		!errors.Is(l.stderrErr, ErrRequestDetached) || !errors.Is(l.readErr, ErrRequestDetached) || l.detachedTwice {
		t.Errorf("after Detach the handler saw cause %v, write %v, stderr %v, read %v, Detach again %v",
			l.cause, l.writeErr, l.stderrErr, l.readErr, l.detachedTwice)
	}
}

// Detach after the handler has returned does nothing.
func TestServer_DetachAfterReturn(t *testing.T) {
	t.Parallel()
	got := make(chan Detacher, 1)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		io.WriteString(w, "\r\nmine")
		got <- w.(Detacher)
	})
	s, _ := newTestServer(t, h)
	c := dial(t, startServer(t, s, "unix"))
	c.send(simpleRequest(1, true))
	if res := c.readResponse(1); string(res.stdout) != "\r\nmine" {
		t.Errorf("answer %q", res.stdout)
	}
	if (<-got).Detach([]byte("Status: 504\r\n\r\n")) {
		t.Error("Detach after the handler returned reported true")
	}
	c.send(getValuesRec("FCGI_MAX_REQS"))
	if r := c.mustRead(); r.h.Type != typeGetValuesResult {
		t.Errorf("after the request got %s, want nothing more of it", typeName(r.h.Type))
	}
}

// When the head already went out, Detach ends the stream where it is (it
// cannot take back what was sent), and a request without FCGI_KEEP_CONN
// closes its connection.
func TestServer_DetachAfterOutput(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	defer close(stuck)
	got := make(chan Detacher, 1)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		io.WriteString(w, "Status: 200 OK\r\n\r\npart one")
		w.(Flusher).Flush()
		w.Stderr().Write([]byte("a warning"))
		io.WriteString(w, " part two, never sent")
		got <- w.(Detacher)
		<-stuck
	})
	s, _ := newTestServer(t, h)
	c := dial(t, startServer(t, s, "unix"))
	c.send(simpleRequest(1, false))
	if !(<-got).Detach([]byte("Status: 504\r\n\r\n")) {
		t.Fatal("Detach reported false")
	}
	res := c.readResponse(1)
	if string(res.stdout) != "Status: 200 OK\r\n\r\npart one" || res.stdoutEnds != 1 || string(res.stderr) != "a warning" || res.stderrEnds != 1 {
		t.Errorf("stdout %q (%d ends), stderr %q (%d ends)", res.stdout, res.stdoutEnds, res.stderr, res.stderrEnds)
	}
	c.expectEOF()
}

// Detach racing with the handler's own end and with its writes: exactly
// one FCGI_END_REQUEST per request, no record of a request after it, and
// the answer is whole — the handler's or the detacher's. Run under -race.
func TestServer_DetachRaces(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[bool]int{}
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		start := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok := w.(Detacher).Detach([]byte("\r\ndetached"))
			mu.Lock()
			won[ok]++
			mu.Unlock()
		}()
		close(start)
		for i := range 20 {
			fmt.Fprintf(w, "line %d\n", i)
			if i%5 == 0 {
				w.(Flusher).Flush()
			}
		}
	})
	s, _ := newTestServer(t, h)
	c := dial(t, startServer(t, s, "unix"))
	const n = 300
	for i := range n {
		id := uint16(i%3 + 1)
		c.send(simpleRequest(id, true))
		res := c.readResponse(id)
		out := string(res.stdout)
		full := ""
		for j := range 20 {
			full += fmt.Sprintf("line %d\n", j)
		}
		if out != "\r\ndetached" && out != full && !strings.HasPrefix(full, out) {
			t.Fatalf("request %d: answer %q is neither the handler's nor the detacher's", i, out)
		}
		if res.stdoutEnds != 1 {
			t.Fatalf("request %d: %d empty FCGI_STDOUT records", i, res.stdoutEnds)
		}
	}
	// Nothing of any request comes after its FCGI_END_REQUEST.
	c.send(getValuesRec("FCGI_MAX_REQS"))
	if r := c.mustRead(); r.h.Type != typeGetValuesResult {
		t.Errorf("stray %s record for request %d", typeName(r.h.Type), r.h.ID)
	}
	wg.Wait()
	t.Logf("detach won %d times, the handler %d", won[true], won[false])
	waitFor(t, "requests to end", func() bool { return s.Stats().ActiveRequests == 0 })
}
