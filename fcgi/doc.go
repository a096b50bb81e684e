// Package fcgi owns fcgihost's FastCGI layer: a server that hands each
// request to a Handler and a client (for the request and bench commands and
// for tests). It implements FastCGI 1.0
// (https://fastcgi-archives.github.io/FastCGI_Specification.html) and
// knows nothing about scripts.
//
// # Server
//
// Records are version 1 only; content up to 65535 bytes with padding is
// read, and written records are padded to 8 bytes. FCGI_PARAMS and
// FCGI_STDIN may be split across any number of records and a name-value
// pair may straddle records (params are gathered, then decoded at their
// empty record). The Responder role is served in full. An Authorizer
// request is handed to the handler like a Responder's with an empty Stdin;
// its response goes out unchanged (the web server grants access on 200 and
// takes Variable-NAME headers, and passes any other response to the
// client); mod_fcgid's FCGI_APACHE_ROLE is in Params (Request.ApacheRole).
// Filter and unknown roles get FCGI_END_REQUEST with FCGI_UNKNOWN_ROLE.
// FCGI_GET_VALUES is answered on request id 0 with FCGI_MAX_CONNS
// (MaxConns), FCGI_MAX_REQS (MaxReqs) and FCGI_MPXS_CONNS, only those asked
// for, and the connection stays open. Any other record type a web server
// does not send to an application gets FCGI_UNKNOWN_TYPE. Records for
// request ids not in progress are ignored, and ids are reusable once their
// FCGI_END_REQUEST is sent.
//
// # Concurrency model
//
// Each connection has one read-loop goroutine that owns its request table
// and decodes every record, and each request runs its handler in a
// goroutine of its own, handed the request when its params are complete.
// Those goroutines are kept (up to 128 idle) and reused for later
// requests, so a handler that grows a deep stack (a script engine) does
// not grow it again on every request; Shutdown stops the idle ones. A
// request's Params map is reused too, for a later request on the same
// connection, once its handler has returned. Writes are
// serialised by a per-connection mutex, each write holding whole records,
// so no record is torn. A response is gathered in a pooled buffer and
// sent when a 65535-byte record is full, on Flush, or at the end together
// with the empty FCGI_STDOUT record and FCGI_END_REQUEST, in one write:
// a small response costs one write system call. FCGI_END_REQUEST is sent
// exactly once, by the request's goroutine after the handler returns (or by
// the read loop for a request that never reached its handler, or by
// Detach). Detach (the Detacher interface of the ResponseWriter) lets the
// handler's owner answer and end a request from another goroutine while
// the handler is stuck in a call that ignores its context: the web server
// gets that answer at once, the handler's later output is discarded under
// the same write lock (no record of it can follow FCGI_END_REQUEST), and
// its goroutine no longer counts for the connection or for Shutdown. The read
// loop never waits for a handler: a request's body is buffered up to
// StdinBuffer ahead of the handler's reads; beyond that the read loop
// pauses only when the request is alone on its connection (TCP
// backpressure, which stalls nothing else), and otherwise spills the body
// to an unlinked temporary file. A handler panic is recovered and logged
// and the client gets a 500 if nothing was sent yet.
//
// FCGI_ABORT_REQUEST, and equally the web server closing the connection
// (nginx never sends an abort, it closes), cancels the request's context at
// once (context.Cause is ErrRequestAborted or ErrConnClosed), fails its
// Stdin with the same error and discards further output. A peer's
// half-close (shutdown of its write side) counts as closing: no front end
// in use does that while waiting for an answer. Without FCGI_KEEP_CONN
// the connection is closed after FCGI_END_REQUEST (once every request on it
// is done): the server half-closes and discards what the web server still
// sends for up to 5s, so that the web server reads the whole answer rather
// than a reset.
//
// # Limits
//
// Each limit is per connection or per request, logs one line, and never
// affects another connection.
//   - MaxConns (default 1024): connections beyond it are closed at accept.
//   - AllowedClients / FCGI_WEB_SERVER_ADDRS: TCP connections from other
//     addresses are closed at accept.
//   - MaxReqs (default 1024, all connections) and MaxReqsPerConn (default
//     256): requests beyond them get FCGI_OVERLOADED (FCGI_CANT_MPX_CONN
//     when MaxReqsPerConn is 1); so do requests during Shutdown.
//   - MaxParamsBytes (1 MiB) and MaxParams (4096): a request over either is
//     answered "Status: 431" without reaching the handler; its buffer never
//     grows past the limit.
//   - ReadTimeout (60s): a request's params must be complete within it of
//     its FCGI_BEGIN_REQUEST, and a connection owing body data must deliver
//     a record at least that often. This closes the hole in net/http/fcgi
//     where half-sent requests are kept forever.
//   - IdleTimeout (2m): a connection with no request in progress is closed.
//   - WriteTimeout (none): a write to a web server that stopped reading.
//
// Malformed input (a version other than 1, a malformed FCGI_BEGIN_REQUEST,
// params or FCGI_GET_VALUES, a second FCGI_BEGIN_REQUEST for an id in
// progress) closes its connection with one log line; nothing panics.
//
// # Listeners
//
// Listen opens TCP (IPv4, IPv6) and unix sockets (stale socket files
// replaced, mode 0660 by default, removed on Close); InheritedListener
// takes the socket a web server passes on fd 0; SystemdListeners takes
// systemd's LISTEN_FDS. One Server may Serve several listeners at once.
// Shutdown stops accepting, lets requests in flight finish until its
// context ends, then cancels them (cause ErrServerClosed).
//
// # Client
//
// Client dials TCP or unix sockets, sends params and a streamed body,
// reads FCGI_STDOUT, FCGI_STDERR and FCGI_END_REQUEST, reuses keep-conn
// connections and, with Multiplex, runs concurrent requests over one
// connection. Do returns once the CGI head is parsed (Status, Location,
// headers); the body streams. ProtocolError says which side broke the
// protocol.
package fcgi
