package host

import (
	"context"
	"io"
)

// ServeSCGI answers one SCGI request (package scgi): the CGI response
// goes to w. SCGI has no error channel to the web server: script errors
// reach fcgihost's log only (docs/deploy/README.md).
func ServeSCGI(serve func(context.Context, *Exchange), ctx context.Context, params map[string]string, body io.Reader, w io.Writer) {
	serveGateway(serve, ctx, params, body, &CGISink{w: w})
}

// ServeUWSGI answers one uwsgi request (package uwsgi): an HTTP/1.1
// status line, the headers and the body go to w. Like SCGI, uwsgi has no
// error channel to the web server.
func ServeUWSGI(serve func(context.Context, *Exchange), ctx context.Context, params map[string]string, body io.Reader, w io.Writer) {
	serveGateway(serve, ctx, params, body, &CGISink{w: w, http: true})
}

func serveGateway(serve func(context.Context, *Exchange), ctx context.Context, params map[string]string, body io.Reader, sink *CGISink) {
	x := &Exchange{Params: params, Body: body, Sink: sink, Role: "RESPONDER"}
	serve(ctx, x)
	sink.Close()
}
