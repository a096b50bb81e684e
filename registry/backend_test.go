package registry

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fcgihost/fcgihost/script"
)

// TestOptions_Only: the apps dir is limited to the named apps (what a
// process-isolated app's child is configured with).
func TestOptions_Only(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	apps := filepath.Join(base, "apps")
	write(t, filepath.Join(apps, "hello.js"), "hello")
	write(t, filepath.Join(apps, "other.js"), "other")
	write(t, filepath.Join(apps, "blog", "index.js"), "blog")
	for _, tc := range []struct {
		only []string
		want []string
	}{
		{nil, []string{"blog", "hello", "other"}},
		{[]string{"hello"}, []string{"hello"}},
		{[]string{"blog"}, []string{"blog"}},
		{[]string{"missing"}, nil},
	} {
		r, err := New(Options{AppsDir: apps, Only: tc.only, Engines: []script.Engine{fakeEngine{".js"}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range r.Apps() {
			got = append(got, a.Name)
		}
		r.Close(context.Background())
		if len(got) != len(tc.want) {
			t.Errorf("Only %v: apps %v, want %v", tc.only, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Only %v: apps %v, want %v", tc.only, got, tc.want)
			}
		}
	}
}

type fakeBackends struct {
	mu      sync.Mutex
	made    []string
	closed  int
	bclosed int
}

func (f *fakeBackends) Backend(a *App) (Backend, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made = append(f.made, a.Name)
	return &fakeBackend{f: f}, nil
}

func (f *fakeBackends) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

type fakeBackend struct{ f *fakeBackends }

func (b *fakeBackend) Serve(ctx context.Context, params map[string]string, body io.Reader, sink script.Sink, stderr io.Writer) error {
	sink.WriteHeader(200, http.Header{})
	_, err := sink.Write([]byte("from backend"))
	return err
}

func (b *fakeBackend) Close(context.Context) error {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.f.bclosed++
	return nil
}

// TestApp_Backend: an app with Isolation "process" gets a Backend (made
// once, at discovery) and no pool; an in-process app gets none; Close
// closes both the backends and the maker.
func TestApp_Backend(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	apps := filepath.Join(base, "apps")
	write(t, filepath.Join(apps, "iso.js"), "iso")
	write(t, filepath.Join(apps, "vm.js"), "vm")
	f := &fakeBackends{}
	r, err := New(Options{AppsDir: apps, Engines: []script.Engine{fakeEngine{".js"}}, Backends: f,
		Settings: func(name string) Settings {
			if name == "iso" {
				return Settings{Isolation: "process"}
			}
			return Settings{Isolation: "vm"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	iso, vm := r.App("iso"), r.App("vm")
	b1, err := iso.Backend()
	if err != nil || b1 == nil {
		t.Fatalf("iso.Backend() = %v, %v; want a backend", b1, err)
	}
	if b2, _ := iso.Backend(); b2 != b1 {
		t.Error("second Backend() made a new backend")
	}
	if iso.CurrentPool() != nil {
		t.Error("an isolated app has a pool in this process")
	}
	if b, err := vm.Backend(); b != nil || err != nil {
		t.Errorf("vm.Backend() = %v, %v; want nil, nil", b, err)
	}
	if vm.CurrentPool() == nil {
		t.Error("in-process app has no pool")
	}
	r.Close(context.Background())
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.made) != 1 || f.made[0] != "iso" || f.bclosed != 1 || f.closed != 1 {
		t.Errorf("made %v, backends closed %d, maker closed %d; want [iso], 1, 1", f.made, f.bclosed, f.closed)
	}
}
