package fcgi

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden byte vectors for the record encoding (FastCGI 1.0 §3.3, §5, §8).
func TestRecordEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"begin responder keep", begin(1, RoleResponder, true),
			"01 01 0001 0008 00 00  0001 01 0000000000"},
		{"begin authorizer", begin(0x1234, RoleAuthorizer, false),
			"01 01 1234 0008 00 00  0002 00 0000000000"},
		{"end request", appendEndRequest(nil, 2, 0x01020304, StatusOverloaded),
			"01 03 0002 0008 00 00  01020304 02 000000"},
		{"unknown type", appendUnknownType(nil, 42),
			"01 0b 0000 0008 00 00  2a 00000000000000"},
		{"empty stdout", appendHeader(nil, typeStdout, 1, 0),
			"01 06 0001 0000 00 00"},
		{"stdout 1 byte padded to 8", appendRecord(nil, typeStdout, 1, []byte("x")),
			"01 06 0001 0001 07 00  78 00000000000000"},
		{"stderr 8 bytes no padding", appendRecord(nil, typeStderr, 3, []byte("abcdefgh")),
			"01 07 0003 0008 00 00  6162636465666768"},
		{"abort", abortRec(9),
			"01 02 0009 0000 00 00"},
		{"get values", getValuesRec("FCGI_MPXS_CONNS"),
			"01 09 0000 0011 07 00  0f 00 464347495f4d5058535f434f4e4e53 00000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			if !bytes.Equal(tt.got, want) {
				t.Errorf("got  % x\nwant % x", tt.got, want)
			}
			if len(tt.got)%8 != 0 {
				t.Errorf("record of %d bytes is not 8-byte aligned", len(tt.got))
			}
		})
	}
}

func TestAppendStreamChunks(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 8, maxContent - 1, maxContent, maxContent + 1, 3*maxContent + 5} {
		data := bytes.Repeat([]byte{'a'}, n)
		out := appendStream(nil, typeStdout, 5, data)
		var got []byte
		records := 0
		for len(out) > 0 {
			h := parseHeader(out)
			if h.Version != 1 || h.Type != typeStdout || h.ID != 5 {
				t.Fatalf("n=%d: bad header %+v", n, h)
			}
			if int(h.PaddingLength) != padLen(int(h.ContentLength)) {
				t.Fatalf("n=%d: padding %d for %d bytes", n, h.PaddingLength, h.ContentLength)
			}
			if h.ContentLength == 0 {
				t.Fatalf("n=%d: appendStream wrote an empty record", n)
			}
			got = append(got, out[8:8+int(h.ContentLength)]...)
			out = out[8+int(h.ContentLength)+int(h.PaddingLength):]
			records++
		}
		if !bytes.Equal(got, data) {
			t.Errorf("n=%d: content differs", n)
		}
		if want := (n + maxContent - 1) / maxContent; records != want {
			t.Errorf("n=%d: %d records, want %d", n, records, want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	h := parseHeader(unhex(t, "01 05 abcd ffff 07 00"))
	want := header{Version: 1, Type: typeStdin, ID: 0xabcd, ContentLength: 0xffff, PaddingLength: 7}
	if h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
}
