package fcgi

// Benchmarks: a hello handler on this server and the same handler on the
// standard library's net/http/fcgi, sequential and over 64 concurrent
// keep-conn connections, driven by a lean raw client (no allocations of its
// own) over a unix socket; and BenchmarkGoHandler, a plain Go handler doing
// what fcgihost does per request (parse the query, build headers, write a
// body), the ceiling the script engines can approach.
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2 ./fcgi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchParams is what nginx's fastcgi_params sends for a simple GET.
var benchParams = []string{
	"QUERY_STRING", "name=world&x=1",
	"REQUEST_METHOD", "GET",
	"CONTENT_TYPE", "",
	"CONTENT_LENGTH", "",
	"SCRIPT_NAME", "/hello",
	"REQUEST_URI", "/hello?name=world&x=1",
	"DOCUMENT_URI", "/hello",
	"DOCUMENT_ROOT", "/var/www/html",
	"SERVER_PROTOCOL", "HTTP/1.1",
	"REQUEST_SCHEME", "http",
	"GATEWAY_INTERFACE", "CGI/1.1",
	"SERVER_SOFTWARE", "nginx/1.22.1",
	"REMOTE_ADDR", "127.0.0.1",
	"REMOTE_PORT", "51234",
	"SERVER_ADDR", "127.0.0.1",
	"SERVER_PORT", "80",
	"SERVER_NAME", "localhost",
	"REDIRECT_STATUS", "200",
	"HTTP_HOST", "localhost",
	"HTTP_USER_AGENT", "wrk",
	"HTTP_ACCEPT", "*/*",
}

const helloBody = "hello world"

// benchDriver is one keep-conn connection sending the same request.
type benchDriver struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
	hb  [8]byte
	out int // stdout bytes of the last response
}

func newBenchDriver(b *testing.B, sock string) *benchDriver {
	c, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	req := begin(1, RoleResponder, true)
	req = append(req, paramsRecs(1, benchParams...)...)
	req = appendHeader(req, typeStdin, 1, 0)
	return &benchDriver{c: c, br: bufio.NewReaderSize(c, 64<<10), req: req}
}

// do sends the request and reads up to its FCGI_END_REQUEST.
func (d *benchDriver) do() error {
	if _, err := d.c.Write(d.req); err != nil {
		return err
	}
	d.out = 0
	for {
		if _, err := io.ReadFull(d.br, d.hb[:]); err != nil {
			return err
		}
		h := parseHeader(d.hb[:])
		if _, err := d.br.Discard(int(h.ContentLength) + int(h.PaddingLength)); err != nil {
			return err
		}
		switch h.Type {
		case typeStdout:
			d.out += int(h.ContentLength)
		case typeEndRequest:
			return nil
		}
	}
}

// check makes one request and verifies the answer ends with helloBody.
func (d *benchDriver) check(b *testing.B) {
	if _, err := d.c.Write(d.req); err != nil {
		b.Fatal(err)
	}
	var stdout []byte
	for {
		if _, err := io.ReadFull(d.br, d.hb[:]); err != nil {
			b.Fatal(err)
		}
		h := parseHeader(d.hb[:])
		buf := make([]byte, int(h.ContentLength)+int(h.PaddingLength))
		if _, err := io.ReadFull(d.br, buf); err != nil {
			b.Fatal(err)
		}
		if h.Type == typeStdout {
			stdout = append(stdout, buf[:h.ContentLength]...)
		}
		if h.Type == typeEndRequest {
			break
		}
	}
	if len(stdout) < len(helloBody) || string(stdout[len(stdout)-len(helloBody):]) != helloBody {
		b.Fatalf("unexpected answer %q", stdout)
	}
}

// runBench drives conns connections against the server on sock.
func runBench(b *testing.B, sock string, conns int) {
	drivers := make([]*benchDriver, conns)
	for i := range drivers {
		drivers[i] = newBenchDriver(b, sock)
		drivers[i].check(b)
		defer drivers[i].c.Close()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	for _, d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := d.do(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func benchSock(b *testing.B) (string, net.Listener) {
	sock := filepath.Join(b.TempDir(), "b.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	return sock, l
}

// serveOurs serves h on a fresh socket until the benchmark ends.
func serveOurs(b *testing.B, h Handler) string {
	sock, l := benchSock(b)
	s := &Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return sock
}

func serveStdlib(b *testing.B, h http.Handler) string {
	sock, l := benchSock(b)
	done := make(chan struct{})
	go func() { stdfcgi.Serve(l, h); close(done) }()
	b.Cleanup(func() { l.Close(); <-done })
	return sock
}

var helloOurs = HandlerFunc(func(w ResponseWriter, r *Request) {
	io.WriteString(w, "Content-Type: text/plain\r\n\r\n"+helloBody)
})

var helloStdlib = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, helloBody)
})

func BenchmarkHello(b *testing.B) {
	for _, conns := range []int{1, 64} {
		b.Run(fmt.Sprintf("server=fcgihost/conns=%d", conns), func(b *testing.B) {
			runBench(b, serveOurs(b, helloOurs), conns)
		})
		b.Run(fmt.Sprintf("server=stdlib/conns=%d", conns), func(b *testing.B) {
			runBench(b, serveStdlib(b, helloStdlib), conns)
		})
	}
}

// goHandler does in Go what fcgihost does for a script per request.
var goHandler = HandlerFunc(func(w ResponseWriter, r *Request) {
	q, _ := url.ParseQuery(r.Params["QUERY_STRING"])
	name := q.Get("name")
	if name == "" {
		name = "world"
	}
	if r.Params["REQUEST_METHOD"] == "POST" {
		io.Copy(io.Discard, r.Stdin)
	}
	body := "hello " + name
	h := make(http.Header, 2)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	bw := bufio.NewWriterSize(w, 512)
	io.WriteString(bw, "Status: 200 OK\r\n")
	h.Write(bw)
	io.WriteString(bw, "\r\n"+body)
	bw.Flush()
})

func BenchmarkGoHandler(b *testing.B) {
	for _, conns := range []int{1, 64} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			runBench(b, serveOurs(b, goHandler), conns)
		})
	}
}

// BenchmarkClient measures this package's Client (what fcgihost bench
// uses) against this server.
func BenchmarkClient(b *testing.B) {
	sock := serveOurs(b, helloOurs)
	params := map[string]string{}
	for i := 0; i+1 < len(benchParams); i += 2 {
		params[benchParams[i]] = benchParams[i+1]
	}
	for _, conns := range []int{1, 64} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			c := &Client{Addr: "unix:" + sock, KeepConn: true, MaxIdle: conns}
			defer c.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for g := 0; g < conns; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						resp, err := c.Do(context.Background(), &ClientRequest{Params: params})
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := resp.ReadAll(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
