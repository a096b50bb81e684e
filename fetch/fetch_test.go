package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/script"
)

// dialLog records every dial and connects only to loopback: a test never
// sends a packet anywhere else, even if the code under test were wrong.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("test dialer: refusing to connect to %s", addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *dialLog) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// fakeResolver answers from a map; other names do not exist.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ss, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

// echo is what the echo server saw.
type echo struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Served-By", "echo")
		json.NewEncoder(w).Encode(echo{r.Method, r.URL.RequestURI(), r.Header, string(body)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func portOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func newFetcher(o Options) (script.Fetcher, *dialLog) {
	d := &dialLog{}
	o.DialContext = d.dial
	return New(o), d
}

func TestFetch_PassesThrough(t *testing.T) {
	srv := echoServer(t)
	f, _ := newFetcher(Options{Allow: []string{"127.0.0.1"}})
	cases := []struct {
		name       string
		req        script.FetchRequest
		wantMethod string
		wantUA     string
	}{
		{"get", script.FetchRequest{URL: srv.URL + "/a?b=c"}, "GET", "fcgihost"},
		{"post", script.FetchRequest{URL: srv.URL + "/p", Method: "post", Body: []byte("payload\x00bytes"),
			Headers: http.Header{"X-Token": {"t1"}, "Content-Type": {"text/plain"}}}, "POST", "fcgihost"},
		{"put with ua", script.FetchRequest{URL: srv.URL + "/u", Method: "PUT", Body: []byte("x"),
			Headers: http.Header{"User-Agent": {"mine/1"}}}, "PUT", "mine/1"},
		{"custom method", script.FetchRequest{URL: srv.URL + "/c", Method: "PROPFIND"}, "PROPFIND", "fcgihost"},
		{"delete", script.FetchRequest{URL: srv.URL + "/d", Method: "delete"}, "DELETE", "fcgihost"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := f.Fetch(context.Background(), &c.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || resp.Headers.Get("X-Served-By") != "echo" {
				t.Fatalf("status %d, headers %v", resp.Status, resp.Headers)
			}
			if resp.URL != c.req.URL {
				t.Errorf("final URL %q, want %q", resp.URL, c.req.URL)
			}
			var got echo
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			u, _ := url.Parse(c.req.URL)
			if got.Method != c.wantMethod || got.Path != u.RequestURI() || got.Body != string(c.req.Body) {
				t.Errorf("server saw %s %s body %q; want %s %s body %q",
					got.Method, got.Path, got.Body, c.wantMethod, u.RequestURI(), c.req.Body)
			}
			if ua := got.Header.Get("User-Agent"); ua != c.wantUA {
				t.Errorf("User-Agent %q, want %q", ua, c.wantUA)
			}
			for name, vals := range c.req.Headers {
				if got.Header.Get(name) != vals[0] {
					t.Errorf("header %s = %q, want %q", name, got.Header.Get(name), vals[0])
				}
			}
		})
	}
}

func TestFetch_Refused(t *testing.T) {
	srv := echoServer(t)
	port := portOf(t, srv)
	res := fakeResolver{
		"rebind.test":  {"127.0.0.1"},
		"meta.test":    {"169.254.169.254"},
		"mixed.test":   {"93.184.216.34", "10.0.0.1"},
		"mapped.test":  {"::ffff:127.0.0.1"},
		"private.test": {"192.168.1.10"},
		"localhost":    {"127.0.0.1", "::1"},
	}
	cases := []struct {
		name  string
		allow []string
		url   string
		want  error
	}{
		{"empty allowlist", nil, "http://example.com/", ErrHostNotAllowed},
		{"empty allowlist, address", nil, srv.URL, ErrAddrNotAllowed},
		{"not listed", []string{"example.com"}, srv.URL, ErrAddrNotAllowed},
		{"localhost not listed", []string{"127.0.0.1"}, "http://localhost:" + port + "/", ErrHostNotAllowed},
		{"localhost listed by name only", []string{"localhost"}, "http://localhost:" + port + "/", ErrAddrNotAllowed},
		{"other port", []string{"127.0.0.1:1"}, srv.URL, ErrAddrNotAllowed},
		{"name resolving to loopback", []string{"rebind.test"}, "http://rebind.test:" + port + "/", ErrAddrNotAllowed},
		{"name resolving to mapped loopback", []string{"*"}, "http://mapped.test:" + port + "/", ErrAddrNotAllowed},
		{"name resolving to metadata", []string{"*.test"}, "http://meta.test/", ErrAddrNotAllowed},
		{"one private address among public", []string{"mixed.test"}, "http://mixed.test/", ErrAddrNotAllowed},
		{"name resolving to private", []string{"*"}, "http://private.test/", ErrAddrNotAllowed},
		{"metadata", []string{"*"}, "http://169.254.169.254/latest/meta-data/", ErrAddrNotAllowed},
		{"10.x", []string{"*"}, "http://10.1.2.3/", ErrAddrNotAllowed},
		{"172.16.x", []string{"*"}, "http://172.16.0.1/", ErrAddrNotAllowed},
		{"192.168.x", []string{"*"}, "http://192.168.0.1/", ErrAddrNotAllowed},
		{"cgnat", []string{"*"}, "http://100.64.0.1/", ErrAddrNotAllowed},
		{"ipv6 loopback", []string{"*"}, "http://[::1]:" + port + "/", ErrAddrNotAllowed},
		{"unspecified v4", []string{"*"}, "http://0.0.0.0:" + port + "/", ErrAddrNotAllowed},
		{"unspecified v6", []string{"*"}, "http://[::]:" + port + "/", ErrAddrNotAllowed},
		{"mapped loopback", []string{"*"}, "http://[::ffff:127.0.0.1]:" + port + "/", ErrAddrNotAllowed},
		{"mapped loopback hex", []string{"*"}, "http://[::ffff:7f00:1]:" + port + "/", ErrAddrNotAllowed},
		{"mapped private", []string{"*"}, "http://[::ffff:10.0.0.1]/", ErrAddrNotAllowed},
		{"ipv4-compatible", []string{"*"}, "http://[::127.0.0.1]/", ErrAddrNotAllowed},
		{"nat64 of loopback", []string{"*"}, "http://[64:ff9b::7f00:1]/", ErrAddrNotAllowed},
		{"6to4 of private", []string{"*"}, "http://[2002:a00:1::]/", ErrAddrNotAllowed},
		{"link-local v6", []string{"*"}, "http://[fe80::1]/", ErrAddrNotAllowed},
		{"link-local v6 zone", []string{"*"}, "http://[fe80::1%25eth0]/", ErrAddrNotAllowed},
		{"ula", []string{"*"}, "http://[fd00::1]/", ErrAddrNotAllowed},
		{"multicast", []string{"*"}, "http://224.0.0.1/", ErrAddrNotAllowed},
		{"broadcast", []string{"*"}, "http://255.255.255.255/", ErrAddrNotAllowed},
		{"loopback listed by name", []string{"127.0.0.1.nip.io"}, "http://127.0.0.1:" + port + "/", ErrAddrNotAllowed},
		{"short form loopback", []string{"*"}, "http://127.1:" + port + "/", nil},
		{"decimal loopback", []string{"*"}, "http://2130706433:" + port + "/", nil},
		{"file", []string{"*"}, "file:///etc/passwd", ErrScheme},
		{"ftp", []string{"*"}, "ftp://127.0.0.1/", ErrScheme},
		{"gopher", []string{"*"}, "gopher://127.0.0.1:6379/_INFO", ErrScheme},
		{"no host", []string{"*"}, "http:///x", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, dials := newFetcher(Options{Allow: c.allow, Resolver: res})
			_, err := f.Fetch(context.Background(), &script.FetchRequest{URL: c.url})
			if err == nil {
				t.Fatalf("fetch %s with allow %q succeeded", c.url, c.allow)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "fetch ") {
				t.Errorf("error %q does not start with \"fetch \"", err)
			}
			if d := dials.dialed(); len(d) > 0 {
				t.Errorf("connection attempted to %q", d)
			}
		})
	}
}

func TestFetch_SystemResolverLocalhost(t *testing.T) {
	// "localhost" through the real resolver: whatever it resolves to is
	// loopback, so it is refused though the name is listed.
	srv := echoServer(t)
	f, dials := newFetcher(Options{Allow: []string{"localhost"}})
	_, err := f.Fetch(context.Background(), &script.FetchRequest{URL: "http://localhost:" + portOf(t, srv) + "/"})
	if !errors.Is(err, ErrAddrNotAllowed) {
		t.Fatalf("err = %v, want ErrAddrNotAllowed", err)
	}
	if want := "is loopback and not in fetch_allow"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if d := dials.dialed(); len(d) > 0 {
		t.Errorf("connection attempted to %q", d)
	}
}

func TestFetch_ListedByAddress(t *testing.T) {
	srv := echoServer(t)
	port := portOf(t, srv)
	res := fakeResolver{"svc.internal": {"127.0.0.1"}, "db.internal": {"10.9.8.7"}}
	cases := []struct {
		name   string
		allow  []string
		url    string
		dialed string // the address the dialer must be asked for
		ok     bool   // the dial reaches the test server
	}{
		{"loopback address", []string{"127.0.0.1"}, srv.URL, "127.0.0.1:" + port, true},
		{"loopback address and port", []string{"127.0.0.1:" + port}, srv.URL, "127.0.0.1:" + port, true},
		{"name plus its address", []string{"svc.internal", "127.0.0.1"}, "http://svc.internal:" + port + "/", "127.0.0.1:" + port, true},
		{"mapped form of a listed address", []string{"127.0.0.1"}, "http://[::ffff:127.0.0.1]:" + port + "/", "127.0.0.1:" + port, true},
		// Private and listed: allowed by policy; the test dialer refuses
		// to connect anywhere but loopback, and records the attempt.
		{"private address", []string{"10.1.2.3"}, "http://10.1.2.3/", "10.1.2.3:80", false},
		{"private name plus address", []string{"db.internal", "10.9.8.7:8080"}, "http://db.internal:8080/", "10.9.8.7:8080", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, dials := newFetcher(Options{Allow: c.allow, Resolver: res})
			resp, err := f.Fetch(context.Background(), &script.FetchRequest{URL: c.url})
			if c.ok && (err != nil || resp.Status != 200) {
				t.Fatalf("fetch: %v", err)
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), "test dialer")) {
				t.Fatalf("fetch: err = %v, want the test dialer's refusal", err)
			}
			if d := dials.dialed(); len(d) != 1 || d[0] != c.dialed {
				t.Errorf("dialed %q, want [%s]", d, c.dialed)
			}
		})
	}
}

func TestFetch_Redirects(t *testing.T) {
	var hitB sync.Mutex
	var bHeaders []http.Header
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hitB.Lock()
		bHeaders = append(bHeaders, r.Header.Clone())
		hitB.Unlock()
		fmt.Fprint(w, "B")
	}))
	t.Cleanup(b.Close)
	bPort := portOf(t, b)
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			fmt.Fprintf(w, "A %s %s", r.Header.Get("Authorization"), r.Header.Get("Cookie"))
		default:
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		}
	}))
	t.Cleanup(a.Close)
	aPort := portOf(t, a)
	res := fakeResolver{"b.test": {"127.0.0.1"}, "meta.test": {"169.254.169.254"}, "localhost": {"127.0.0.1"}}
	to := func(target string) string { return a.URL + "/r?to=" + url.QueryEscape(target) }

	refused := []struct {
		name  string
		allow []string
		url   string
		want  error
	}{
		{"to a port not listed", []string{"127.0.0.1:" + aPort}, to(b.URL), ErrAddrNotAllowed},
		{"to a host not listed", []string{"127.0.0.1:" + aPort}, to("http://b.test:" + bPort + "/"), ErrHostNotAllowed},
		{"to a name resolving to loopback", []string{"127.0.0.1:" + aPort, "b.test"}, to("http://b.test:" + bPort + "/"), ErrAddrNotAllowed},
		{"to localhost", []string{"127.0.0.1:" + aPort, "localhost"}, to("http://localhost:" + bPort + "/"), ErrAddrNotAllowed},
		{"to metadata", []string{"127.0.0.1:" + aPort, "*"}, to("http://169.254.169.254/latest/"), ErrAddrNotAllowed},
		{"to a name resolving to metadata", []string{"127.0.0.1:" + aPort, "*"}, to("http://meta.test/"), ErrAddrNotAllowed},
		{"to file", []string{"127.0.0.1"}, to("file:///etc/passwd"), ErrScheme},
		{"loop", []string{"127.0.0.1"}, a.URL + "/loop", ErrTooManyRedirects},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			f, dials := newFetcher(Options{Allow: c.allow, Resolver: res, MaxRedirects: 3})
			_, err := f.Fetch(context.Background(), &script.FetchRequest{URL: c.url})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.name != "loop" && !strings.Contains(err.Error(), "redirect to ") {
				t.Errorf("error %q does not name the redirect", err)
			}
			for _, d := range dials.dialed() {
				if d != "127.0.0.1:"+aPort {
					t.Errorf("connection attempted to %s", d)
				}
			}
		})
	}
	hitB.Lock()
	if len(bHeaders) != 0 {
		t.Errorf("server B got %d requests through refused redirects", len(bHeaders))
	}
	hitB.Unlock()

	t.Run("credentials", func(t *testing.T) {
		f, _ := newFetcher(Options{Allow: []string{"127.0.0.1", "b.test"}, Resolver: res})
		hdr := http.Header{"Authorization": {"Bearer secret"}, "Cookie": {"sid=1"}, "X-Other": {"kept"}}
		resp, err := f.Fetch(context.Background(), &script.FetchRequest{URL: a.URL + "/same", Headers: hdr})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(resp.Body), "A Bearer secret sid=1"; got != want {
			t.Errorf("same-host redirect: body %q, want %q", got, want)
		}
		if resp.URL != a.URL+"/final" {
			t.Errorf("final URL %q", resp.URL)
		}
		for _, target := range []string{"http://b.test:" + bPort + "/x", b.URL + "/other-port"} {
			resp, err = f.Fetch(context.Background(), &script.FetchRequest{URL: to(target), Headers: hdr})
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != "B" || resp.URL != target {
				t.Fatalf("cross-host redirect: %q from %s", resp.Body, resp.URL)
			}
			hitB.Lock()
			last := bHeaders[len(bHeaders)-1]
			hitB.Unlock()
			if last.Get("Authorization") != "" || last.Get("Cookie") != "" || last.Get("Referer") != "" {
				t.Errorf("redirect to %s: credentials crossed hosts: %v", target, last)
			}
			if last.Get("X-Other") != "kept" {
				t.Errorf("redirect to %s: other headers dropped: %v", target, last)
			}
		}
	})
}

func TestFetch_NoCookieJar(t *testing.T) {
	var mu sync.Mutex
	var cookies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cookies = append(cookies, r.Header.Get("Cookie"))
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cret", Path: "/"})
	}))
	t.Cleanup(srv.Close)
	appA, _ := newFetcher(Options{Allow: []string{"127.0.0.1"}})
	appB, _ := newFetcher(Options{Allow: []string{"127.0.0.1"}})
	for _, f := range []script.Fetcher{appA, appA, appB} {
		resp, err := f.Fetch(context.Background(), &script.FetchRequest{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Headers.Get("Set-Cookie") == "" {
			t.Fatal("the script does not see Set-Cookie")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range cookies {
		if c != "" {
			t.Errorf("request %d sent Cookie %q", i, c)
		}
	}
}

func TestFetch_MaxBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 100
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		if r.URL.Query().Get("chunked") != "" {
			w.Write([]byte(strings.Repeat("x", n/2)))
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("x", n-n/2)))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Write([]byte(strings.Repeat("x", n)))
	}))
	t.Cleanup(srv.Close)
	f, _ := newFetcher(Options{Allow: []string{"127.0.0.1"}, MaxBody: 1000})
	cases := []struct {
		query string
		ok    bool
	}{
		{"n=1000", true}, {"n=1001", false}, {"n=1000&chunked=1", true}, {"n=5000&chunked=1", false}, {"n=0", true},
	}
	for _, c := range cases {
		resp, err := f.Fetch(context.Background(), &script.FetchRequest{URL: srv.URL + "/?" + c.query})
		if c.ok {
			if err != nil || resp == nil {
				t.Errorf("%s: %v", c.query, err)
			} else if n := fmt.Sprint(len(resp.Body)); !strings.Contains(c.query, "n="+n) {
				t.Errorf("%s: body of %s bytes", c.query, n)
			}
		} else if !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("%s: err = %v, want ErrBodyTooLarge", c.query, err)
		}
	}
}

func TestFetch_Timeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cases := []struct {
		name    string
		timeout time.Duration // Options.Timeout
		ctx     time.Duration // request context deadline, 0 = none
		path    string
	}{
		{"request context", time.Hour, 100 * time.Millisecond, "/"},
		{"options timeout", 100 * time.Millisecond, 0, "/"},
		{"while reading the body", time.Hour, 100 * time.Millisecond, "/body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := newFetcher(Options{Allow: []string{"127.0.0.1"}, Timeout: c.timeout})
			ctx := context.Background()
			if c.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.ctx)
				defer cancel()
			}
			_, err := f.Fetch(ctx, &script.FetchRequest{URL: srv.URL + c.path})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want DeadlineExceeded", err)
			}
		})
	}
	t.Run("aborted", func(t *testing.T) {
		f, _ := newFetcher(Options{Allow: []string{"127.0.0.1"}})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := f.Fetch(ctx, &script.FetchRequest{URL: srv.URL})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
	})
}

func TestControl_RechecksConnectedAddress(t *testing.T) {
	// What the default dialer's Control sees is the address the socket is
	// about to connect to: a DNS answer that changed after the check (DNS
	// rebinding) is caught here.
	f := New(Options{Allow: []string{"*", "10.0.0.5:8080"}}).(*fetcher)
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", false}, {"[::1]:80", false}, {"[::ffff:127.0.0.1]:80", false},
		{"169.254.169.254:80", false}, {"10.0.0.5:8080", true}, {"10.0.0.5:8081", false},
		{"[fe80::1%eth0]:80", false}, {"93.184.216.34:443", true}, {"[2606:4700::1]:443", true},
	}
	for _, c := range cases {
		err := f.control("tcp", c.addr, nil)
		if (err == nil) != c.ok {
			t.Errorf("control(%s) = %v, want ok=%v", c.addr, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrAddrNotAllowed) {
			t.Errorf("control(%s) = %v, want ErrAddrNotAllowed", c.addr, err)
		}
	}
}

func TestFetch_DefaultDialerRefusesLoopback(t *testing.T) {
	// The real dialer path, with its Control re-check, against a server on
	// loopback that the allowlist does not list by address.
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	// A resolver that lies: the first answer is checked, the dial gets
	// what the transport was given. Here both are loopback; the point is
	// that nothing reaches the server.
	f := New(Options{Allow: []string{"rebind.test"}, Resolver: fakeResolver{"rebind.test": {"127.0.0.1"}}})
	_, err := f.Fetch(context.Background(), &script.FetchRequest{URL: "http://rebind.test:" + portOf(t, srv) + "/"})
	if !errors.Is(err, ErrAddrNotAllowed) {
		t.Fatalf("err = %v", err)
	}
	// Allowed by address: the real dialer connects.
	f = New(Options{Allow: []string{"127.0.0.1"}})
	if _, err := f.Fetch(context.Background(), &script.FetchRequest{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Errorf("server got %d requests, want 1", hits)
	}
}

func TestFetch_ErrorMessage(t *testing.T) {
	f, _ := newFetcher(Options{Allow: []string{"*"}})
	_, err := f.Fetch(context.Background(), &script.FetchRequest{URL: "http://10.0.0.1/"})
	if want := "fetch http://10.0.0.1/: address 10.0.0.1 is private and not in fetch_allow"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	f, _ = newFetcher(Options{})
	_, err = f.Fetch(context.Background(), &script.FetchRequest{URL: "https://api.example.com/v1"})
	if want := "fetch https://api.example.com/v1: host api.example.com is not in fetch_allow (empty: no fetch allowed)"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
