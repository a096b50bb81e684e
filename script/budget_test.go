package script

import (
	"errors"
	"strings"
	"testing"

	"github.com/fcgihost/fcgihost/sandbox"
)

func TestScanJSON(t *testing.T) {
	tests := []struct {
		text string
		want JSONStats
	}{
		{`[]`, JSONStats{Arrays: 1, Depth: 1}},
		{`[{},{},{}]`, JSONStats{Objects: 3, Arrays: 1, Depth: 2}},
		{` {"a" : 1, "bc":[true, null, -1.5e3, "x\"y"]} `, JSONStats{Objects: 1, Arrays: 1, Members: 2, Filled: 1, Scalars: 5, StringBytes: 1 + 2 + 4, Depth: 2}},
		{`"a:b"`, JSONStats{Scalars: 1, StringBytes: 3}},
		{`[{"a":{"b":{}}}]`, JSONStats{Objects: 3, Arrays: 1, Members: 2, Filled: 2, StringBytes: 2, Depth: 4}},
		{`"\\"`, JSONStats{Scalars: 1, StringBytes: 2}},
		{`"unterminated`, JSONStats{Scalars: 1, StringBytes: 12}},
	}
	for _, tt := range tests {
		if got := ScanJSON(tt.text, MaxJSONDepth); got != tt.want {
			t.Errorf("ScanJSON(%s) = %+v, want %+v", tt.text, got, tt.want)
		}
		if got := ScanJSON([]byte(tt.text), MaxJSONDepth); got != tt.want {
			t.Errorf("ScanJSON([]byte %s) = %+v, want %+v", tt.text, got, tt.want)
		}
	}
	// Depth stops the scan early.
	deep := strings.Repeat("[", 50) + strings.Repeat("]", 50)
	if st := ScanJSON(deep, 10); st.Depth != 11 || st.Arrays != 11 {
		t.Errorf("deep: %+v, want a stop at depth 11", st)
	}
}

func TestScanJSON_NoAllocs(t *testing.T) {
	text := []byte(`{"a":[1,2,{"b":"c"}],"d":null}`)
	if n := testing.AllocsPerRun(100, func() { ScanJSON(text, MaxJSONDepth) }); n != 0 {
		t.Errorf("ScanJSON allocates %v times", n)
	}
}

var testCost = ValueCost{Object: 100, Array: 100, Member: 50, Filled: 200, Scalar: 20, Byte: 1, Field: 500}

func TestCheckJSON(t *testing.T) {
	b := NewBudget(sandbox.Limits{MemoryLimit: 1 << 20}, testCost)
	n := (1 << 20) / 2 / 100 // {} that fit in half the memory_limit
	fits := "[" + strings.TrimSuffix(strings.Repeat("{},", n-2), ",") + "]"
	over := "[" + strings.TrimSuffix(strings.Repeat("{},", n+1), ",") + "]"
	if err := CheckJSON(b, "request body", fits, true); err != nil {
		t.Errorf("fits: %v", err)
	}
	err := CheckJSON(b, "request body", over, true)
	var ve *ValuesError
	if !errors.As(err, &ve) || !errors.Is(err, ErrTooManyValues) || errors.Is(err, sandbox.ErrTooLarge) {
		t.Fatalf("over, from the client: %v, want a *ValuesError wrapping ErrTooManyValues", err)
	}
	if ve.N != int64(n+2) || ve.Limit != int64(n)-1 && ve.Limit != int64(n) {
		t.Errorf("N %d limit %d, want %d and about %d", ve.N, ve.Limit, n+2, n)
	}
	if !strings.HasPrefix(err.Error(), "request body has too many JSON values: ") {
		t.Errorf("message %q", err)
	}
	err = CheckJSON(b, "JSON.parse", over, false)
	if !errors.Is(err, sandbox.ErrTooLarge) || errors.Is(err, ErrTooManyValues) {
		t.Errorf("over, made by the script: %v, want one wrapping sandbox.ErrTooLarge", err)
	}
	deep := strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)
	if err := CheckJSON(b, "request body", deep, true); !errors.Is(err, ErrBadRequest) {
		t.Errorf("too deep from the client: %v, want ErrBadRequest", err)
	}
	if err := CheckJSON(b, "JSON.parse", deep, false); !errors.Is(err, sandbox.ErrTooLarge) {
		t.Errorf("too deep from the script: %v, want sandbox.ErrTooLarge", err)
	}
}

func TestCheckFields(t *testing.T) {
	b := NewBudget(sandbox.Limits{MemoryLimit: 1 << 20}, testCost)
	many := strings.Repeat("a&", 4000) // 4000 × 500 > 1 MiB
	few := strings.Repeat("a&", 100)
	req := func(ct, body string) *Request {
		return &Request{Params: map[string]string{"CONTENT_TYPE": ct}, Body: []byte(body)}
	}
	mp := func(n int) string {
		return strings.Repeat("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n", n) + "--b--\r\n"
	}
	tests := []struct {
		name string
		err  error
		over bool
	}{
		{"query over", b.CheckQuery(many), true},
		{"query fits", b.CheckQuery(few), false},
		{"cookies over", b.CheckCookies(strings.Repeat("c=1; ", 4000)), true},
		{"cookies fit", b.CheckCookies("a=1; b=2"), false},
		{"urlencoded over", b.CheckForm(req("application/x-www-form-urlencoded", many)), true},
		{"urlencoded fits", b.CheckForm(req("application/x-www-form-urlencoded", few)), false},
		{"multipart over", b.CheckForm(req("multipart/form-data; boundary=b", mp(4000))), true},
		{"multipart fits", b.CheckForm(req("multipart/form-data; boundary=b", mp(10))), false},
		{"other type", b.CheckForm(req("text/plain", many)), false},
	}
	for _, tt := range tests {
		if tt.over != errors.Is(tt.err, ErrTooManyValues) {
			t.Errorf("%s: err = %v, want over budget: %v", tt.name, tt.err, tt.over)
		}
	}
}
