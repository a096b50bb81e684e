package host

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/sandbox"
)

// lateContext is a context whose deadline has passed but which has not
// ended yet: what a request's context looks like to a kv call whose
// connection deadline fired first.
type lateContext struct{ context.Context }

func (lateContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }
func (lateContext) Err() error                  { return nil }

func TestTimedOut(t *testing.T) {
	if !timedOut(lateContext{context.Background()}, errors.New("kv: i/o timeout")) {
		t.Error("deadline passed, context not ended yet: not a timeout")
	}
	if timedOut(lateContext{context.Background()}, fmt.Errorf("JSON.stringify: %w", sandbox.ErrTooLarge)) {
		t.Error("a limit error at the deadline counts as a timeout, not as the limit")
	}
	rc := sandbox.NewContext(context.Background(), time.Hour)
	defer rc.Release()
	if timedOut(rc, nil) {
		t.Error("a running request counts as timed out")
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if timedOut(cctx, nil) {
		t.Error("a cancelled request (client gone) counts as timed out")
	}
	dctx, cancel2 := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel2()
	<-dctx.Done()
	if !timedOut(dctx, nil) {
		t.Error("an expired context is not a timeout")
	}
}
