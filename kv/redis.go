package kv

// The Redis backend.
//
// Keys of app APP live under the prefix P = "fcgihost:" + len(APP) + ":" +
// APP + ":" (the length makes the prefix unambiguous whatever APP holds):
//   - P+"k:"+KEY: the value, a string with a native TTL (PX) if set;
//   - P+"i": sorted set of the app's keys, all score 0 (List's lex index);
//   - P+"e": sorted set key → expiry in Unix ms, for keys with a TTL;
//   - P+"s": hash key → len(key)+len(value), the key's quota charge;
//   - P+"m": hash {n: key count, b: byte total}, the quota counters.
// Every write is one Lua script, so a write, its bookkeeping and its quota
// check are atomic server-side; a script that refuses a write (quota, not
// an integer) changes nothing but expired bookkeeping. The data key expires
// natively; its bookkeeping is dropped by the next writes of the app (each
// sweeps up to 16 expired entries, and all of them before refusing a write
// for quota).

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fcgihost/fcgihost/script"
)

// luaPrelude is shared by every script; ARGV[1] is the app prefix.
const luaPrelude = `
local p = ARGV[1]
local M, I, E, S = p .. 'm', p .. 'i', p .. 'e', p .. 's'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function dk(k) return p .. 'k:' .. k end
local function size(k)
  local sz = redis.call('HGET', S, k)
  if sz then return tonumber(sz) end
  return nil
end
local function drop(k)
  local sz = size(k)
  redis.call('DEL', dk(k))
  if sz then
    redis.call('HDEL', S, k)
    redis.call('ZREM', I, k)
    redis.call('ZREM', E, k)
    redis.call('HINCRBY', M, 'n', -1)
    redis.call('HINCRBY', M, 'b', -sz)
  end
end
local function expire1(k)
  local e = redis.call('ZSCORE', E, k)
  if e and tonumber(e) <= now then drop(k) end
end
local function sweep(max)
  local ks
  if max then
    ks = redis.call('ZRANGEBYSCORE', E, '-inf', now, 'LIMIT', 0, max)
  else
    ks = redis.call('ZRANGEBYSCORE', E, '-inf', now)
  end
  for _, k in ipairs(ks) do drop(k) end
end
local function overq(maxn, maxb, dn, db)
  local c = redis.call('HMGET', M, 'n', 'b')
  local n, b = tonumber(c[1] or 0), tonumber(c[2] or 0)
  if maxn > 0 and dn > 0 and n + dn > maxn then
    return string.format('%d keys, limit %d', n + dn, maxn)
  end
  if maxb > 0 and db > 0 and b + db > maxb then
    return string.format('%d bytes, limit %d', b + db, maxb)
  end
  return nil
end
local function quota(maxn, maxb, dn, db)
  if not overq(maxn, maxb, dn, db) then return nil end
  sweep(nil)
  return overq(maxn, maxb, dn, db)
end
local function put(k, v, ttl)
  local old = size(k)
  local sz = #k + #v
  if old then
    redis.call('HINCRBY', M, 'b', sz - old)
  else
    redis.call('HINCRBY', M, 'n', 1)
    redis.call('HINCRBY', M, 'b', sz)
    redis.call('ZADD', I, 0, k)
  end
  redis.call('HSET', S, k, sz)
  if ttl > 0 then
    redis.call('SET', dk(k), v, 'PX', ttl)
    redis.call('ZADD', E, now + ttl, k)
  else
    redis.call('SET', dk(k), v)
    redis.call('ZREM', E, k)
  end
end
local function delta(k, sz)
  local old = size(k)
  if old then return 0, sz - old end
  return 1, sz
end
`

// Script results are tables {code, detail}: code 1 done, 0 not swapped
// (CAS), -1 over quota, -2 not an integer.
var (
	// ARGV: prefix, maxKeys, maxBytes, key, value, ttlMillis
	luaSet = redis.NewScript(luaPrelude + `
local maxn, maxb, k, v, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
sweep(16)
expire1(k)
local dn, db = delta(k, #k + #v)
local err = quota(maxn, maxb, dn, db)
if err then return {-1, err} end
put(k, v, ttl)
return {1}
`)
	// ARGV: prefix, key
	luaDelete = redis.NewScript(luaPrelude + `
sweep(16)
drop(ARGV[2])
return {1}
`)
	// ARGV: prefix, maxKeys, maxBytes, key, n
	luaIncr = redis.NewScript(luaPrelude + `
local maxn, maxb, k = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
sweep(16)
expire1(k)
local old = redis.call('GET', dk(k))
local r = redis.pcall('INCRBY', dk(k), ARGV[5])
if type(r) == 'table' and r.err then return {-2, r.err} end
local s = redis.call('GET', dk(k))
local dn, db = delta(k, #k + #s)
local err = quota(maxn, maxb, dn, db)
if err then
  if old then redis.call('SET', dk(k), old, 'KEEPTTL') else redis.call('DEL', dk(k)) end
  return {-1, err}
end
if dn == 1 then
  redis.call('HINCRBY', M, 'n', 1)
  redis.call('ZADD', I, 0, k)
end
redis.call('HINCRBY', M, 'b', db)
redis.call('HSET', S, k, #k + #s)
return {1, s}
`)
	// ARGV: prefix, maxKeys, maxBytes, key, hasOld ("1"/"0"), old, new
	luaCAS = redis.NewScript(luaPrelude + `
local maxn, maxb, k, v = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[7]
sweep(16)
expire1(k)
local cur = redis.call('GET', dk(k))
if ARGV[5] == '1' then
  if cur ~= ARGV[6] then return {0} end
elseif cur then
  return {0}
end
local dn, db = delta(k, #k + #v)
local err = quota(maxn, maxb, dn, db)
if err then return {-1, err} end
put(k, v, 0)
return {1}
`)
	// ARGV: prefix, maxKeys, maxBytes, then per op: kind ("s"/"d"), key, value, ttlMillis
	luaBatch = redis.NewScript(luaPrelude + `
local maxn, maxb = tonumber(ARGV[2]), tonumber(ARGV[3])
sweep(16)
local state, dn, db = {}, 0, 0
for i = 4, #ARGV, 4 do
  local kind, k, v = ARGV[i], ARGV[i+1], ARGV[i+2]
  if state[k] == nil then
    expire1(k)
    state[k] = size(k) or false
  end
  local cur = state[k]
  if kind == 's' then
    local sz = #k + #v
    if cur then db = db + sz - cur else dn = dn + 1; db = db + sz end
    state[k] = sz
  else
    if cur then dn = dn - 1; db = db - cur end
    state[k] = false
  end
end
local err = quota(maxn, maxb, dn, db)
if err then return {-1, err} end
for i = 4, #ARGV, 4 do
  if ARGV[i] == 's' then put(ARGV[i+1], ARGV[i+2], tonumber(ARGV[i+3])) else drop(ARGV[i+1]) end
end
return {1}
`)
	// ARGV: prefix, lexMin, lexMax, limit
	luaList = redis.NewScript(`
local p, lim = ARGV[1], tonumber(ARGV[4])
local out, off = {}, 0
while #out < lim do
  local want = lim - #out
  local ks = redis.call('ZRANGEBYLEX', p .. 'i', ARGV[2], ARGV[3], 'LIMIT', off, want)
  for _, k in ipairs(ks) do
    if redis.call('EXISTS', p .. 'k:' .. k) == 1 then out[#out + 1] = k end
  end
  if #ks < want then break end
  off = off + #ks
end
return out
`)
)

// redisStore is the Redis Store.
type redisStore struct {
	c      *redis.Client
	closed atomic.Bool
}

var _ Store = (*redisStore)(nil)

// OpenRedis connects to the Redis server url names ("redis://[user:pass@]
// HOST:PORT/DB", or rediss:// for TLS; see newRedisClient for the other
// forms) and checks it answers within ctx.
func OpenRedis(ctx context.Context, url string) (Store, error) {
	c, addr, err := newRedisClient(url)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("kv: redis %s: %w", addr, err)
	}
	return &redisStore{c: c}, nil
}

// newRedisClient makes the client of url (docs/storage.md, "Redis"):
//   - redis://[USER:PASSWORD@]HOST:PORT/DB, or rediss:// for TLS, with
//     ?ca=FILE to trust the PEM certificates of FILE (a private CA)
//     instead of the system's;
//   - with ?master_name=NAME, HOST:PORT (and each &addr=HOST:PORT) is a
//     Redis Sentinel, and the client follows NAME's primary across
//     failovers (go-redis's failover client); the user info then
//     authenticates to the sentinels, and &username=, &password= to the
//     primary.
//
// It returns the client and the address to name in errors.
func newRedisClient(rawURL string) (*redis.Client, string, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("kv: redis url: %w", err)
	}
	q := u.Query()
	ca := q.Get("ca")
	q.Del("ca")
	u.RawQuery = q.Encode()
	var pool *x509.CertPool
	if ca != "" {
		if u.Scheme != "rediss" {
			return nil, "", fmt.Errorf("kv: redis url: ca=%s needs rediss:// (TLS)", ca)
		}
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, "", fmt.Errorf("kv: redis url: ca: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("kv: redis url: ca: no PEM certificate in %s", ca)
		}
	}
	if q.Has("master_name") {
		fo, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("kv: redis url: %w", err)
		}
		fo.ContextTimeoutEnabled = true // a request's deadline bounds every call
		fo.DisableIdentity = true
		if pool != nil {
			fo.TLSConfig.RootCAs = pool
		}
		desc := fmt.Sprintf("primary %q of sentinels %s", fo.MasterName, strings.Join(fo.SentinelAddrs, ","))
		return redis.NewFailoverClient(fo), desc, nil
	}
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("kv: redis url: %w", err)
	}
	opt.ContextTimeoutEnabled = true // a request's deadline bounds every call
	opt.DisableIdentity = true
	if pool != nil {
		opt.TLSConfig.RootCAs = pool
	}
	return redis.NewClient(opt), opt.Addr, nil
}

// Close closes the connection pool.
func (s *redisStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("kv: close redis: %w", err)
	}
	return nil
}

// Namespace returns app's namespace.
func (s *redisStore) Namespace(app string, q Quota) script.KV {
	return &redisNS{s: s, p: redisPrefix(app), q: q}
}

// redisPrefix is the unambiguous key prefix of app.
func redisPrefix(app string) string {
	return "fcgihost:" + strconv.Itoa(len(app)) + ":" + app + ":"
}

// redisNS is one app's namespace in a redisStore.
type redisNS struct {
	s *redisStore
	p string
	q Quota
}

var (
	_ script.KV = (*redisNS)(nil)
	_ Batcher   = (*redisNS)(nil)
	_ Pager     = (*redisNS)(nil)
)

func (ns *redisNS) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.ErrClosed) {
		err = ErrClosed
	}
	return fmt.Errorf("kv %s %q: %w", op, truncate(key, 64), err)
}

// run runs a write script and decodes its {code, detail} answer.
func (ns *redisNS) run(ctx context.Context, sc *redis.Script, args ...any) (int64, string, error) {
	if ns.s.closed.Load() {
		return 0, "", ErrClosed
	}
	res, err := sc.Run(ctx, ns.s.c, nil, append([]any{ns.p}, args...)...).Slice()
	if err != nil {
		return 0, "", err
	}
	if len(res) == 0 {
		return 0, "", errors.New("redis: empty script answer")
	}
	code, ok := res[0].(int64)
	if !ok {
		return 0, "", fmt.Errorf("redis: script answered %T", res[0])
	}
	var detail string
	if len(res) > 1 {
		detail, _ = res[1].(string)
	}
	switch code {
	case -1:
		return code, detail, fmt.Errorf("%s: %w", detail, ErrQuota)
	case -2:
		return code, detail, fmt.Errorf("%s: %w", detail, ErrNotInteger)
	}
	return code, detail, nil
}

// Get returns key's value if it exists.
func (ns *redisNS) Get(ctx context.Context, key string) (string, bool, error) {
	if err := checkKey(key); err != nil {
		return "", false, ns.wrap("get", key, err)
	}
	if ns.s.closed.Load() {
		return "", false, ns.wrap("get", key, ErrClosed)
	}
	v, err := ns.s.c.Get(ctx, ns.p+"k:"+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, ns.wrap("get", key, err)
	}
	return v, true, nil
}

// Set stores value under key, expiring after ttl if ttl > 0.
func (ns *redisNS) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := firstErr(checkKey(key), checkValue(value), checkTTL(ttl)); err != nil {
		return ns.wrap("set", key, err)
	}
	_, _, err := ns.run(ctx, luaSet, ns.q.MaxKeys, ns.q.MaxBytes, key, value, ttlMillis(ttl))
	return ns.wrap("set", key, err)
}

// Delete removes key.
func (ns *redisNS) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return ns.wrap("delete", key, err)
	}
	_, _, err := ns.run(ctx, luaDelete, key)
	return ns.wrap("delete", key, err)
}

// Incr adds n to key's integer value (missing = 0), keeping its TTL.
func (ns *redisNS) Incr(ctx context.Context, key string, n int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, ns.wrap("incr", key, err)
	}
	_, s, err := ns.run(ctx, luaIncr, ns.q.MaxKeys, ns.q.MaxBytes, key, n)
	if err != nil {
		return 0, ns.wrap("incr", key, err)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ns.wrap("incr", key, fmt.Errorf("redis answered %q: %w", s, err))
	}
	return v, nil
}

// CAS sets key to new (without TTL) if its value is *old, or if it is
// absent when old is nil.
func (ns *redisNS) CAS(ctx context.Context, key string, old *string, new string) (bool, error) {
	if err := firstErr(checkKey(key), checkValue(new)); err != nil {
		return false, ns.wrap("cas", key, err)
	}
	has, o := "0", ""
	if old != nil {
		has, o = "1", *old
	}
	code, _, err := ns.run(ctx, luaCAS, ns.q.MaxKeys, ns.q.MaxBytes, key, has, o, new)
	if err != nil {
		return false, ns.wrap("cas", key, err)
	}
	return code == 1, nil
}

// List returns up to limit live keys starting with prefix, in byte order.
func (ns *redisNS) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	return ns.ListAfter(ctx, prefix, "", limit)
}

// ListAfter is List from the first key after after.
func (ns *redisNS) ListAfter(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	limit = listLimit(limit)
	if len(prefix) > MaxKeyLen { // no key can have it
		return []string{}, ns.wrap("list", prefix, ctx.Err())
	}
	if ns.s.closed.Load() {
		return nil, ns.wrap("list", prefix, ErrClosed)
	}
	lo, hi := lexRange(prefix)
	if after != "" && after >= prefix {
		lo = "(" + after
	}
	keys, err := luaList.Run(ctx, ns.s.c, nil, ns.p, lo, hi, limit).StringSlice()
	if err != nil {
		return nil, ns.wrap("list", prefix, err)
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}

// Batch applies ops in one script: all of them or, on any error (quota
// included), none.
func (ns *redisNS) Batch(ctx context.Context, ops []Op) error {
	if err := checkOps(ops); err != nil {
		return fmt.Errorf("kv batch: %w", err)
	}
	if len(ops) == 0 {
		return ctx.Err()
	}
	args := []any{ns.q.MaxKeys, ns.q.MaxBytes}
	for _, op := range ops {
		kind := "d"
		if op.Kind == OpSet {
			kind = "s"
		}
		args = append(args, kind, op.Key, op.Value, ttlMillis(op.TTL))
	}
	if _, _, err := ns.run(ctx, luaBatch, args...); err != nil {
		if errors.Is(err, redis.ErrClosed) {
			err = ErrClosed
		}
		return fmt.Errorf("kv batch: %w", err)
	}
	return nil
}

// lexRange is the ZRANGEBYLEX bounds of the keys starting with prefix.
func lexRange(prefix string) (lo, hi string) {
	if prefix == "" {
		return "-", "+"
	}
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return "[" + prefix, "(" + string(b[:i+1])
		}
	}
	return "[" + prefix, "+"
}
