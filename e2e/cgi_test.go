package e2e

// This file proves CGI mode (docs/reference.md §1, issue 6): the CGI-style example
// apps (apps/cgi-env.js, apps/cgi-env.lua) give the same status, headers
// and body run once as CGI programs — by "fcgihost run FILE", by the
// kernel through their "#!" line, and by Apache mod_cgi — as served from a
// preloaded pool over FastCGI.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/fcgi"
	"github.com/fcgihost/fcgihost/internal/testutil"
)

// cgiReq is one request both ways.
type cgiReq struct {
	name, method, query, body string
}

var cgiReqs = []cgiReq{
	{"GET with query", "GET", "q=1&r=two", ""},
	{"POST body", "POST", "", "name=Ada&lang=" + strings.Repeat("x", 3000)},
}

// answer is what the comparison looks at: status, the headers the script
// sets, and the body.
type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) String() string {
	return strconv.Itoa(a.status) + " Content-Type=" + a.header.Get("Content-Type") + " X-Style=" + a.header.Get("X-Style") + "\n" + a.body
}

func sameAnswer(t *testing.T, what string, got, want answer) {
	t.Helper()
	if got.status != want.status || got.body != want.body ||
		got.header.Get("Content-Type") != want.header.Get("Content-Type") || got.header.Get("X-Style") != want.header.Get("X-Style") {
		t.Errorf("%s differs from FastCGI:\n--- %s:\n%s\n--- FastCGI:\n%s", what, what, got, want)
	}
	if want.status != 200 || want.header.Get("X-Style") != "cgi" || !strings.Contains(want.body, "method=") {
		t.Errorf("FastCGI answer is not the script's: %s", want)
	}
}

// cgiEnv is the CGI environment a web server would set for r on script.
func cgiEnv(script string, r cgiReq) []string {
	env := []string{
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "SERVER_SOFTWARE=test",
		"REQUEST_METHOD=" + r.method, "QUERY_STRING=" + r.query,
		"SCRIPT_NAME=/" + filepath.Base(script), "SCRIPT_FILENAME=" + script,
		"REQUEST_URI=/" + filepath.Base(script) + "?" + r.query, "REMOTE_ADDR=127.0.0.1",
		"PATH=/usr/bin:/bin",
	}
	if r.body != "" {
		env = append(env, "CONTENT_LENGTH="+strconv.Itoa(len(r.body)), "CONTENT_TYPE=application/x-www-form-urlencoded")
	}
	return env
}

// parseCGI reads a CGI response (header lines, a blank line, the body).
func parseCGI(t *testing.T, out []byte) answer {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("CGI output has no header block: %v\n%s", err, out)
	}
	a := answer{status: 200, header: http.Header(h)}
	if s := h.Get("Status"); s != "" {
		a.status, _ = strconv.Atoi(strings.Fields(s)[0])
	}
	b, _ := io.ReadAll(br)
	a.body = string(b)
	return a
}

// viaFastCGI sends r for app over FastCGI to h.
func viaFastCGI(t *testing.T, h *testutil.Host, app string, r cgiReq) answer {
	t.Helper()
	params := map[string]string{}
	for _, kv := range cgiEnv("", r) {
		k, v, _ := strings.Cut(kv, "=")
		params[k] = v
	}
	params["SCRIPT_FILENAME"], params["SCRIPT_NAME"] = "", "/"+app
	c := &fcgi.Client{Addr: h.FCGI}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, &fcgi.ClientRequest{Params: params, Body: strings.NewReader(r.body)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := resp.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.Status, header: resp.Header, body: string(b)}
}

// cgiScripts copies the CGI-style example apps into an open dir, each
// starting with a "#!" line naming the fcgihost binary, executable.
func cgiScripts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testutil.OpenDir(t), "cgi-bin")
	bin := testutil.PublicBinary(t)
	for _, f := range []string{"cgi-env.js", "cgi-env.lua"} {
		testutil.WriteFile(t, filepath.Join(dir, f), "#!"+bin+"\n"+readFile(t, filepath.Join(testutil.RepoRoot(), "apps", f)), 0o755)
	}
	return dir
}

func TestRunCGI(t *testing.T) {
	t.Parallel()
	bin := testutil.Binary(t)
	dir := cgiScripts(t)
	h := testutil.StartHost(t, testutil.HostOptions{Apps: dir, Unix: true, Config: "workers = 1\n"})
	for _, eng := range []string{"js", "lua"} {
		script := filepath.Join(dir, "cgi-env."+eng)
		for _, r := range cgiReqs {
			t.Run(eng+"/"+r.name, func(t *testing.T) {
				want := viaFastCGI(t, h, "cgi-env."+eng, r)
				for _, how := range []struct {
					name string
					argv []string
				}{
					{"fcgihost run FILE", []string{bin, "run", script}},
					{"#! line", []string{script}},
				} {
					cmd := exec.Command(how.argv[0], how.argv[1:]...)
					cmd.Env = cgiEnv(script, r)
					cmd.Stdin = strings.NewReader(r.body)
					var stderr bytes.Buffer
					cmd.Stderr = &stderr
					out, err := cmd.Output()
					if err != nil {
						t.Fatalf("%s: %v\n%s", how.name, err, stderr.String())
					}
					sameAnswer(t, how.name, parseCGI(t, out), want)
				}
			})
		}
	}
	t.Run("by hand, without a CGI environment", func(t *testing.T) {
		out, err := exec.Command(bin, "run", filepath.Join(dir, "cgi-env.lua")).Output()
		if err != nil {
			t.Fatal(err)
		}
		if a := parseCGI(t, out); a.status != 200 || !strings.Contains(a.body, "method=GET\n") {
			t.Fatalf("fcgihost run without CGI env: %s", a)
		}
	})
	t.Run("no header block is a 500 naming the script", func(t *testing.T) {
		script := filepath.Join(testutil.RepoRoot(), "e2e", "testdata", "apps", "nohead.lua")
		cmd := exec.Command(bin, "run", script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		if a := parseCGI(t, out); a.status != 500 {
			t.Errorf("status %d, want 500:\n%s", a.status, out)
		}
		if !strings.Contains(stderr.String(), "nohead.lua") {
			t.Errorf("stderr does not name the script: %q", stderr.String())
		}
	})
	t.Run("a script error is a 500 with file:line on stderr", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "boom.js")
		testutil.WriteFile(t, script, "module.exports = function (req, res) {\n  throw new Error('boom here');\n};\n", 0o644)
		cmd := exec.Command(bin, "run", script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			t.Error("exit 0 after a script error")
		}
		if a := parseCGI(t, out); a.status != 500 || strings.Contains(a.body, "boom here") {
			t.Errorf("want a plain 500, got %s", a)
		}
		if !strings.Contains(stderr.String(), "boom.js:2") || !strings.Contains(stderr.String(), "boom here") {
			t.Errorf("stderr lacks file:line and message: %q", stderr.String())
		}
	})
}

func TestApacheCGI(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "apache2")
	cgidir := cgiScripts(t)
	_, sock := startSocketHost(t, cgidir)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	mkdir(t, filepath.Join(dir, "www"))
	conf := testutil.Render(t, "apache-cgi.conf", map[string]string{
		"DIR": dir, "PORT": strconv.Itoa(port), "SOCKET": sock, "CGIDIR": cgidir, "FCGIHOST": testutil.PublicBinary(t)})
	fe := testutil.StartApache(t, dir, port, conf)
	for _, eng := range []string{"js", "lua"} {
		for _, r := range cgiReqs {
			t.Run(eng+"/"+r.name, func(t *testing.T) {
				get := func(prefix string) answer {
					url := fe.URL + prefix + "/cgi-env." + eng
					if r.query != "" {
						url += "?" + r.query
					}
					resp := testutil.Do(t, newReq(t, r.method, url, []byte(r.body), "application/x-www-form-urlencoded"))
					return answer{status: resp.StatusCode, header: resp.Header, body: resp.Body}
				}
				sameAnswer(t, "mod_cgi", get("/cgi-bin"), get("/fcgi"))
			})
		}
	}
}
