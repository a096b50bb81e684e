package uwsgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// nginxRequest is what nginx's uwsgi module sends for POST /hello?a=1
// with a 3-byte body (vars abridged): modifier1 0, size 0x004f LE,
// modifier2 0, the vars, the body.
var nginxRequest = []byte("\x00\x4f\x00\x00" +
	"\x0c\x00QUERY_STRING\x03\x00a=1" +
	"\x0e\x00REQUEST_METHOD\x04\x00POST" +
	"\x0e\x00CONTENT_LENGTH\x01\x003" +
	"\x09\x00PATH_INFO\x06\x00/hello" +
	"abc")

func read(b []byte) (map[string]string, int64, *bufio.Reader, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	p, n, err := ReadHeader(r, Limits{})
	return p, n, r, err
}

// vars builds a well-formed vars block with header.
func vars(pairs ...string) string {
	var b []byte
	for _, s := range pairs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	h := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(h[1:3], uint16(len(b)))
	return string(h) + string(b)
}

func TestGolden(t *testing.T) {
	p, n, r, err := read(nginxRequest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"QUERY_STRING": "a=1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3", "PATH_INFO": "/hello"}
	if len(p) != len(want) {
		t.Fatalf("vars %v, want %v", p, want)
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
		t.Errorf("after the vars: %q, want the body", rest)
	}
	if got := vars("QUERY_STRING", "a=1", "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "3", "PATH_INFO", "/hello") + "abc"; got != string(nginxRequest) {
		t.Errorf("vars() builds %q, the golden vector is %q", got, nginxRequest)
	}
}

func TestNoContentLength(t *testing.T) {
	p, n, _, err := read([]byte(vars("REQUEST_METHOD", "GET", "CONTENT_LENGTH", "")))
	if err != nil || n != 0 || p["REQUEST_METHOD"] != "GET" {
		t.Fatalf("got %v %d %v", p, n, err)
	}
}

func TestHostile(t *testing.T) {
	var many []string
	for i := 0; i < 4097; i++ {
		many = append(many, "A", "")
	}
	manyBlock := vars(many...)
	cases := map[string]string{
		"empty":                     "",
		"short header":              "\x00\x01",
		"modifier1 1":               "\x01" + vars("A", "b")[1:],
		"modifier1 5 (psgi)":        "\x05" + vars("A", "b")[1:],
		"modifier2 1":               vars("A", "b")[:3] + "\x01" + vars("A", "b")[4:],
		"size lies (block short)":   "\x00\xff\x00\x00\x01\x00A\x01\x00b",
		"name length past block":    "\x00\x04\x00\x00\x09\x00AB",
		"value length past block":   "\x00\x06\x00\x00\x01\x00A\x05\x00",
		"odd byte at end":           "\x00\x01\x00\x00\x01",
		"empty name":                vars("", "x"),
		"repeated name":             vars("A", "1", "A", "2"),
		"bad CONTENT_LENGTH":        vars("CONTENT_LENGTH", "-1"),
		"CONTENT_LENGTH with space": vars("CONTENT_LENGTH", " 1"),
		"huge CONTENT_LENGTH":       vars("CONTENT_LENGTH", strings.Repeat("9", 30)),
	}
	if len(manyBlock) <= 65535+4 {
		cases["4097 vars"] = manyBlock
	}
	if _, _, _, err := read([]byte(vars("A", "b"))); err != nil {
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

func FuzzReadHeader(f *testing.F) {
	f.Add(nginxRequest)
	f.Add([]byte(vars("A", "b", "CONTENT_LENGTH", "10") + "0123456789"))
	f.Add([]byte("\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, _, err := read(b)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("negative body length %d", n)
		}
		if b[0] != 0 || b[3] != 0 {
			t.Fatalf("accepted modifiers %d/%d", b[0], b[3])
		}
		if len(p) > 4096 {
			t.Fatalf("%d vars past the limit", len(p))
		}
	})
}
