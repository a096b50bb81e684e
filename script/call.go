package script

// This file is the engine-neutral half of calling a script function from
// Go (docs/embedding.md): the Caller a VM implements, its errors, and the
// normal form of the JSON-like values that cross between Go and a script.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
)

// Caller is implemented by the handler-style VMs of both engines: Call
// calls the function the app exports under fn (JS module.exports.NAME or
// export function NAME; Lua a function in the table the main chunk
// returns) with args, and returns its result. Values cross as
// docs/embedding.md ("Values") says. ctx bounds the call as it bounds a
// request (an interrupted call leaves the VM unhealthy). A missing
// function is an error wrapping ErrNoFunction; a value that cannot cross,
// one wrapping ErrValue; a failure of the script, a *ScriptError.
type Caller interface {
	Call(ctx context.Context, fn string, args []any) (any, error)
}

// Errors of Caller.Call.
var (
	// ErrNoFunction: the app exports no function of that name.
	ErrNoFunction = errors.New("no such exported function")
	// ErrValue: a value cannot be converted between Go and the script.
	ErrValue = errors.New("value cannot cross between Go and the script")
)

// MaxValueDepth bounds the nesting of a value converted between Go and a
// script (a cycle ends here).
const MaxValueDepth = 200

// MaxSafeInt is the largest integer a float64 (a JS number, a Lua 5.1
// number) holds exactly, 2^53.
const MaxSafeInt = 1 << 53

// Normalize returns a copy of v in the normal form: nil, bool, int64,
// float64, string, []byte, []any and map[string]any (other
// integer kinds become int64, float32 float64, []string and other slices
// []any, maps with string keys map[string]any, a Go error its text).
// Anything else (a func, a channel, a struct) is an error wrapping
// ErrValue. The engines convert the normal types directly and call
// Normalize for the others.
func Normalize(v any) (any, error) { return normalize(v, 0) }

func normalize(v any, depth int) (any, error) {
	if depth > MaxValueDepth {
		return nil, fmt.Errorf("nested more than %d deep: %w", MaxValueDepth, ErrValue)
	}
	switch t := v.(type) {
	case nil, bool, int64, float64, string, []byte:
		return v, nil
	case int:
		return int64(t), nil
	case int8:
		return int64(t), nil
	case int16:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint8:
		return int64(t), nil
	case uint16:
		return int64(t), nil
	case uint32:
		return int64(t), nil
	case uint:
		if uint64(t) > math.MaxInt64 {
			return float64(t), nil
		}
		return int64(t), nil
	case uint64:
		if t > math.MaxInt64 {
			return float64(t), nil
		}
		return int64(t), nil
	case float32:
		return float64(t), nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, nil
	case error:
		return t.Error(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			n, err := normalize(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = n
		}
		return out, nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("a Go %T: %w", v, ErrValue)
}

// SortedKeys returns m's keys sorted (map conversions are deterministic).
func SortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
