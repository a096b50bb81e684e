/*
 * hellofcgi.c — the C reference responder of the benchmark (docs/benchmarks.md):
 * "hello world" on Open Market's libfcgi (Debian's libfcgi-dev), the way
 * hand-written C FastCGI programs are deployed: a pre-forked set of
 * processes, each serving one connection at a time and keeping it while
 * the web server asks (FCGI_KEEP_CONN).
 *
 *   cc -O2 -o hellofcgi-c hellofcgi.c -lfcgi
 *   hellofcgi-c SOCKET_PATH PROCESSES
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void serve(int sock) {
	FCGX_Request req;
	if (FCGX_InitRequest(&req, sock, 0) != 0) {
		fprintf(stderr, "hellofcgi-c: FCGX_InitRequest failed\n");
		exit(1);
	}
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Content-Type: text/plain\r\n\r\nhello world", req.out);
		FCGX_Finish_r(&req);
	}
	exit(0);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: hellofcgi-c SOCKET_PATH PROCESSES\n");
		return 2;
	}
	int n = atoi(argv[2]);
	if (n < 1) n = 1;
	if (FCGX_Init() != 0) {
		fprintf(stderr, "hellofcgi-c: FCGX_Init failed\n");
		return 1;
	}
	int sock = FCGX_OpenSocket(argv[1], 1024);
	if (sock < 0) {
		perror("hellofcgi-c: FCGX_OpenSocket");
		return 1;
	}
	chmod(argv[1], 0666);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("hellofcgi-c: fork");
			return 1;
		}
		if (pid == 0) serve(sock);
	}
	/* The parent only waits: SIGTERM to the process group ends them all. */
	while (wait(NULL) > 0) {
	}
	return 0;
}
