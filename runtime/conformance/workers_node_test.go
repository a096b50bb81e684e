package conformance

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/runtime/js"
	"github.com/fcgihost/fcgihost/sandbox"
	"github.com/fcgihost/fcgihost/script"
)

var updateWorkers = flag.Bool("update-workers", false, "rewrite testdata/workers/*.expected from node")

// workersApps are the Workers-style apps in testdata/workers, each with
// NAME.requests.json (the recorded requests) and NAME.expected (what node
// 20 answers, made by harness.mjs).
var workersApps = []string{"router", "json", "form", "redirect", "cookies", "env", "errors"}

type recordedRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    *string           `json:"body"`
}

// TestWorkersConformance runs each Workers-style app of testdata/workers
// in fcgihost and compares the answers (status, headers, body) with what
// the same file gives under node: node is run when it is installed (v20 or
// later), and its output must also equal the kept NAME.expected (rewrite
// them with -update-workers); without node, the kept files are the
// reference. A 500 compares the status only: the error page is each
// runtime's own.
func TestWorkersConformance(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "workers"))
	if err != nil {
		t.Fatal(err)
	}
	node := nodePath(t)
	var env map[string]string
	envJSON, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(envJSON, &env); err != nil {
		t.Fatal(err)
	}
	for _, name := range workersApps {
		t.Run(name, func(t *testing.T) {
			var reqs []recordedRequest
			data, err := os.ReadFile(filepath.Join(dir, name+".requests.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &reqs); err != nil {
				t.Fatal(err)
			}
			expFile := filepath.Join(dir, name+".expected")
			kept, err := os.ReadFile(expFile)
			if err != nil && !*updateWorkers {
				t.Fatal(err)
			}
			want := string(kept)
			if node != "" {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, node, "harness.mjs", name+".mjs")
				cmd.Dir = dir
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("node harness.mjs %s.mjs: %v", name, err)
				}
				if *updateWorkers {
					if err := os.WriteFile(expFile, out, 0o644); err != nil {
						t.Fatal(err)
					}
				} else if string(out) != want {
					t.Errorf("node's answers differ from the kept %s (rerun with -update-workers if the app changed):\n%s", expFile, firstDiff(string(out), want))
				}
				want = string(out)
			} else if *updateWorkers {
				t.Fatal("-update-workers needs node")
			}
			got := runWorkersApp(t, dir, name, env, reqs)
			if got != normalise500(want) {
				t.Errorf("fcgihost differs from node:\n%s", firstDiff(got, normalise500(want)))
			}
		})
	}
}

// nodePath is node if it is installed and at least v20, else "".
func nodePath(t *testing.T) string {
	p, err := exec.LookPath("node")
	if err != nil {
		t.Log("node is not installed: comparing with the kept testdata/workers/*.expected")
		return ""
	}
	out, err := exec.Command(p, "--version").Output()
	m := regexp.MustCompile(`^v(\d+)\.`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Logf("node --version: %q %v: comparing with the kept files", out, err)
		return ""
	}
	if v, _ := strconv.Atoi(string(m[1])); v < 20 {
		t.Logf("node %s is older than 20: comparing with the kept files", strings.TrimSpace(string(out)))
		return ""
	}
	return p
}

// runWorkersApp serves each request to the app in fcgihost's JS engine
// and formats the answers as harness.mjs does.
func runWorkersApp(t *testing.T, dir, name string, env map[string]string, reqs []recordedRequest) string {
	t.Helper()
	opts := script.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits: sandbox.Limits{Timeout: time.Minute},
		Env:    env,
	}
	b, err := js.New().Compile(script.Source{App: name, Dir: dir, Entry: filepath.Join(dir, name+".mjs")}, opts)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	vm, err := b.NewVM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	var out strings.Builder
	for _, r := range reqs {
		method := r.Method
		if method == "" {
			method = "GET"
		}
		fmt.Fprintf(&out, "=== %s %s\n", method, r.URL)
		s := &sink{}
		res := script.NewResponse(s, 0, method == "HEAD")
		serr := vm.Serve(context.Background(), toScriptRequest(t, method, r), res)
		if serr != nil && res.Reset() {
			// The host answers an error page (host.go); its body is the
			// host's, so only the status is compared.
			out.WriteString("status 500\n\n\n---\n")
			continue
		}
		if ferr := res.Finish(); ferr != nil {
			t.Fatalf("%s %s: %v", method, r.URL, ferr)
		}
		if s.status == 500 {
			out.WriteString("status 500\n\n\n---\n")
			continue
		}
		fmt.Fprintf(&out, "status %d\n", s.status)
		names := make([]string, 0, len(s.header))
		for k := range s.header {
			// Content-Length is framing the host adds on the wire (node's
			// Response has none); it must match the body.
			if strings.EqualFold(k, "Content-Length") {
				if cl := s.header.Get(k); cl != strconv.Itoa(s.body.Len()) {
					t.Errorf("%s %s: Content-Length %s for a body of %d bytes", method, r.URL, cl, s.body.Len())
				}
				continue
			}
			names = append(names, strings.ToLower(k))
		}
		sort.Strings(names)
		for _, n := range names {
			vals := s.header.Values(n)
			if n != "set-cookie" {
				vals = []string{strings.Join(vals, ", ")}
			}
			for _, v := range vals {
				fmt.Fprintf(&out, "%s: %s\n", n, v)
			}
		}
		fmt.Fprintf(&out, "\n%s\n---\n", s.body.String())
	}
	return out.String()
}

// toScriptRequest makes the FastCGI params a front end sends for r.
func toScriptRequest(t *testing.T, method string, r recordedRequest) *script.Request {
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	uri := u.EscapedPath()
	if u.RawQuery != "" {
		uri += "?" + u.RawQuery
	}
	p := map[string]string{
		"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": u.RawQuery,
		"HTTP_HOST": u.Host, "SERVER_NAME": u.Hostname(), "SERVER_PORT": u.Port(), "REMOTE_ADDR": "127.0.0.1",
	}
	if u.Scheme == "https" {
		p["HTTPS"] = "on"
	}
	for k, v := range r.Headers {
		switch k = strings.ToUpper(strings.ReplaceAll(k, "-", "_")); k {
		case "CONTENT_TYPE", "CONTENT_LENGTH":
			p[k] = v
		default:
			p["HTTP_"+k] = v
		}
	}
	req := &script.Request{Params: p, Method: method, URI: uri, Path: u.EscapedPath(), RawQuery: u.RawQuery, RemoteAddr: "127.0.0.1"}
	if r.Body != nil {
		req.Body = []byte(*r.Body)
		p["CONTENT_LENGTH"] = strconv.Itoa(len(req.Body))
	}
	return req
}

// normalise500 drops the headers and body of each 500 answer.
func normalise500(s string) string {
	return regexp.MustCompile(`(?s)status 500\n.*?\n---\n`).ReplaceAllString(s, "status 500\n\n\n---\n")
}

// firstDiff shows the first line where a and b differ, with context.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			from := max(0, i-4)
			return fmt.Sprintf("line %d:\n got  %q\n want %q\ncontext (got):\n%s", i+1, x, y, strings.Join(al[from:min(len(al), i+2)], "\n"))
		}
	}
	return "(equal)"
}
