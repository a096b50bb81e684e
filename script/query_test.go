package script

import (
	"reflect"
	"testing"
)

func TestQueryParts(t *testing.T) {
	var got [][2]string
	QueryParts("a=1&&b&c=x=y;d=2&%41=%zz&e=+%2B", func(k, v string) bool {
		got = append(got, [2]string{QueryUnescape(k), QueryUnescape(v)})
		return true
	})
	want := [][2]string{{"a", "1"}, {"b", ""}, {"c", "x=y;d=2"}, {"A", "%zz"}, {"e", " +"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	n := 0
	QueryParts("a=1&b=2&c=3", func(k, v string) bool { n++; return k != "b" })
	if n != 2 {
		t.Fatalf("did not stop at false: %d calls", n)
	}
	r := &Request{RawQuery: "k=1&k=2&j=%E2%82%AC"}
	if q := r.Query(); q["k"] != "1" || q["j"] != "€" || !reflect.DeepEqual(r.QueryAll("k"), []string{"1", "2"}) {
		t.Fatalf("Query %v, QueryAll %v", q, r.QueryAll("k"))
	}
}
