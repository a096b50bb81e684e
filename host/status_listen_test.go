package host

import (
	"net"
	"path/filepath"
	"runtime"
	"testing"
)

// TestFrontend_ListenQueue fills the accept queue of listeners nobody
// accepts on and checks that the status figures count the waiting
// connections.
func TestFrontend_ListenQueue(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("listen queue is measured on Linux only")
	}
	tests := []struct {
		name   string
		listen func(t *testing.T) net.Listener
	}{
		{"tcp", func(t *testing.T) net.Listener {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
		{"unix", func(t *testing.T) net.Listener {
			l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.listen(t)
			t.Cleanup(func() { l.Close() })
			f := &Frontend{}
			f.AddListener(l)
			q := f.Queue()
			if !q.Known || q.Now != 0 || q.Len <= 0 {
				t.Fatalf("idle: %+v, want known, 0 waiting, a backlog", q)
			}
			const dials = 3
			for i := 0; i < dials; i++ {
				c, err := net.Dial(l.Addr().Network(), l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
			}
			q = f.Queue()
			if q.Now != dials || q.Max != dials {
				t.Fatalf("after %d dials: now %d max %d, want %d", dials, q.Now, q.Max, dials)
			}
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			q = f.Queue()
			if q.Now != dials-1 || q.Max != dials {
				t.Fatalf("after one accept: now %d max %d, want %d and %d", q.Now, q.Max, dials-1, dials)
			}
		})
	}
}
