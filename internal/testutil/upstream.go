// This file starts a private nginx in front of several fcgihost hosts: one
// `upstream` block with a server line per host, the way a scaled-out site
// balances FastCGI over machines.

package testutil

import "testing"

// StartNginxUpstream is StartNginx for several hosts: the upstream
// "fcgihost" lists every host's FastCGI address (round robin, keepalive);
// server is the body of the server{} block, with {{PORT}} and {{DIR}}
// replaced.
func StartNginxUpstream(t testing.TB, hosts []*Host, server string) *Nginx {
	t.Helper()
	return startNginx(t, hosts, server)
}
