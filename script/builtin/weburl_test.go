package builtin

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWebURLHostile parses the largest and most repetitive inputs: each
// class used to be quadratic in the upstream parser (path segments, '@'
// in the userinfo) or is a plain size attack; all must be linear
// (third_party/whatwgurl/PATCH.md). The test asserts the results; a
// quadratic cost shows as the package timing out.
func TestWebURLHostile(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name, in string
		check    func(*WebURL) bool
	}{
		{"1 MiB path", "http://h/" + strings.Repeat("a", mib), func(u *WebURL) bool { return len(u.Pathname()) == mib+1 }},
		{"100k segments", "http://h" + strings.Repeat("/a", 100000), func(u *WebURL) bool { return len(u.Pathname()) == 200000 }},
		{"500k segments", "http://h" + strings.Repeat("/", 500000), func(u *WebURL) bool { return len(u.Pathname()) == 500000 }},
		{"100k dot-dot", "http://h" + strings.Repeat("/..", 100000) + "/x", func(u *WebURL) bool { return u.Pathname() == "/x" }},
		{"deep percent", "http://h/" + strings.Repeat("%25", 300000), func(u *WebURL) bool { return len(u.Pathname()) == 900001 }},
		{"percent to encode", "http://h/" + strings.Repeat("é ", 200000) + "x", func(u *WebURL) bool { return len(u.Pathname()) == 2+200000*9 }},
		{"300k @", "http://" + strings.Repeat("@", 300000) + "h/", func(u *WebURL) bool { return len(u.Username()) == 3*(300000-1) }},
		{"1 MiB userinfo", "http://" + strings.Repeat("u", mib) + ":" + strings.Repeat("p", 1000) + "@h/", func(u *WebURL) bool { return len(u.Username()) == mib && len(u.Password()) == 1000 }},
		{"1 MiB host", "http://" + strings.Repeat("a.", mib/2) + "/", func(u *WebURL) bool { return len(u.Hostname()) == mib }},
		{"1 MiB query", "http://h/?" + strings.Repeat("a=b&", mib/4), func(u *WebURL) bool { return len(u.Query()) == mib }},
		{"1 MiB opaque", "data:" + strings.Repeat("a", mib), func(u *WebURL) bool { return len(u.Pathname()) == mib }},
		{"1 MiB fragment", "http://h/#" + strings.Repeat("a\x01", mib/4), func(u *WebURL) bool { return len(u.Hash()) == mib-2 }},
	}
	for _, tc := range tests {
		start := time.Now()
		u, err := ParseWebURL(tc.in, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(u) {
			t.Errorf("%s: wrong result (href of %d bytes)", tc.name, len(u.Href()))
		}
		// The setters see the same input classes.
		u.SetPathname(strings.Repeat("/b", 100000))
		u.SetSearch(strings.Repeat("c", mib))
		u.SetHash(strings.Repeat("%", mib))
		t.Logf("%s: %v", tc.name, time.Since(start))
		if !strings.HasSuffix(u.Href(), "%%%") {
			t.Errorf("%s: setters: href ends %q", tc.name, u.Href()[len(u.Href())-10:])
		}
	}
	// Past the limit, an input is an invalid URL, and a setter ignores it.
	big := "http://h/" + strings.Repeat("a", MaxURLBytes)
	if _, err := ParseWebURL(big, nil); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("%d bytes: err %v", len(big), err)
	}
	u, _ := ParseWebURL("http://h/x", nil)
	u.SetPathname(big)
	if u.Href() != "http://h/x" {
		t.Errorf("setter took %d bytes", len(big))
	}
	base := "http://h" + strings.Repeat("/a", 100000)
	if r, err := ParseWebURL("../b", &base); err != nil || len(r.Pathname()) != 199998 {
		t.Errorf("relative to a 100k-segment base: %v", err)
	}
}

// TestForm checks the application/x-www-form-urlencoded parser and
// serializer against the URL standard's rules.
func TestForm(t *testing.T) {
	got := ParseForm("a=1&&b=x+y&c=%2B%20&d&=e&f=%zz%4&g=%FF&h=a=b&i=%E2%82x%F0%9F%98%80%ED%A0%80")
	want := []FormPair{{"a", "1"}, {"b", "x y"}, {"c", "+ "}, {"d", ""}, {"", "e"}, {"f", "%zz%4"}, {"g", "\uFFFD"}, {"h", "a=b"},
		{"i", "\uFFFDx😀\uFFFD\uFFFD\uFFFD"}}
	if len(got) != len(want) {
		t.Fatalf("ParseForm = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d = %q, want %q", i, got[i], want[i])
		}
	}
	if s := SerializeForm([]FormPair{{"a b", "*-._~!'()"}, {"é", "&=+%"}}); s != "a+b=*-._%7E%21%27%28%29&%C3%A9=%26%3D%2B%25" {
		t.Errorf("SerializeForm = %q", s)
	}
}
