package fcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary double as a FastCGI application started
// with a socket on fd 0 or from systemd (FCGI_TEST_HELPER).
func TestMain(m *testing.M) {
	switch os.Getenv("FCGI_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "inherited-check":
		l, err := InheritedListener()
		switch {
		case err != nil:
			fmt.Println("error:", err)
		case l == nil:
			fmt.Println("none")
		default:
			fmt.Println("listener", l.Addr().Network())
		}
		os.Exit(0)
	case "inherited":
		l, err := InheritedListener()
		if err != nil || l == nil {
			fmt.Fprintln(os.Stderr, "no inherited listener:", err)
			os.Exit(3)
		}
		helperServe([]net.Listener{l}, "inherited")
	case "systemd":
		if os.Getenv("FCGI_TEST_SET_PID") != "" {
			os.Setenv("LISTEN_PID", fmt.Sprint(os.Getpid()))
		}
		ls, err := SystemdListeners()
		if err != nil || len(ls) == 0 {
			fmt.Fprintln(os.Stderr, "no systemd listeners:", err)
			os.Exit(3)
		}
		helperServe(ls, fmt.Sprintf("systemd fds=%d env=%q", len(ls), os.Getenv("LISTEN_FDS")+os.Getenv("LISTEN_PID")))
	}
	os.Exit(2)
}

func helperServe(ls []net.Listener, answer string) {
	s := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		io.WriteString(w, "Content-Type: text/plain\r\n\r\n"+answer)
	})}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- s.Serve(l) }()
	}
	fmt.Fprintln(os.Stderr, <-errc)
	os.Exit(1)
}

// helperCmd starts the test binary in a helper mode and stops it at the
// end of the test.
func helperCmd(t *testing.T, mode string, stdin *os.File, extra []*os.File, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "FCGI_TEST_HELPER="+mode)...)
	cmd.Stdin = stdin
	cmd.ExtraFiles = extra
	cmd.Stderr = os.Stderr
	return cmd
}

func startHelper(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// get asks addr for one response body with a fresh client.
func get(t *testing.T, addr string) string {
	t.Helper()
	c := &Client{Addr: addr}
	defer c.Close()
	resp, err := c.Do(context.Background(), &ClientRequest{Params: map[string]string{"REQUEST_METHOD": "GET"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := resp.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func listenerFile(t *testing.T, l net.Listener) *os.File {
	t.Helper()
	var f *os.File
	var err error
	switch l := l.(type) {
	case *net.UnixListener:
		f, err = l.File()
		l.SetUnlinkOnClose(false) // the child owns the socket now
	case *net.TCPListener:
		f, err = l.File()
	}
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	t.Cleanup(func() { f.Close() })
	return f
}

func TestInheritedListener(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = "unix:" + filepath.Join(shortTempDir(t), "fd0.sock")
			}
			l, err := Listen(addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			if network == "unix" {
				addr = "unix:" + l.Addr().String()
			} else {
				addr = l.Addr().String()
			}
			f := listenerFile(t, l)
			startHelper(t, helperCmd(t, "inherited", f, nil))
			if got := get(t, addr); got != "inherited" {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestInheritedListener_NotListening(t *testing.T) {
	t.Parallel()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { devnull.Close() })
	reg, err := os.Create(filepath.Join(t.TempDir(), "regular"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	// A connected socket is a socket, but not a listening one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	connFile, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connFile.Close() })
	for name, f := range map[string]*os.File{"pipe": pr, "devnull": devnull, "regular file": reg, "connected socket": connFile} {
		t.Run(name, func(t *testing.T) {
			cmd := helperCmd(t, "inherited-check", f, nil)
			cmd.Stderr = nil
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != "none" {
				t.Errorf("got %q, want none", got)
			}
		})
	}
}

func TestSystemdListeners(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	l1, err := Listen("unix:"+filepath.Join(dir, "sd.sock"), 0)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{"unix:" + l1.Addr().String(), l2.Addr().String()}
	files := []*os.File{listenerFile(t, l1), listenerFile(t, l2)}
	startHelper(t, helperCmd(t, "systemd", nil, files, "LISTEN_FDS=2", "FCGI_TEST_SET_PID=1", "LISTEN_FDNAMES=a:b"))
	for _, a := range addrs {
		// The env is unset after use so that children do not inherit it.
		if got, want := get(t, a), `systemd fds=2 env=""`; got != want {
			t.Errorf("%s: got %q, want %q", a, got, want)
		}
	}
}

func TestSystemdListeners_NotForUs(t *testing.T) {
	tests := []struct {
		pid, fds string
		err      bool
	}{
		{"", "", false},
		{"1", "2", false}, // another process's
		{fmt.Sprint(os.Getpid()), "", false},
		{"x", "1", true},
		{fmt.Sprint(os.Getpid()), "many", true},
	}
	for _, tt := range tests {
		t.Setenv("LISTEN_PID", tt.pid)
		t.Setenv("LISTEN_FDS", tt.fds)
		ls, err := SystemdListeners()
		if (err != nil) != tt.err || ls != nil {
			t.Errorf("pid %q fds %q: got %v, %v", tt.pid, tt.fds, ls, err)
		}
	}
}

func TestListen(t *testing.T) {
	t.Parallel()
	t.Run("tcp4", func(t *testing.T) {
		l, err := Listen("127.0.0.1:0", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if a := l.Addr().(*net.TCPAddr); a.IP.To4() == nil || a.Port == 0 {
			t.Errorf("addr %v", a)
		}
	})
	t.Run("tcp6", func(t *testing.T) {
		l, err := Listen("[::1]:0", 0)
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		defer l.Close()
		if a := l.Addr().(*net.TCPAddr); a.IP.To4() != nil {
			t.Errorf("addr %v", a)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		if _, err := Listen("127.0.0.1:notaport", 0); err == nil {
			t.Error("no error")
		}
	})
	unixCases := []struct {
		name  string
		setup func(t *testing.T, path string)
		mode  os.FileMode
		want  os.FileMode
		err   string
	}{
		{"default mode", nil, 0, 0o660, ""},
		{"mode 0600", nil, 0o600, 0o600, ""},
		{"mode 0666", nil, 0o666, 0o666, ""},
		{"stale socket replaced", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}, 0, 0o660, ""},
		{"live socket kept", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, 0, 0, "another process is listening"},
		{"regular file kept", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("data"), 0o644)
		}, 0, 0, "not a socket"},
	}
	for _, tt := range unixCases {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortTempDir(t), "x.sock")
			if tt.setup != nil {
				tt.setup(t, path)
			}
			before, _ := os.Lstat(path)
			l, err := Listen("unix:"+path, tt.mode)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want error with %q", err, tt.err)
				}
				if after, _ := os.Lstat(path); after == nil || !os.SameFile(before, after) {
					t.Error("the existing file was touched")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != tt.want {
				t.Errorf("mode %v, want socket %v", fi.Mode(), tt.want)
			}
			go func() {
				c, err := l.Accept()
				if err == nil {
					c.Write([]byte("hi"))
					c.Close()
				}
			}()
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if b != "hi" {
				t.Errorf("read %q", b)
			}
			l.Close()
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("socket not removed on Close: %v", err)
			}
		})
	}
}
