package scgi

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// nginxRequest is the header nginx's scgi module sends for
// GET /hello?a=1 with Debian's scgi_params (abridged), then a body.
var nginxRequest = []byte("66:CONTENT_LENGTH\x003\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/hello?a=1\x00,abc")

func read(b []byte) (map[string]string, int64, *bufio.Reader, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	p, n, err := ReadHeader(r, Limits{})
	return p, n, r, err
}

func TestGolden(t *testing.T) {
	p, n, r, err := read(nginxRequest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CONTENT_LENGTH": "3", "SCGI": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/hello?a=1"}
	if len(p) != len(want) {
		t.Fatalf("params %v, want %v", p, want)
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
	if n != 3 {
		t.Errorf("body length %d, want 3", n)
	}
	rest, _ := r.ReadString(0)
	if rest != "abc" {
		t.Errorf("after the header: %q, want the body %q", rest, "abc")
	}
}

func TestEmptyValueAndZeroBody(t *testing.T) {
	h := "CONTENT_LENGTH\x000\x00QUERY_STRING\x00\x00"
	p, n, _, err := read([]byte(ns(h)))
	if err != nil || n != 0 || p["QUERY_STRING"] != "" || len(p) != 2 {
		t.Fatalf("got %v %d %v", p, n, err)
	}
}

func TestHostile(t *testing.T) {
	big := strings.Repeat("9", 12)
	pairs := strings.Repeat("A\x00b\x00", 4097)
	many := "CONTENT_LENGTH\x000\x00" + pairs
	cases := map[string]string{
		"empty":                 "",
		"no colon":              "12",
		"colon first":           ":,",
		"letter in length":      "1x:",
		"too many digits":       big + ":",
		"over 1 MiB":            "1048577:",
		"length lies (short)":   "70:CONTENT_LENGTH\x000\x00",
		"length lies (no ',')":  "18:CONTENT_LENGTH\x000\x00X",
		"no CONTENT_LENGTH":     ns("A\x00b\x00"),
		"CONTENT_LENGTH second": ns("A\x00b\x00CONTENT_LENGTH\x000\x00"),
		"empty netstring":       "0:,",
		"name without NUL":      ns("CONTENT_LENGTH"),
		"value without NUL":     ns("CONTENT_LENGTH\x00"),
		"bad CONTENT_LENGTH":    ns("CONTENT_LENGTH\x00-1\x00"),
		"huge CONTENT_LENGTH":   ns("CONTENT_LENGTH\x0099999999999999999999\x00"),
		"empty CONTENT_LENGTH":  ns("CONTENT_LENGTH\x00\x00"),
		"repeated name":         ns("CONTENT_LENGTH\x000\x00CONTENT_LENGTH\x000\x00"),
		"empty name":            ns("CONTENT_LENGTH\x000\x00\x00x\x00"),
		"4097 pairs":            ns(many),
	}
	if _, _, _, err := read([]byte(ns("CONTENT_LENGTH\x000\x00A\x00b\x00"))); err != nil {
		t.Fatalf("the well-formed control is refused: %v", err)
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if p, n, _, err := read([]byte(in)); err == nil {
				t.Fatalf("accepted: %v, body %d", p, n)
			}
		})
	}
}

// ns makes a well-formed netstring of h.
func ns(h string) string { return intStr(len(h)) + ":" + h + "," }

func intStr(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func FuzzReadHeader(f *testing.F) {
	f.Add(nginxRequest)
	f.Add([]byte("24:CONTENT_LENGTH\x0010\x00A\x00\x00,0123456789"))
	f.Add([]byte("0:,"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, _, err := read(b)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("negative body length %d", n)
		}
		if _, ok := p["CONTENT_LENGTH"]; !ok {
			t.Fatal("accepted without CONTENT_LENGTH")
		}
		if len(p) > 4096 {
			t.Fatalf("%d params past the limit", len(p))
		}
	})
}
