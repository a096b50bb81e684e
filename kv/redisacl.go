package kv

// Redis ACL users for isolated units (docs/storage.md, "Secrets"): the
// host, which alone holds the admin credential of the kv Redis, gives each
// unit of isolation = "process" a user of its own that may touch only the
// keys of the unit's apps, and hands the unit that user's URL instead of
// its own.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// maxAppNameLen bounds the length of the app names a root's key patterns
// cover (real paths: PATH_MAX is 4096).
const maxAppNameLen = 9999

// redisUnitCommands are the commands a unit's user may run: the ones the
// Redis backend sends and its scripts call, nothing else.
var redisUnitCommands = []string{
	// connection
	"ping", "hello", "auth", "select",
	// the backend's scripts
	"evalsha", "eval", "script|load",
	// called by the scripts
	"get", "set", "del", "exists", "time",
	"incrby", "hget", "hset", "hdel", "hincrby", "hmget",
	"zadd", "zrem", "zscore", "zrangebylex", "zrangebyscore",
}

// RedisUnitURL creates or updates, with the admin connection adminURL, the
// ACL user of one isolated unit, allowed the keys of apps (app names) and
// of every app under the directories roots (real paths: a root's apps are
// named by their real paths), and returns the URL its processes use: the
// same server and database as adminURL, that user and its password. The
// user's name comes from unit and its password is derived from adminURL's
// password (HMAC-SHA256), so every host sharing the Redis computes the same
// pair for the same unit and restarts reuse it. An adminURL without a
// password is returned unchanged: such a server lets anyone in. If only
// the ACL SETUSER fails (Redis down, no right to create users), the unit's
// URL is returned with the error: it never falls back to adminURL.
func RedisUnitURL(ctx context.Context, adminURL, unit string, apps, roots []string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return "", fmt.Errorf("kv: redis url: not a redis:// URL")
	}
	q := u.Query()
	sentinel := q.Has("master_name")
	var secret string
	switch {
	case sentinel:
		// The primary's credential is in the query; the user info is the
		// sentinels'.
		secret = q.Get("password")
	case u.User != nil:
		var ok bool
		if secret, ok = u.User.Password(); !ok {
			// redis://PASSWORD@host: go-redis reads a lone user info as
			// the password.
			secret = u.User.Username()
		}
	}
	if secret == "" {
		return adminURL, nil
	}
	sum := sha256.Sum256([]byte(unit))
	user := "fcgihost-unit-" + hex.EncodeToString(sum[:10])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("fcgihost redis unit user\x00" + user))
	pass := hex.EncodeToString(mac.Sum(nil))

	rules := []any{"ACL", "SETUSER", user, "reset", "on", ">" + pass, "resetchannels", "-@all"}
	for _, c := range redisUnitCommands {
		rules = append(rules, "+"+c)
	}
	pats := 0
	for _, app := range apps {
		rules = append(rules, "~"+globEscape(redisPrefix(app))+"*")
		pats++
	}
	for _, r := range roots {
		for _, p := range rootKeyPatterns(r) {
			rules = append(rules, "~"+p)
			pats++
		}
	}
	if pats == 0 {
		return "", fmt.Errorf("kv: redis unit user %s: no app and no root", unit)
	}
	cu := *u
	if sentinel {
		q.Set("username", user)
		q.Set("password", pass)
		cu.RawQuery = q.Encode()
	} else {
		cu.User = url.UserPassword(user, pass)
	}
	c, addr, err := newRedisClient(adminURL)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.Do(ctx, rules...).Err(); err != nil {
		// The URL is still the unit's (the user may exist from before).
		return cu.String(), fmt.Errorf("kv: create the Redis ACL user of %s on %s: %w (the kv URL's user needs the right to run ACL SETUSER, Redis 6 or later)", unit, addr, err)
	}
	if sentinel {
		// ACL users are not replicated: set it on every replica too, so
		// that it exists on the one a failover promotes.
		if err := setOnReplicas(ctx, adminURL, rules); err != nil {
			return cu.String(), fmt.Errorf("kv: create the Redis ACL user of %s on the replicas: %w", unit, err)
		}
	}
	return cu.String(), nil
}

// setOnReplicas runs the command args on every replica the sentinels of
// the failover URL adminURL know, with the primary's credential.
func setOnReplicas(ctx context.Context, adminURL string, args []any) error {
	u, err := url.Parse(adminURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Del("ca")
	u.RawQuery = q.Encode()
	fo, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return err
	}
	var errs []error
	for _, sa := range fo.SentinelAddrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sa, Username: fo.SentinelUsername,
			Password: fo.SentinelPassword, TLSConfig: fo.TLSConfig, DisableIdentity: true})
		reps, err := sc.Replicas(ctx, fo.MasterName).Result()
		sc.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("sentinel %s: %w", sa, err))
			continue
		}
		for _, r := range reps {
			addr := net.JoinHostPort(r["ip"], r["port"])
			opt := &redis.Options{Addr: addr, Username: fo.Username, Password: fo.Password,
				DB: fo.DB, DisableIdentity: true}
			if c, _, err := newRedisClient(adminURL); err == nil {
				opt.TLSConfig = c.Options().TLSConfig
				c.Close()
			}
			if opt.TLSConfig != nil {
				tc := opt.TLSConfig.Clone()
				tc.ServerName = r["ip"]
				opt.TLSConfig = tc
			}
			rc := redis.NewClient(opt)
			if err := rc.Do(ctx, args...).Err(); err != nil {
				errs = append(errs, fmt.Errorf("replica %s: %w", addr, err))
			}
			rc.Close()
		}
		return errors.Join(errs...) // one sentinel's view is enough
	}
	return errors.Join(errs...)
}

// rootKeyPatterns are the Redis key patterns of every app under root: for
// each length L an app name under root can have, fcgihost:L:root/*. The
// lengths are written as digit-class globs, and every length a pattern
// admits is at least len(root)+2, so the root/ a pattern asks for lies
// inside the app name (no other app's key can spell it).
func rootKeyPatterns(root string) []string {
	root = strings.TrimSuffix(root, "/")
	var out []string
	for _, g := range numberGlobs(len(root)+2, maxAppNameLen) {
		out = append(out, "fcgihost:"+g+":"+globEscape(root+"/")+"*")
	}
	return out
}

// numberGlobs returns globs matching exactly the decimal numbers lo..hi
// (no leading zeros).
func numberGlobs(lo, hi int) []string {
	var out []string
	for d := len(strconv.Itoa(lo)); d <= len(strconv.Itoa(hi)); d++ {
		a, b := lo, hi
		if min := pow10(d - 1); a < min {
			a = min
		}
		if max := pow10(d) - 1; b > max {
			b = max
		}
		if a <= b {
			out = append(out, digitGlobs(strconv.Itoa(a), strconv.Itoa(b))...)
		}
	}
	return out
}

func pow10(n int) int {
	p := 1
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// digitGlobs returns globs matching the digit strings from lo to hi, of
// equal length.
func digitGlobs(lo, hi string) []string {
	n := len(lo)
	if n == 0 {
		return []string{""}
	}
	if strings.Trim(lo, "0") == "" && strings.Trim(hi, "9") == "" {
		return []string{strings.Repeat("[0-9]", n)}
	}
	if lo[0] == hi[0] {
		var out []string
		for _, g := range digitGlobs(lo[1:], hi[1:]) {
			out = append(out, lo[:1]+g)
		}
		return out
	}
	var out []string
	for _, g := range digitGlobs(lo[1:], strings.Repeat("9", n-1)) {
		out = append(out, lo[:1]+g)
	}
	if lo[0]+1 <= hi[0]-1 {
		out = append(out, fmt.Sprintf("[%c-%c]", lo[0]+1, hi[0]-1)+strings.Repeat("[0-9]", n-1))
	}
	for _, g := range digitGlobs(strings.Repeat("0", n-1), hi[1:]) {
		out = append(out, hi[:1]+g)
	}
	return out
}

// globEscape quotes the characters Redis's glob matching gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
