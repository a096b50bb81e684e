package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/server"
)

// ExampleNew embeds fcgihost in a Go program (the plugin-host use): the
// same pools the fcgihost command serves, mounted under /plugins/ of the
// program's own mux.
func ExampleNew() {
	cfg := config.Default()
	cfg.Apps = "./plugins" // NAME.js, NAME.lua, NAME/index.js …
	cfg.Defaults.Workers = 2
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/plugins/", http.StripPrefix("/plugins", srv.Handler()))
	http.ListenAndServe("127.0.0.1:8080", mux)
}

func TestEmbedAsHTTPHandler(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "greet.js"), []byte(`module.exports = (req, res) => "hi " + req.query.who + " at " + req.path;`), 0o644)
	os.WriteFile(filepath.Join(dir, "greet.lua"), []byte(`return function(req) return "lua " .. req.path end`), 0o644)
	cfg := config.Default()
	cfg.Apps = dir
	cfg.Watch = false
	cfg.Defaults.Workers = 1
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/plugins/", http.StripPrefix("/plugins", srv.Handler()))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for path, want := range map[string]string{
		"/plugins/greet/x?who=go": "hi go at /x",
		"/plugins/greet.lua/y":    "lua /y",
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, b, want)
		}
	}
}
