#!/bin/sh
# bench/run.sh — the end-to-end speed figures of docs/benchmarks.md, in one
# run on this machine: hello JS and hello Lua served by the built fcgihost
# binary next to a plain Go handler on package fcgi (the ceiling), php-fpm
# and CGI through fcgiwrap; driven by `fcgihost bench` straight at each
# FastCGI socket and by wrk through a private nginx; plus one VM's cost and
# the start-up time with 4 apps x 4 workers; the process model (one
# process, master + workers, a pool's own socket, isolation = "process")
# at the same VM count; then hello JS and Lua over each gateway (FastCGI
# with and without kept connections, SCGI, uwsgi) straight and through
# nginx against CGI (TestGatewayFigures).
#
# Needs (Debian): nginx-light php-fpm fcgiwrap wrk libfcgi-dev (and cc). Takes about 15 minutes
# with the defaults. Knobs (environment): BENCH_DURATION (5s per run),
# BENCH_ROUNDS (5), BENCH_WORKERS (4), BENCH_CONNS (64),
# BENCH_NGINX_WORKERS (1), BENCH_PARTS (load,vm,startup,procs).
#
# Usage: bench/run.sh [OUT.md]     (default: $TMPDIR/fcgihost-bench.md)
set -eu
out=${1:-${TMPDIR:-/tmp}/fcgihost-bench.md}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")/.."
: "${BENCH_ROUNDS:=5}" "${BENCH_DURATION:=5s}"
export BENCH_ROUNDS BENCH_DURATION BENCH_OUT="$out"
{
	echo "# versions"
	go version
	nginx -v 2>&1
	php-fpm8.2 -v 2>/dev/null | head -n 1 || true
	dpkg-query -W -f='fcgiwrap ${Version}\n' fcgiwrap 2>/dev/null || true
	wrk -v 2>&1 | head -n 1 || true
	uname -srm
	echo "cores: $(nproc)"
} >&2
go test -tags bench -run 'TestFigures|TestGatewayFigures|TestParse' -v -count 1 -timeout 90m ./bench/
echo "figures written to $out" >&2
