// This file starts a private redis-server for the tests of the Redis kv
// backend: loopback only, no persistence, in the test's temp dir, stopped
// by the test's cleanup.

package testutil

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Redis is a running private redis-server.
type Redis struct {
	*Proc
	Addr string // "127.0.0.1:P"
	URL  string // "redis://127.0.0.1:P/0", the form of the kv config key
	Dir  string
}

// StartRedis starts redis-server on a free loopback port (skipped when it
// is not installed, failed under CI=true) and waits until it answers PING.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := Need(t, "redis-server")
	dir := t.TempDir()
	var last string
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken meanwhile
		port := FreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		p := Start(t, dir, nil, bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(dir, fmt.Sprintf("redis-%d.log", attempt)))
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && p.Cmd.ProcessState == nil {
			if reply, err := RedisCommand(addr, "PING"); err == nil && reply == "+PONG" {
				return &Redis{Proc: p, Addr: addr, URL: "redis://" + addr + "/0", Dir: dir}
			}
			time.Sleep(20 * time.Millisecond)
		}
		last = p.Output()
		p.Cmd.Process.Kill()
		p.Wait(5 * time.Second)
	}
	t.Fatalf("redis-server did not start:\n%s", last)
	return nil
}

// RedisCommand sends one inline command (words without spaces) to the
// Redis server at addr and returns the first line of its reply, e.g.
// "+PONG", ":42", "$3" (a bulk string's length; use it for simple replies).
func RedisCommand(addr string, words ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", strings.Join(words, " ")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}
