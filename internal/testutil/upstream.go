// This file starts a private nginx in front of several fcgihost hosts: one
// `upstream` block with a server line per host, the way a scaled-out site
// balances FastCGI over machines.

package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartNginxUpstream is StartNginx for several hosts: the upstream
// "fcgihost" lists every host's FastCGI address (round robin, keepalive);
// server is the body of the server{} block, with {{PORT}} and {{DIR}}
// replaced.
func StartNginxUpstream(t testing.TB, hosts []*Host, server string) *Nginx {
	t.Helper()
	bin := Need(t, "nginx")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	port := FreePort(t)
	var up strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&up, "    server %s;\n", h.FCGI)
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  fastcgi_temp_path %[1]s/fastcgi;
  proxy_temp_path %[1]s/proxy;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  include /etc/nginx/mime.types;
  upstream fcgihost {
%[3]s    keepalive 16;
  }
  server {
    listen 127.0.0.1:%[2]d;
    server_name localhost;
    root %[1]s/www;
%[4]s
  }
}
`, dir, port, up.String(), strings.NewReplacer("{{PORT}}", fmt.Sprint(port), "{{DIR}}", dir).Replace(server))
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, dir, nil, bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	WaitDial(t, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second, p)
	n := &Nginx{Proc: p, Port: port, Dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error.log:\n%s", Tail(n.ErrorLog(), 4000))
		}
	})
	return n
}
