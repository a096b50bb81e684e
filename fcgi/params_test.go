package fcgi

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// Golden vectors for the four length-form combinations (FastCGI 1.0 §3.4).
func TestPairEncoding(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("v", 200)
	longName := strings.Repeat("N", 130)
	tests := []struct {
		name, n, v string
		head       string // the length bytes
	}{
		{"11", "AB", "xyz", "02 03"},
		{"14", "AB", long, "02 800000c8"},
		{"41", longName, "xyz", "80000082 03"},
		{"44", longName, long, "80000082 800000c8"},
		{"empty value", "A", "", "01 00"},
		{"127 boundary", "A", strings.Repeat("x", 127), "01 7f"},
		{"128 boundary", "A", strings.Repeat("x", 128), "01 80000080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendPair(nil, tt.n, tt.v)
			want := append(unhex(t, tt.head), tt.n+tt.v...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
			m, err := DecodeParams(got)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 1 || m[tt.n] != tt.v {
				t.Errorf("decoded %q", m)
			}
		})
	}
}

func TestDecodeParamsErrors(t *testing.T) {
	t.Parallel()
	good := appendPair(appendPair(nil, "A", "1"), "LONG", strings.Repeat("x", 300))
	for cut := 1; cut < len(good); cut++ {
		if cut == 4 { // exactly after the first pair: valid
			continue
		}
		if _, err := DecodeParams(good[:cut]); err == nil {
			t.Errorf("truncated at %d: no error", cut)
		}
	}
	if _, err := DecodeParams(unhex(t, "ffffffff 00")); err == nil {
		t.Error("huge length: no error")
	}
}

func TestParamsRoundTrip(t *testing.T) {
	t.Parallel()
	in := map[string]string{"SCRIPT_FILENAME": "/x.js", "EMPTY": "", "": "nameless", "BIG": strings.Repeat("z", 70000)}
	m, err := DecodeParams(EncodeParams(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(m, in) {
		t.Errorf("round trip changed the params")
	}
}
