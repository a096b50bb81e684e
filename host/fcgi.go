package host

import (
	"strconv"
	"sync"

	"github.com/fcgihost/fcgihost/fcgi"
)

// ServeFCGI makes Host an fcgi.Handler: the CGI response goes to FCGI_STDOUT,
// script errors also to FCGI_STDERR (the web server's error log). The role
// is passed to the script as the FCGI_ROLE param ("RESPONDER" or
// "AUTHORIZER"), as PHP does.
func (h *Host) ServeFCGI(w fcgi.ResponseWriter, r *fcgi.Request) {
	Serve(h, w, r)
}

// Serve adapts one FastCGI request to h.Serve.
func Serve(h *Host, w fcgi.ResponseWriter, r *fcgi.Request) {
	fx := newFCGIExchange(w, r)
	h.Serve(r.Context(), &fx.Exchange)
	fx.sink.Close()
	*fx = fcgiExchange{}
	exchangePool.Put(fx)
}

var exchangePool = sync.Pool{New: func() any { return new(fcgiExchange) }}

// newFCGIExchange builds the Exchange of a FastCGI request and its CGI
// sink, from a pool: Serve returns them once the request is over.
func newFCGIExchange(w fcgi.ResponseWriter, r *fcgi.Request) *fcgiExchange {
	role := "RESPONDER"
	if r.Role == fcgi.RoleAuthorizer {
		role = "AUTHORIZER"
	}
	if _, ok := r.Params["FCGI_ROLE"]; !ok {
		r.Params["FCGI_ROLE"] = role
	}
	fx := exchangePool.Get().(*fcgiExchange)
	fx.sink.w = w
	fx.Exchange = Exchange{Params: r.Params, Body: r.Stdin, Sink: &fx.sink, Stderr: w.Stderr(), Role: role}
	if d, ok := w.(fcgi.Detacher); ok {
		fx.det = d
		fx.Exchange.Detacher = fx
	}
	return fx
}

// fcgiExchange is an Exchange and its sink in one object.
type fcgiExchange struct {
	Exchange
	sink CGISink
	det  fcgi.Detacher
}

// Detach answers the request now through fcgi.Detacher (a stuck script:
// see Host.OnStuck).
func (fx *fcgiExchange) Detach(status int, body string) bool {
	var out []byte
	if status != 0 {
		var s CGISink
		b := s.startHead(status)
		b = appendHeader(b, "Content-Type", "text/plain; charset=utf-8")
		b = appendHeader(b, "Content-Length", strconv.Itoa(len(body)))
		out = append(append(b, "\r\n"...), body...)
	}
	return fx.det.Detach(out)
}
