// Package callwire is the encoding of a plugin call between the serving
// process and the child process of an app with isolation = "process"
// (docs/embedding.md, "The process model"): the arguments going in, the
// result or the error coming back.
//
// It is JSON with a few rules so that every value of the plugin API
// (script.Normalize) comes back exactly:
//
//   - nil, bool, string (valid UTF-8), []any and map[string]any are
//     JSON's null, true/false, string, array and object;
//   - an int64 is a JSON number with no '.' or exponent; a float64 always
//     has one ("2.0", "1e+300", "-0.0"), so the two never mix up;
//   - values JSON lacks are one-key objects whose key starts with '$':
//     {"$b":"BASE64"} a []byte, {"$s":"BASE64"} a string that is not valid
//     UTF-8 (a Lua string holding bytes), {"$f":"NaN"|"+Inf"|"-Inf"} a
//     float64 JSON cannot write;
//   - so that no map is taken for one of these, a map key starting with
//     '$' is written with one more '$' in front (and the reader takes it
//     off).
package callwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fcgihost/fcgihost/script"
)

// ErrEncoding: a value of a type the plugin API does not know, nesting
// past MaxDepth, or input that is not this encoding. It wraps
// script.ErrValue.
var ErrEncoding = fmt.Errorf("callwire: bad value: %w", script.ErrValue)

// MaxDepth bounds nesting on both sides: script.MaxValueDepth, plus the
// list of a call's arguments (an answer from a child, which may run
// hostile code, is bounded like a value of the script).
const MaxDepth = script.MaxValueDepth + 1

// Append appends the encoding of v (a normalized value: nil, bool, int64,
// float64, string, []byte, []any, map[string]any) to b.
func Append(b []byte, v any) ([]byte, error) { return appendValue(b, v, 0) }

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, fmt.Errorf("%w: nested more than %d deep", ErrEncoding, MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, `{"$f":"NaN"}`...), nil
		case math.IsInf(x, 1):
			return append(b, `{"$f":"+Inf"}`...), nil
		case math.IsInf(x, -1):
			return append(b, `{"$f":"-Inf"}`...), nil
		}
		n := len(b)
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
		if bytes.IndexAny(b[n:], ".e") < 0 {
			b = append(b, ".0"...)
		}
		return b, nil
	case string:
		if !utf8.ValidString(x) {
			b = append(b, `{"$s":"`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(x))
			return append(b, `"}`...), nil
		}
		return appendString(b, x), nil
	case []byte:
		b = append(b, `{"$b":"`...)
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, `"}`...), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		b = append(b, '{')
		first := true
		for k, e := range x {
			if !first {
				b = append(b, ',')
			}
			first = false
			if strings.HasPrefix(k, "$") {
				k = "$" + k
			}
			if !utf8.ValidString(k) {
				return b, fmt.Errorf("%w: a map key that is not UTF-8", ErrEncoding)
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
	return b, fmt.Errorf("%w: a %T", ErrEncoding, v)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // valid UTF-8: cannot fail
	return append(b, q...)
}

// Decode reads one value written by Append.
func Decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	return convert(raw, 0)
}

func convert(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: nested more than %d deep", ErrEncoding, MaxDepth)
	}
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
			}
			return f, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
		}
		return n, nil
	case []any:
		for i, e := range x {
			c, err := convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				s, isStr := e.(string)
				switch k {
				case "$b", "$s":
					if !isStr {
						return nil, fmt.Errorf("%w: %s", ErrEncoding, k)
					}
					raw, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
					}
					if k == "$s" {
						return string(raw), nil
					}
					return raw, nil
				case "$f":
					switch s {
					case "NaN":
						return math.NaN(), nil
					case "+Inf":
						return math.Inf(1), nil
					case "-Inf":
						return math.Inf(-1), nil
					}
					return nil, fmt.Errorf("%w: $f %q", ErrEncoding, s)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if strings.HasPrefix(k, "$") {
				if !strings.HasPrefix(k, "$$") {
					return nil, fmt.Errorf("%w: key %q", ErrEncoding, k)
				}
				k = k[1:]
			}
			c, err := convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return v, nil // nil, bool, string
}
