package kv

// Redis deployments people run, against real redis-server processes: TLS
// with a private CA (made here), and Sentinel failover.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeTestCA makes a CA and a server certificate for 127.0.0.1 signed by
// it, as PEM files in dir: ca.pem, server.pem, server.key.
func writeTestCA(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fcgihost test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	for name, b := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "server.pem": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: kder},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startRedisProc starts redis-server with args in dir and returns its
// process (killed at cleanup).
func startRedisProc(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not installed: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd
}

func waitFor(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedis_TLS(t *testing.T) {
	dir := t.TempDir()
	writeTestCA(t, dir)
	port := freePort(t)
	startRedisProc(t, dir, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", "no",
		"--requirepass", "tls-pw", "--save", "", "--appendonly", "no", "--dir", dir)
	url := fmt.Sprintf("rediss://:tls-pw@127.0.0.1:%d/0?ca=%s", port, filepath.Join(dir, "ca.pem"))
	ctx := context.Background()
	var s Store
	waitFor(t, "TLS redis answers", 20*time.Second, func() (err error) {
		s, err = OpenRedis(ctx, url)
		return err
	})
	defer s.Close()
	ns := s.Namespace("app", Quota{})
	mustSet(t, ns, "k", "over TLS")
	wantValue(t, ns, "k", "over TLS")
	if n, err := ns.Incr(ctx, "n", 1); err != nil || n != 1 {
		t.Errorf("incr over TLS: %d %v", n, err)
	}
	// The system's roots do not know the test CA: refused.
	_, err := OpenRedis(ctx, fmt.Sprintf("rediss://:tls-pw@127.0.0.1:%d/0", port))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without ca=: %v, want a certificate error", err)
	}
	// A plain-text client is not served.
	if _, err := OpenRedis(ctx, fmt.Sprintf("redis://:tls-pw@127.0.0.1:%d/0", port)); err == nil {
		t.Error("plain text to a TLS port succeeded")
	}
	if _, err := OpenRedis(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0?ca=x", port)); err == nil || !strings.Contains(err.Error(), "needs rediss://") {
		t.Errorf("ca= on redis://: %v", err)
	}
	// The unit users of isolation work over TLS too.
	u, err := RedisUnitURL(ctx, url, "app\x00app", []string{"app"}, nil)
	if err != nil || strings.Contains(u, "tls-pw") || !strings.Contains(u, "ca=") {
		t.Fatalf("unit URL over TLS: %q %v", u, err)
	}
	us, err := OpenRedis(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	wantValue(t, us.Namespace("app", Quota{}), "k", "over TLS")
}

func TestRedis_SentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a failover")
	}
	dir := t.TempDir()
	p1, p2, sp := freePort(t), freePort(t), freePort(t)
	common := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", "pw", "--masterauth", "pw"}
	primary := startRedisProc(t, dir, append([]string{"--port", strconv.Itoa(p1), "--dbfilename", "p1.rdb"}, common...)...)
	startRedisProc(t, dir, append([]string{"--port", strconv.Itoa(p2), "--dbfilename", "p2.rdb", "--replicaof", "127.0.0.1", strconv.Itoa(p1)}, common...)...)
	conf := filepath.Join(dir, "sentinel.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
sentinel monitor m 127.0.0.1 %d 1
sentinel auth-pass m pw
sentinel down-after-milliseconds m 300
sentinel failover-timeout m 3000
`, sp, p1)), 0o600)
	startRedisProc(t, dir, conf, "--sentinel")

	url := fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=m&password=pw", sp)
	ctx := context.Background()
	var s Store
	waitFor(t, "sentinel answers", 20*time.Second, func() (err error) {
		s, err = OpenRedis(ctx, url)
		return err
	})
	defer s.Close()
	ns := s.Namespace("app", Quota{})
	mustSet(t, ns, "before", "1")
	// The replica has it (replication is asynchronous).
	pc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p1), Password: "pw"})
	defer pc.Close()
	waitFor(t, "the replica catches up", 20*time.Second, func() error {
		n, err := pc.Do(ctx, "WAIT", 1, 1000).Int()
		if err == nil && n < 1 {
			err = fmt.Errorf("%d replicas acknowledged", n)
		}
		return err
	})

	// The sentinel must know the replica (it learns of it from the
	// primary's INFO, every 10 s) or it has nobody to promote.
	sc := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sp)})
	defer sc.Close()
	waitFor(t, "the sentinel knows the replica", 30*time.Second, func() error {
		reps, err := sc.Replicas(ctx, "m").Result()
		if err == nil && len(reps) == 0 {
			err = fmt.Errorf("no replica yet")
		}
		for _, r := range reps {
			if fl := r["flags"]; strings.Contains(fl, "down") || strings.Contains(fl, "disconnected") {
				err = fmt.Errorf("replica flags %q", fl)
			}
		}
		return err
	})

	// An isolated unit's user, set on the primary and the replica.
	unitURL, err := RedisUnitURL(ctx, url, "app\x00app", []string{"app"}, nil)
	if err != nil || strings.Contains(unitURL, "password=pw") {
		t.Fatalf("unit URL: %q %v", unitURL, err)
	}
	us, err := OpenRedis(ctx, unitURL)
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	uns := us.Namespace("app", Quota{})
	wantValue(t, uns, "before", "1")

	primary.Process.Kill() // the primary dies
	start := time.Now()
	waitFor(t, "writes resume after the failover", 30*time.Second, func() error {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return ns.Set(c, "after", "2", 0)
	})
	t.Logf("writes resumed %v after the primary died", time.Since(start).Round(time.Millisecond))
	wantValue(t, ns, "before", "1")
	wantValue(t, ns, "after", "2")
	if n, err := ns.Incr(ctx, "n", 5); err != nil || n != 5 {
		t.Errorf("incr after failover: %d %v", n, err)
	}
	// The unit's user exists on the new primary.
	waitFor(t, "the unit's user works after the failover", 30*time.Second, func() error {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return uns.Set(c, "unit", "after", 0)
	})
	wantValue(t, uns, "after", "2")
	// The new primary is the old replica.
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p2), Password: "pw"})
	defer rc.Close()
	role, err := rc.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		t.Errorf("old replica's role: %v %v", role, err)
	}
}
