package lua

// This file binds kv, http, crypto and base64.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	kvstore "github.com/fcgihost/fcgihost/kv"
	"github.com/fcgihost/fcgihost/script"
	"github.com/fcgihost/fcgihost/script/builtin"
	glua "github.com/yuin/gopher-lua"
)

// runCtx is the context of the current run, for service calls.
func (v *vm) runCtx() context.Context {
	if v.ctx != nil {
		return v.ctx
	}
	return context.Background()
}

func (v *vm) kv(L *glua.LState) script.KV {
	if v.b.opts.KV == nil {
		v.fail(&luaError{msg: "kv is not configured for this app", cause: script.ErrNotConfigured})
	}
	return v.b.opts.KV
}

// kvGet is kv.get(key) → string or nil.
func (v *vm) kvGet(L *glua.LState) int {
	kv := v.kv(L)
	val, ok, err := kv.Get(v.runCtx(), checkText(L, 1))
	if err != nil {
		return v.fail(fmt.Errorf("kv.get: %w", err))
	}
	if !ok {
		L.Push(glua.LNil)
	} else {
		L.Push(glua.LString(val))
	}
	return 1
}

// kvSet is kv.set(key, value[, {ttl = seconds}]).
func (v *vm) kvSet(L *glua.LState) int {
	kv := v.kv(L)
	key, val := checkText(L, 1), checkText(L, 2)
	var ttl time.Duration
	if opts, ok := L.Get(3).(*glua.LTable); ok {
		switch t := opts.RawGetString("ttl").(type) {
		case glua.LNumber:
			d, err := builtin.TTL("kv.set", float64(t))
			if err != nil {
				return v.fail(err)
			}
			ttl = d
		case *glua.LNilType:
		default:
			L.ArgError(3, "ttl must be a number of seconds")
		}
	} else if L.Get(3) != glua.LNil {
		L.ArgError(3, "options table expected")
	}
	if err := kv.Set(v.runCtx(), key, val, ttl); err != nil {
		return v.fail(fmt.Errorf("kv.set: %w", err))
	}
	return 0
}

// kvDelete is kv.delete(key).
func (v *vm) kvDelete(L *glua.LState) int {
	kv := v.kv(L)
	if err := kv.Delete(v.runCtx(), checkText(L, 1)); err != nil {
		return v.fail(fmt.Errorf("kv.delete: %w", err))
	}
	return 0
}

// kvIncr is kv.incr(key[, n]) → the new number.
func (v *vm) kvIncr(L *glua.LState) int {
	kv := v.kv(L)
	key := checkText(L, 1)
	n := L.OptNumber(2, 1)
	if float64(n) != float64(int64(n)) {
		L.ArgError(2, "integer expected")
	}
	got, err := kv.Incr(v.runCtx(), key, int64(n))
	if err != nil {
		return v.fail(fmt.Errorf("kv.incr: %w", err))
	}
	L.Push(glua.LNumber(got))
	return 1
}

// kvCAS is kv.cas(key, old, new) → true if the value was old (nil: absent)
// and is now new.
func (v *vm) kvCAS(L *glua.LState) int {
	kv := v.kv(L)
	key := checkText(L, 1)
	var old *string
	if L.Get(2) != glua.LNil {
		s := checkText(L, 2)
		old = &s
	}
	ok, err := kv.CAS(v.runCtx(), key, old, checkText(L, 3))
	if err != nil {
		return v.fail(fmt.Errorf("kv.cas: %w", err))
	}
	L.Push(glua.LBool(ok))
	return 1
}

// kvList is kv.list(prefix[, {limit = n, after = key}]) → sorted array of
// keys (after: those after that key, for paging).
func (v *vm) kvList(L *glua.LState) int {
	kv := v.kv(L)
	prefix := ""
	if L.Get(1) != glua.LNil {
		prefix = checkText(L, 1)
	}
	limit, after := 0, ""
	if opts, ok := L.Get(2).(*glua.LTable); ok {
		if n, ok := opts.RawGetString("limit").(glua.LNumber); ok {
			if n < 0 {
				L.ArgError(2, "limit must not be negative")
			}
			limit = int(n)
		}
		// after: the last key of the previous page (docs/storage.md).
		if a, ok := opts.RawGetString("after").(glua.LString); ok {
			after = string(a)
		}
	}
	var (
		keys []string
		err  error
	)
	if p, ok := kv.(kvstore.Pager); ok && after != "" {
		keys, err = p.ListAfter(v.runCtx(), prefix, after, limit)
	} else if after != "" {
		err = fmt.Errorf("a kv store that pages: %w", script.ErrNotConfigured)
	} else {
		keys, err = kv.List(v.runCtx(), prefix, limit)
	}
	if err != nil {
		return v.fail(fmt.Errorf("kv.list: %w", err))
	}
	t := L.CreateTable(len(keys), 0)
	for _, k := range keys {
		t.Append(glua.LString(k))
	}
	t.Metatable = v.arrayMT
	L.Push(t)
	return 1
}

// kvBatch is kv.batch{ {op = "set", key =, value =, ttl =}, {op =
// "delete", key =}, … }: every operation or none (kv.Batcher).
func (v *vm) kvBatch(L *glua.LState) int {
	s := v.kv(L)
	b, ok := s.(kvstore.Batcher)
	if !ok {
		v.fail(&luaError{msg: "kv.batch: this kv store has no batches", cause: script.ErrNotConfigured})
	}
	list := L.CheckTable(1)
	n := list.Len()
	if n > kvstore.MaxBatchOps {
		L.ArgError(1, fmt.Sprintf("%d operations (limit %d)", n, kvstore.MaxBatchOps))
	}
	text := func(i int, t *glua.LTable, name string) string {
		switch x := t.RawGetString(name).(type) {
		case glua.LString:
			return string(x)
		case glua.LNumber:
			return x.String()
		default:
			L.ArgError(1, fmt.Sprintf("operation %d: %s must be a string, got %s", i, name, x.Type()))
			return ""
		}
	}
	ops := make([]kvstore.Op, 0, n)
	total := 0
	for i := 1; i <= n; i++ {
		t, ok := list.RawGetInt(i).(*glua.LTable)
		if !ok {
			L.ArgError(1, fmt.Sprintf("operation %d must be a table {op =, key =, value =, ttl =}", i))
		}
		op := kvstore.Op{Key: text(i, t, "key")}
		switch glua.LVAsString(t.RawGetString("op")) {
		case "set":
			op.Kind, op.Value = kvstore.OpSet, text(i, t, "value")
			switch ttl := t.RawGetString("ttl").(type) {
			case glua.LNumber:
				d, err := builtin.TTL(fmt.Sprintf("kv.batch: operation %d", i), float64(ttl))
				if err != nil {
					return v.fail(err)
				}
				op.TTL = d
			case *glua.LNilType:
			default:
				L.ArgError(1, fmt.Sprintf("operation %d: ttl must be a number of seconds", i))
			}
		case "delete":
			op.Kind = kvstore.OpDelete
		default:
			L.ArgError(1, fmt.Sprintf("operation %d: op must be \"set\" or \"delete\"", i))
		}
		if total += len(op.Key) + len(op.Value); total > kvstore.MaxBatchBytes {
			L.ArgError(1, fmt.Sprintf("operation %d: the batch's keys and values pass %d bytes (kv.MaxBatchBytes)", i, kvstore.MaxBatchBytes))
		}
		ops = append(ops, op)
	}
	if err := b.Batch(v.runCtx(), ops); err != nil {
		return v.fail(fmt.Errorf("kv.batch: %w", err))
	}
	return 0
}

// httpRequest is http.request{url=, method=, headers=, body=} (or
// http.request(url)) → {status=, url=, headers=, body=}; response header
// names are lower-case, repeated values joined with ", ".
func (v *vm) httpRequest(L *glua.LState) int {
	f := v.b.opts.Fetch
	if f == nil {
		return v.fail(&luaError{msg: "http.request: outbound HTTP is not configured for this app", cause: script.ErrNotConfigured})
	}
	req := &script.FetchRequest{Method: "GET", Headers: http.Header{}}
	switch a := L.Get(1).(type) {
	case glua.LString:
		req.URL = string(a)
	case *glua.LTable:
		req.URL = glua.LVAsString(a.RawGetString("url"))
		if m := glua.LVAsString(a.RawGetString("method")); m != "" {
			req.Method = strings.ToUpper(m)
		}
		switch b := a.RawGetString("body").(type) {
		case glua.LString:
			req.Body = []byte(string(b))
		case *glua.LNilType:
		default:
			L.ArgError(1, "body must be a string")
		}
		if h, ok := a.RawGetString("headers").(*glua.LTable); ok {
			h.ForEach(func(k, val glua.LValue) {
				name := glua.LVAsString(k)
				switch x := val.(type) {
				case *glua.LTable:
					for i := 1; i <= x.Len(); i++ {
						req.Headers.Add(name, glua.LVAsString(x.RawGetInt(i)))
					}
				default:
					req.Headers.Add(name, glua.LVAsString(x))
				}
			})
		}
	default:
		L.ArgError(1, "table {url=, method=, headers=, body=} or url string expected")
	}
	if req.URL == "" {
		L.ArgError(1, "url missing")
	}
	resp, err := f.Fetch(v.runCtx(), req)
	if err != nil {
		return v.fail(fmt.Errorf("http.request: %w", err)) // the fetch error names the URL
	}
	out := L.CreateTable(0, 4)
	out.RawSetString("status", glua.LNumber(resp.Status))
	u := resp.URL
	if u == "" {
		u = req.URL
	}
	out.RawSetString("url", glua.LString(u))
	ht := L.CreateTable(0, len(resp.Headers))
	names := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		ht.RawSetString(strings.ToLower(k), glua.LString(strings.Join(resp.Headers[k], ", ")))
	}
	out.RawSetString("headers", ht)
	out.RawSetString("body", glua.LString(string(resp.Body)))
	L.Push(out)
	return 1
}

// cryptoSHA256 is crypto.sha256(s) → lower-case hex.
func cryptoSHA256(L *glua.LState) int {
	sum := sha256.Sum256(unsafeBytes(checkText(L, 1)))
	L.Push(glua.LString(hex.EncodeToString(sum[:])))
	return 1
}

// cryptoHMACSHA256 is crypto.hmac_sha256(key, s) → lower-case hex.
func cryptoHMACSHA256(L *glua.LState) int {
	m := hmac.New(sha256.New, []byte(checkText(L, 1)))
	m.Write(unsafeBytes(checkText(L, 2)))
	L.Push(glua.LString(hex.EncodeToString(m.Sum(nil))))
	return 1
}

// base64Encode is base64.encode(s), standard alphabet with padding.
func base64Encode(L *glua.LState) int {
	L.Push(glua.LString(base64.StdEncoding.EncodeToString(unsafeBytes(checkText(L, 1)))))
	return 1
}

// base64Decode is base64.decode(s): standard alphabet, padding optional;
// invalid input raises an error.
func (v *vm) base64Decode(L *glua.LState) int {
	s := strings.TrimRight(checkText(L, 1), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		L.RaiseError("base64.decode: invalid input: %v", err)
	}
	L.Push(glua.LString(string(b)))
	return 1
}
