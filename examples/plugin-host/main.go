// Command plugin-host is a tiny webhook "rules" service whose rules are
// plugins: every .js or .lua file (or folder) in the plugins directory
// that exports onEvent is called with each event POSTed to /event, and
// the answers are collected. Plugins get one Go module, "host:store" (JS)
// / "host.store" (Lua), with a counter per plugin and a notification
// outbox. Editing a plugin reloads it without dropping a call.
//
//	go run ./examples/plugin-host -plugins examples/plugin-host/plugins
//	curl -d '{"type":"order","amount":120,"email":"a@example.com"}' localhost:8090/event
//
// See README.md next to this file and docs/embedding.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/fcgihost/fcgihost/config"
	"github.com/fcgihost/fcgihost/plugin"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	dir := flag.String("plugins", "plugins", "plugins directory")
	flag.Parse()
	svc, err := newService(*dir, true)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		svc.host.Close(shut)
	}()
	slog.Info("listening", "addr", *addr, "plugins", svc.host.Apps())
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// service answers /event, /outbox and /counters.
type service struct {
	host *plugin.Host

	mu       sync.Mutex
	counters map[string]int64 // "plugin/key" → count
	outbox   []string
}

func newService(dir string, watch bool) (*service, error) {
	s := &service{counters: map[string]int64{}}
	store := &plugin.Module{
		Name: "store",
		Doc:  "A counter per plugin and a notification outbox.",
		Funcs: []plugin.Func{
			{
				Name: "incr",
				Doc:  "Adds one to the calling plugin's counter key and returns it.",
				Args: []plugin.Arg{{Name: "key", Type: plugin.String}},
				Fn: func(ctx context.Context, c *plugin.CallInfo) (any, error) {
					s.mu.Lock()
					defer s.mu.Unlock()
					k := c.App + "/" + c.Args[0].(string) // each plugin sees only its own counters
					s.counters[k]++
					return s.counters[k], nil
				},
			},
			{
				Name: "notify",
				Doc:  "Queues a message to an address.",
				Args: []plugin.Arg{{Name: "to", Type: plugin.String}, {Name: "text", Type: plugin.String}},
				Fn: func(ctx context.Context, c *plugin.CallInfo) (any, error) {
					if err := ctx.Err(); err != nil {
						return nil, err // the calling plugin ran out of time
					}
					s.mu.Lock()
					defer s.mu.Unlock()
					if len(s.outbox) >= 1000 {
						return nil, errors.New("outbox full")
					}
					s.outbox = append(s.outbox, fmt.Sprintf("[%s] to %s: %s", c.App, c.Args[0], c.Args[1]))
					return nil, nil
				},
			},
		},
	}
	cfg := config.Default()
	cfg.Defaults.Workers = 2
	cfg.Defaults.Timeout = 2 * time.Second // a rule that loops is stopped here
	cfg.KV = "embedded"
	cfg.DataDir = os.TempDir()
	h, err := plugin.New(plugin.Options{Dir: dir, Config: cfg, Modules: []*plugin.Module{store}, Watch: watch})
	if err != nil {
		return nil, err
	}
	s.host = h
	return s, nil
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/event":
		var ev map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&ev); err != nil {
			http.Error(w, "bad event: "+err.Error(), http.StatusBadRequest)
			return
		}
		type answer struct {
			Plugin string `json:"plugin"`
			Result any    `json:"result,omitempty"`
			Error  string `json:"error,omitempty"`
		}
		out := []answer{}
		for _, res := range s.host.Broadcast(r.Context(), "onEvent", plugin.BroadcastOptions{Concurrent: true}, ev) {
			a := answer{Plugin: res.App, Result: res.Value}
			if res.Err != nil {
				a.Error = res.Err.Error()
			}
			out = append(out, a)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	case r.URL.Path == "/outbox":
		s.mu.Lock()
		defer s.mu.Unlock()
		json.NewEncoder(w).Encode(s.outbox)
	case r.URL.Path == "/counters":
		s.mu.Lock()
		defer s.mu.Unlock()
		json.NewEncoder(w).Encode(s.counters)
	default:
		http.NotFound(w, r)
	}
}
