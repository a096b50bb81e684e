// Package bench owns fcgihost's end-to-end speed figures: requests/s and
// p99 of hello JS and hello Lua served by the built fcgihost binary through
// the whole path (FastCGI socket → pool → VM → response), next to a plain
// Go handler on the same FastCGI server (cmd/hellofcgi, the ceiling), a
// hand-written C responder on libfcgi (testdata/hellofcgi.c, the
// reference every ratio is taken against), Debian's php-fpm, and CGI
// through fcgiwrap; plus the cost of one VM
// (instantiation time, idle memory) and the start-up time of a host; and
// the same hello over each gateway — FastCGI with and without kept
// connections, SCGI, uwsgi — straight and through nginx against CGI
// (TestGatewayFigures).
//
// Everything here is behind the build tag "bench" (it starts nginx,
// php-fpm and fcgiwrap and runs for minutes); run it with bench/run.sh or
//
//	go test -tags bench -run TestFigures -v -timeout 60m ./bench/
//
// docs/benchmarks.md has the figures, the machine and the commands. The
// FastCGI layer's own micro-benchmarks (this server against net/http/fcgi)
// live with package fcgi, the engines' with runtime/js and runtime/lua.
package bench
