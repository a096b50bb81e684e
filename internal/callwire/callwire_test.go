package callwire

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/pool"
	"github.com/fcgihost/fcgihost/script"
)

// TestRoundTrip: every value of the plugin API comes back with its type
// and value.
func TestRoundTrip(t *testing.T) {
	deep := any("leaf")
	for range script.MaxValueDepth {
		deep = []any{deep}
	}
	for _, v := range []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		0.0, 2.0, -2.5, 1e300, 5e-324, math.Inf(1), math.Inf(-1), math.MaxFloat64,
		"", "héllo\x00\n\"\\", "\xff\xfe bytes", []byte{}, []byte{0, 1, 255},
		[]any{}, []any{nil, int64(1), 1.0, []any{nil}}, map[string]any{},
		map[string]any{"$b": "not bytes", "$$x": nil, "$f": 1.5, "": []byte("k"), "n": nil, "m": map[string]any{"$s": int64(2)}},
		map[string]any{"$b": "AAEC"}, deep,
	} {
		b, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(%#v): %v", v, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %#v = %#v (wire %s)", v, got, b)
		}
	}
	// -0 and NaN, which DeepEqual cannot compare.
	b, _ := Append(nil, []any{math.Copysign(0, -1), math.NaN()})
	got, err := Decode(b)
	if l, ok := got.([]any); err != nil || !ok || !math.Signbit(l[0].(float64)) || !math.IsNaN(l[1].(float64)) {
		t.Errorf("-0, NaN: %#v (wire %s), %v", got, b, err)
	}
}

func TestRefused(t *testing.T) {
	for _, v := range []any{int(1), []string{"a"}, struct{}{}, map[string]any{"\xff": 1}} {
		if _, err := Append(nil, v); !errors.Is(err, ErrEncoding) {
			t.Errorf("Append(%#v): %v, want ErrEncoding", v, err)
		}
	}
	deep := strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	for _, s := range []string{deep, ``, `{`, `{"$b": 1}`, `{"$f": "x"}`, `{"$x": 1}`, `1e999`, `99999999999999999999`, `{"$b":"!!"}`} {
		if _, err := Decode([]byte(s)); !errors.Is(err, ErrEncoding) || !errors.Is(err, script.ErrValue) {
			t.Errorf("Decode(%s): %v, want ErrEncoding", s, err)
		}
	}
}

// TestErrors: an error comes back with its type, sentinel and message.
func TestErrors(t *testing.T) {
	se := &script.ScriptError{App: "a", File: "/x/a.js", Line: 3, Col: 7, Stack: "at f (/x/a.js:3:7)", Err: errors.New("Error: boom")}
	to := &script.ScriptError{App: "a", File: "/x/a.js", Line: 1, Err: context.DeadlineExceeded}
	val := &script.ScriptError{App: "a", Err: errors.Join(errors.New("argument 1"), script.ErrValue)}
	for _, c := range []struct {
		err  error
		want error
	}{
		{se, nil}, {to, context.DeadlineExceeded}, {val, script.ErrValue},
		{errors.Join(errors.New("f"), script.ErrNoFunction), script.ErrNoFunction},
		{errors.Join(errors.New("q"), pool.ErrQueueFull), pool.ErrQueueFull},
		{ErrNotCallable, ErrNotCallable}, {context.Canceled, context.Canceled},
		{errors.New("plain"), nil},
	} {
		_, err := DecodeResult(AppendResult(nil, nil, c.err))
		if err == nil || err.Error() != c.err.Error() {
			t.Errorf("%v came back as %v", c.err, err)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%v came back as %v, not wrapping %v", c.err, err, c.want)
		}
		var got *script.ScriptError
		if errors.As(c.err, new(*script.ScriptError)) != errors.As(err, &got) {
			t.Errorf("%v: type %T", c.err, err)
		}
		if want := (*script.ScriptError)(nil); errors.As(c.err, &want) && (got.File != want.File || got.Line != want.Line || got.Col != want.Col || got.Stack != want.Stack || got.App != want.App || got.Timeout() != want.Timeout()) {
			t.Errorf("%#v came back as %#v", want, got)
		}
	}
	// A result that cannot be encoded is an ErrValue.
	if _, err := DecodeResult(AppendResult(nil, struct{}{}, nil)); !errors.Is(err, script.ErrValue) || !strings.Contains(err.Error(), "result") {
		t.Errorf("bad result: %v", err)
	}
}
