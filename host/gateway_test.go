package host

import (
	"bytes"
	"context"
	"net/http"
	"testing"
)

func TestGatewayHeads(t *testing.T) {
	serve := func(ctx context.Context, x *Exchange) {
		x.Sink.WriteHeader(404, http.Header{"X-A": {"b"}})
		x.Sink.Write([]byte("gone"))
	}
	var s, u bytes.Buffer
	ServeSCGI(serve, context.Background(), map[string]string{}, nil, &s)
	ServeUWSGI(serve, context.Background(), map[string]string{}, nil, &u)
	if want := "Status: 404 Not Found\r\nX-A: b\r\n\r\ngone"; s.String() != want {
		t.Errorf("SCGI answer %q, want %q", s.String(), want)
	}
	if want := "HTTP/1.1 404 Not Found\r\nX-A: b\r\n\r\ngone"; u.String() != want {
		t.Errorf("uwsgi answer %q, want %q", u.String(), want)
	}
	// A head with no body still leaves.
	u.Reset()
	ServeUWSGI(func(ctx context.Context, x *Exchange) { x.Sink.WriteHeader(204, nil) }, context.Background(), map[string]string{}, nil, &u)
	if want := "HTTP/1.1 204 No Content\r\n\r\n"; u.String() != want {
		t.Errorf("uwsgi empty answer %q, want %q", u.String(), want)
	}
}
