package e2e

// This file causes the common deployment mistakes of docs/troubleshooting.md
// — a wrong socket path, a socket the server's user may not open, a stale
// socket, a SCRIPT_FILENAME outside the apps dir — against real nginx and
// Apache, and checks both that the servers log what the page quotes and
// that the page still quotes it.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fcgihost/fcgihost/internal/testutil"
)

// symptom is one mistake: the request that shows it, the status the
// client gets, the log line (as a regexp) and the words of that line the
// troubleshooting page must quote.
type symptom struct {
	name   string
	path   string
	status int
	log    func() string
	line   string
	quote  string
}

func checkSymptoms(t *testing.T, base string, symptoms []symptom) {
	doc := readFile(t, filepath.Join(testutil.RepoRoot(), "docs", "troubleshooting.md"))
	for _, s := range symptoms {
		t.Run(s.name, func(t *testing.T) {
			r := testutil.Get(t, base+s.path)
			if r.StatusCode != s.status {
				t.Errorf("status %d, want %d", r.StatusCode, s.status)
			}
			re := regexp.MustCompile(s.line)
			testutil.Eventually(t, 10*time.Second, "log line "+s.line, func() bool { return re.MatchString(s.log()) })
			if !strings.Contains(doc, s.quote) {
				t.Errorf("docs/troubleshooting.md does not quote %q", s.quote)
			}
		})
	}
}

// staleSocket leaves a unix socket file nobody listens on.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	os.Chmod(path, 0o666)
}

func TestTroubleshootingNginx(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "nginx")
	apps := frontApps(t)
	ok, okSock := startSocketHost(t, apps)
	// fcgihost with the default socket_mode 0660, owned by root: www-data
	// may not connect.
	closed := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true})
	testutil.Open(t, closed.Dir)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	www := filepath.Join(dir, "www")
	testutil.WriteFile(t, filepath.Join(www, "env.lua"), readFile(t, filepath.Join(apps, "env.lua")), 0o644)
	stale := filepath.Join(dir, "stale.sock")
	staleSocket(t, stale)
	conf := fmt.Sprintf(`daemon off;
user www-data;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; fastcgi_temp_path %[1]s/fastcgi; proxy_temp_path %[1]s/proxy;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    root %[1]s/www;
    location /missing/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%[1]s/nosuch.sock; }
    location /denied/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%[3]s; }
    location /stale/ { include /etc/nginx/fastcgi_params; fastcgi_pass unix:%[4]s; }
    location / { include /etc/nginx/fastcgi.conf; fastcgi_pass unix:%[5]s; }
  }
}
`, dir, port, strings.TrimPrefix(closed.FCGI, "unix:"), stale, okSock)
	fe := testutil.StartNginxConf(t, dir, port, conf)
	checkSymptoms(t, fe.URL, []symptom{
		{"wrong socket path", "/missing/x", 502, fe.ErrorLog,
			`\[crit\] .*connect\(\) to unix:\S+/nosuch.sock failed \(2: No such file or directory\) while connecting to upstream`,
			"failed (2: No such file or directory) while connecting to upstream"},
		{"socket permissions", "/denied/x", 502, fe.ErrorLog,
			`\[crit\] .*connect\(\) to unix:\S+ failed \(13: Permission denied\) while connecting to upstream`,
			"failed (13: Permission denied) while connecting to upstream"},
		{"stale socket", "/stale/x", 502, fe.ErrorLog,
			`\[error\] .*connect\(\) to unix:\S+ failed \(111: Connection refused\) while connecting to upstream`,
			"failed (111: Connection refused) while connecting to upstream"},
		{"SCRIPT_FILENAME outside the apps dir", "/env.lua", 403, ok.Output,
			`level=WARN msg="request refused" status=403 uri=/env.lua script_filename=\S+/www/env.lua reason="SCRIPT_FILENAME \S+/www/env.lua is outside the apps dir and every root"`,
			`is outside the apps dir and every root"`},
		{"script error through FCGI_STDERR", "/env.lua/throw?token=ts1", 500, fe.ErrorLog,
			`\[error\] .*FastCGI sent in stderr: "fcgihost: app env.lua: \S+/env.lua:7: deliberate failure ts1" while reading response header from upstream`,
			`FastCGI sent in stderr: "fcgihost: app env.lua:`},
	})
}

func TestTroubleshootingApache(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "apache2")
	apps := frontApps(t)
	closed := testutil.StartHost(t, testutil.HostOptions{Apps: apps, Unix: true})
	testutil.Open(t, closed.Dir)
	dir, port := testutil.OpenDir(t), testutil.FreePort(t)
	mkdir(t, filepath.Join(dir, "www"))
	m := "/usr/lib/apache2/modules/"
	conf := fmt.Sprintf(`ServerRoot "%[1]s"
Listen 127.0.0.1:%[2]d
PidFile %[1]s/apache.pid
ErrorLog %[1]s/error.log
LogLevel warn
DefaultRuntimeDir %[1]s
Mutex file:%[1]s default
User www-data
Group www-data
ServerName localhost
LoadModule mpm_event_module %[4]smod_mpm_event.so
LoadModule authz_core_module %[4]smod_authz_core.so
LoadModule proxy_module %[4]smod_proxy.so
LoadModule proxy_fcgi_module %[4]smod_proxy_fcgi.so
DocumentRoot %[1]s/www
ProxyPass /missing/ "unix:%[1]s/nosuch.sock|fcgi://localhost/"
ProxyPass /denied/ "unix:%[3]s|fcgi://denied/"
`, dir, port, strings.TrimPrefix(closed.FCGI, "unix:"), m)
	fe := testutil.StartApache(t, dir, port, conf)
	checkSymptoms(t, fe.URL, []symptom{
		{"wrong socket path", "/missing/x", 503, fe.ErrorLog,
			`\[proxy:error\] .*\(2\)No such file or directory: AH02454: FCGI: attempt to connect to Unix domain socket \S+/nosuch.sock \(localhost:8000\) failed`,
			"(2)No such file or directory: AH02454: FCGI: attempt to connect to Unix domain socket"},
		{"socket permissions", "/denied/x", 503, fe.ErrorLog,
			`\[proxy:error\] .*\(13\)Permission denied: AH02454: FCGI: attempt to connect to Unix domain socket \S+ \(denied:8000\) failed`,
			"(13)Permission denied: AH02454: FCGI: attempt to connect to Unix domain socket"},
	})
	if !strings.Contains(fe.ErrorLog(), "AH01079: failed to make connection to backend: localhost") {
		t.Errorf("no AH01079 line:\n%s", fe.ErrorLog())
	}
}
