package callwire

// The call itself: FastCGI params naming it, the arguments as the body, and
// the answer — 'v' and the result's encoding, or 'e' and an ErrorInfo in
// JSON.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

// The params of a call request. ParamToken carries the child's secret
// (given to it at start in the environment variable EnvToken); a child
// treats a request as a call only when it matches, and the serving process
// removes ParamToken from every request it forwards, so a web request
// can never be one.
const (
	ParamToken   = "FCGIHOST_CALL"
	ParamApp     = "FCGIHOST_CALL_APP"
	ParamFunc    = "FCGIHOST_CALL_FUNC"
	ParamTimeout = "FCGIHOST_CALL_TIMEOUT_MS" // what is left of the caller's deadline, if any
	EnvToken     = "FCGIHOST_CALL_TOKEN"
	ContentType  = "application/x-fcgihost-call"
)

// ErrorInfo is an error crossing back from the child.
type ErrorInfo struct {
	// Kind names the error the child's call returned: "script" (a
	// *script.ScriptError), "nofunc", "value", "notcallable", "noapp",
	// "queuefull", "queuetimeout", "memory", "toolarge", "deadline",
	// "canceled" or "other".
	Kind    string `json:"kind"`
	Msg     string `json:"msg"`
	App     string `json:"app,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Stack   string `json:"stack,omitempty"`
	Timeout bool   `json:"timeout,omitempty"`
	// Is names the sentinel a "script" error's cause wraps (a Kind
	// above), if any.
	Is string `json:"is,omitempty"`
}

// Sentinels the parent needs to recognise, set by the host package
// (which the callwire package cannot import).
var (
	ErrNoApp       error = errors.New("no such app")
	ErrNotCallable error = errors.New("app exports no functions")
)

var kinds = []struct {
	kind string
	err  *error
}{
	{"nofunc", &script.ErrNoFunction},
	{"value", &script.ErrValue},
	{"notcallable", &ErrNotCallable},
	{"noapp", &ErrNoApp},
	{"queuefull", &pool.ErrQueueFull},
	{"queuetimeout", &pool.ErrQueueTimeout},
	{"memory", &sandbox.ErrMemoryLimit},
	{"toolarge", &sandbox.ErrTooLarge},
	{"deadline", ptr(context.DeadlineExceeded)},
	{"canceled", ptr(context.Canceled)},
}

func ptr(e error) *error { return &e }

// AppendResult appends the answer of a call: its result, or its error.
func AppendResult(b []byte, v any, err error) []byte {
	if err == nil {
		b = append(b, 'v')
		out, eerr := Append(b, v)
		if eerr == nil {
			return out
		}
		b, err = b[:len(b)-1], fmt.Errorf("the result: %w: %v", script.ErrValue, eerr)
	}
	info := ErrorInfo{Kind: "other", Msg: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, *k.err) {
			info.Kind = k.kind
			break
		}
	}
	var se *script.ScriptError
	if errors.As(err, &se) {
		is := info.Kind
		info = ErrorInfo{Kind: "script", App: se.App, File: se.File, Line: se.Line, Col: se.Col, Stack: se.Stack, Timeout: se.Timeout()}
		if is != "other" && is != "deadline" {
			info.Is = is
		}
		if se.Err != nil {
			info.Msg = se.Err.Error()
		}
	}
	j, _ := json.Marshal(info)
	return append(append(b, 'e'), j...)
}

// DecodeResult reads an answer written by AppendResult: the result, or an
// error of the same types as the child's (a *script.ScriptError, or an
// error wrapping the same sentinel with the same message).
func DecodeResult(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: an empty answer", ErrEncoding)
	}
	switch data[0] {
	case 'v':
		return Decode(data[1:])
	case 'e':
		var info ErrorInfo
		if err := json.Unmarshal(data[1:], &info); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
		}
		return nil, info.Err()
	}
	return nil, fmt.Errorf("%w: an answer starting with %q", ErrEncoding, data[0])
}

// Err rebuilds the error.
func (info ErrorInfo) Err() error {
	if info.Kind == "script" {
		var cause error = errors.New(info.Msg)
		if info.Timeout {
			cause = &remote{msg: info.Msg, is: context.DeadlineExceeded}
		} else if info.Is != "" {
			cause = ErrorInfo{Kind: info.Is, Msg: info.Msg}.Err()
		}
		return &script.ScriptError{App: info.App, File: info.File, Line: info.Line, Col: info.Col, Stack: info.Stack, Err: cause}
	}
	for _, k := range kinds {
		if k.kind == info.Kind {
			return &remote{msg: info.Msg, is: *k.err}
		}
	}
	return errors.New(info.Msg)
}

// remote is an error of the child: its message, and the sentinel it
// wrapped.
type remote struct {
	msg string
	is  error
}

func (e *remote) Error() string { return e.msg }
func (e *remote) Unwrap() error { return e.is }
