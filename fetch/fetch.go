// Package fetch owns the apps' outbound HTTP: script `fetch` (JS) and
// `http.request` (Lua) end in a Fetcher made here, one per app, that
// enforces the app's fetch_allow.
//
// Rules, in the order they are applied to every hop (the first request
// and each redirect):
//   - only http and https;
//   - the URL's host must match an Allow entry: a host name ("api.example.com"),
//     a wildcard ("*.example.com": any subdomain, not example.com itself),
//     an address ("203.0.113.7", "::1", "[::1]"), any of them with ":port"
//     (no port = any port), or "*" (any host name or public address);
//     an empty list allows nothing;
//   - after DNS resolution every address of the host must be public:
//     loopback, private, link-local, unspecified, multicast, CGNAT
//     (100.64/10), reserved and documentation ranges, NAT64/6to4/Teredo and
//     the IPv4-mapped forms of all of these are refused unless that address
//     is itself listed in Allow. A host name in Allow does not allow its
//     private addresses; "localhost" is refused unless 127.0.0.1 (or ::1)
//     is listed too;
//   - the default dialer checks the address it actually connects to once
//     more (net.Dialer.Control), so a DNS answer that changes between the
//     check and the connection (DNS rebinding) gains nothing;
//   - redirects are followed like the web's fetch (303 and POST-to-GET
//     rules of net/http), at most MaxRedirects, each hop checked as above;
//     Authorization, Cookie and Proxy-Authorization are dropped when a hop
//     goes to another host, port or scheme, and no Referer is added;
//   - the whole call, redirects and body included, is bounded by the
//     request's context and by Timeout; the body by MaxBody.
//
// No cookie jar, no proxy from the environment, no credentials are added.
// Each Fetcher has its own http.Transport, so apps share no connection;
// idle connections close after 30 s.
package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// Defaults of Options.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBody      = 8 << 20
	DefaultMaxRedirects = 10
	DefaultUserAgent    = "fcgihost"
)

// Errors a fetch wraps, for callers that branch on them.
var (
	ErrScheme           = errors.New("unsupported scheme")
	ErrHostNotAllowed   = errors.New("host not in fetch_allow")
	ErrAddrNotAllowed   = errors.New("address not allowed")
	ErrTooManyRedirects = errors.New("too many redirects")
	ErrBodyTooLarge     = errors.New("response body too large")
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure one app's Fetcher.
type Options struct {
	// Allow is the app's fetch_allow (see the package doc). Entries that
	// do not parse allow nothing; ValidateAllow reports them.
	Allow []string
	// Timeout caps one fetch, redirects and body included (default 10s);
	// the request's context bounds it too.
	Timeout time.Duration
	// MaxBody is the largest response body in bytes (default 8 MiB); a
	// larger one is an error.
	MaxBody int64
	// MaxRedirects is the most redirects followed (default 10; negative:
	// none).
	MaxRedirects int
	// UserAgent is sent when the script sets none (default "fcgihost").
	UserAgent string
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
	// DialContext, if set, replaces the dialer (tests use it to observe
	// or refuse connections). It is called with "ip:port" only after that
	// address passed every check; the re-check of the default dialer's
	// Control does not apply to it.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is the TLS client config (default: system roots).
	TLSConfig *tls.Config
}

// fetcher is the script.Fetcher of one app.
type fetcher struct {
	allow        allowlist
	timeout      time.Duration
	maxBody      int64
	maxRedirects int
	userAgent    string
	resolver     Resolver
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	client       *http.Client
}

var _ script.Fetcher = (*fetcher)(nil)

// New returns a Fetcher for one app, with its own transport.
func New(o Options) script.Fetcher {
	f := &fetcher{
		allow:        parseAllow(o.Allow),
		timeout:      o.Timeout,
		maxBody:      o.MaxBody,
		maxRedirects: o.MaxRedirects,
		userAgent:    o.UserAgent,
		resolver:     o.Resolver,
		dial:         o.DialContext,
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	if f.maxBody <= 0 {
		f.maxBody = DefaultMaxBody
	}
	switch {
	case f.maxRedirects == 0:
		f.maxRedirects = DefaultMaxRedirects
	case f.maxRedirects < 0:
		f.maxRedirects = 0
	}
	if f.userAgent == "" {
		f.userAgent = DefaultUserAgent
	}
	if f.resolver == nil {
		f.resolver = net.DefaultResolver
	}
	if f.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, Control: f.control}
		f.dial = d.DialContext
	}
	var tlsConf *tls.Config
	if o.TLSConfig != nil {
		tlsConf = o.TLSConfig.Clone()
	}
	f.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // never an environment proxy: it would bypass the checks
			DialContext:            f.dialContext,
			TLSClientConfig:        tlsConf,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           16,
			MaxIdleConnsPerHost:    4,
			IdleConnTimeout:        30 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
			MaxResponseHeaderBytes: 1 << 20,
		},
		CheckRedirect: f.checkRedirect,
	}
	return f
}

// CloseIdleConnections closes the app's idle connections (for a host
// that retires an app version).
func (f *fetcher) CloseIdleConnections() { f.client.CloseIdleConnections() }

// Fetch performs req under the app's allowlist.
func (f *fetcher) Fetch(ctx context.Context, req *script.FetchRequest) (*script.FetchResponse, error) {
	fail := func(err error) error { return fmt.Errorf("fetch %s: %w", req.URL, err) }
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fail(err)
	}
	if err := f.checkURL(u); err != nil {
		return nil, fail(err)
	}
	method := req.Method
	switch m := strings.ToUpper(method); m {
	case "", "GET":
		method = http.MethodGet
	case "DELETE", "HEAD", "OPTIONS", "POST", "PUT": // normalised like the web's fetch
		method = m
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fail(err)
	}
	if req.Headers != nil {
		hreq.Header = req.Headers.Clone()
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", f.userAgent)
	}
	resp, err := f.client.Do(hreq)
	if err != nil {
		return nil, fail(clean(u, err))
	}
	defer resp.Body.Close()
	final := resp.Request.URL.String()
	if resp.ContentLength > f.maxBody {
		return nil, fail(fmt.Errorf("%d bytes, limit %d: %w", resp.ContentLength, f.maxBody, ErrBodyTooLarge))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return nil, fail(fmt.Errorf("read body: %w", err))
	}
	if int64(len(data)) > f.maxBody {
		return nil, fail(fmt.Errorf("more than %d bytes: %w", f.maxBody, ErrBodyTooLarge))
	}
	return &script.FetchResponse{
		Status:  resp.StatusCode,
		URL:     final,
		Headers: resp.Header,
		Body:    data,
	}, nil
}

// clean turns net/http's error into one short cause, naming the hop when
// it was a redirect.
func clean(first *url.URL, err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	inner := ue.Err
	var d *deniedError
	if errors.As(inner, &d) {
		inner = d
	}
	if hop, perr := url.Parse(ue.URL); perr == nil && withoutUser(hop) != withoutUser(first) {
		return fmt.Errorf("redirect to %s: %w", withoutUser(hop), inner)
	}
	return inner
}

func withoutUser(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// deniedError is a refusal by policy, with a message for people.
type deniedError struct {
	msg  string
	kind error
}

func (e *deniedError) Error() string { return e.msg }
func (e *deniedError) Unwrap() error { return e.kind }

// checkURL applies the scheme and host rules to one hop.
func (f *fetcher) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &deniedError{fmt.Sprintf("scheme %q: only http and https", u.Scheme), ErrScheme}
	}
	host, addr, port, err := hostPort(u)
	if err != nil {
		return err
	}
	if addr.IsValid() {
		if reason := special(addr); reason != "" && !f.allow.listsAddr(addr, port) {
			return &deniedError{fmt.Sprintf("address %s is %s and not in fetch_allow", addr, reason), ErrAddrNotAllowed}
		}
	}
	if !f.allow.allowsHost(host, addr, port) {
		if len(f.allow) == 0 {
			return &deniedError{fmt.Sprintf("host %s is not in fetch_allow (empty: no fetch allowed)", host), ErrHostNotAllowed}
		}
		return &deniedError{fmt.Sprintf("host %s port %d is not in fetch_allow", host, port), ErrHostNotAllowed}
	}
	return nil
}

// checkIP applies the address rule to ip:port.
func (f *fetcher) checkIP(ip netip.Addr, port uint16) error {
	ip = canon(ip)
	if reason := special(ip); reason != "" && !f.allow.listsAddr(ip, port) {
		return &deniedError{fmt.Sprintf("address %s is %s and not in fetch_allow", ip, reason), ErrAddrNotAllowed}
	}
	return nil
}

// checkRedirect checks each hop and strips credentials across hosts.
func (f *fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.maxRedirects {
		return &deniedError{fmt.Sprintf("more than %d redirects", f.maxRedirects), ErrTooManyRedirects}
	}
	if err := f.checkURL(req.URL); err != nil {
		return err
	}
	if !strings.EqualFold(req.URL.Host, via[0].URL.Host) || req.URL.Scheme != via[0].URL.Scheme {
		for _, h := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
			req.Header.Del(h)
		}
	}
	if via[0].Header.Get("Referer") == "" {
		// net/http adds the previous URL, which may carry a token in its
		// query, as Referer; the script did not ask for one.
		req.Header.Del("Referer")
	}
	return nil
}

// dialContext resolves addr's host, refuses it if any of its addresses is
// not allowed, and dials the addresses in turn.
func (f *fetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", p)
	}
	port := uint16(n)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = f.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", host)
		}
	}
	for _, ip := range ips {
		if err := f.checkIP(ip, port); err != nil {
			if _, lit := netip.ParseAddr(host); lit != nil { // a name
				return nil, &deniedError{fmt.Sprintf("host %s: %s", host, err), ErrAddrNotAllowed}
			}
			return nil, err
		}
	}
	var lastErr error
	for _, ip := range ips {
		conn, err := f.dial(ctx, network, netip.AddrPortFrom(canon(ip), port).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// control re-checks the address a socket is about to connect to.
func (f *fetcher) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	return f.checkIP(ap.Addr(), ap.Port())
}
