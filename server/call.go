package server

// This file holds the child's side of a call to an isolated app
// (docs/embedding.md, "The process model"): a FastCGI request carrying the
// secret the serving process gave this child at start is a call, answered
// by host.Host.Call; any other request, whatever its params, is a request.

import (
	"context"
	"crypto/subtle"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/callwire"
)

// callToken is the secret of this process's calls: "" unless it is an
// isolated app's child. It is taken out of the environment before any
// script runs.
var callToken = takeCallToken()

func takeCallToken() string {
	t := os.Getenv(callwire.EnvToken)
	os.Unsetenv(callwire.EnvToken)
	if len(t) < 32 {
		return ""
	}
	return t
}

// isCall reports whether r is a call from the serving process.
func isCall(r *fcgi.Request) bool {
	if callToken == "" {
		return false
	}
	t, ok := r.Params[callwire.ParamToken]
	return ok && subtle.ConstantTimeCompare([]byte(t), []byte(callToken)) == 1
}

// maxCallArgs bounds the arguments of one call.
const maxCallArgs = 256 << 20

// serveCall answers a call: the arguments from the body, the result or
// the error in the answer (package callwire).
func (in *instance) serveCall(w fcgi.ResponseWriter, r *fcgi.Request) {
	ctx := r.Context()
	if ms, err := strconv.ParseInt(r.Params[callwire.ParamTimeout], 10, 64); err == nil && ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	var out any
	body, err := io.ReadAll(io.LimitReader(r.Stdin, maxCallArgs))
	var args any
	if err == nil {
		args, err = callwire.Decode(body)
	}
	if err == nil {
		list, _ := args.([]any)
		out, err = in.host.Call(ctx, r.Params[callwire.ParamApp], r.Params[callwire.ParamFunc], list)
	}
	ans := callwire.AppendResult(nil, out, err)
	io.WriteString(w, "Status: 200\r\nContent-Type: "+callwire.ContentType+"\r\nContent-Length: "+strconv.Itoa(len(ans))+"\r\n\r\n")
	w.Write(ans)
}

// IsIsolatedChild reports whether this process was started as the child
// of an isolated app (it was given the secret of its calls).
func IsIsolatedChild() bool { return callToken != "" }
