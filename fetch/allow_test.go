package fetch

import (
	"net/url"
	"testing"
)

func TestValidateAllow(t *testing.T) {
	cases := []struct {
		entry string
		ok    bool
	}{
		{"api.example.com", true}, {"API.Example.COM.", true}, {"api.example.com:8443", true},
		{"*.example.com", true}, {"*.example.com:443", true}, {"*", true}, {"*:443", true},
		{"127.0.0.1", true}, {"127.0.0.1:8080", true}, {"::1", true}, {"[::1]", true}, {"[::1]:8080", true},
		{"", false}, {"http://example.com", false}, {"example.com/path", false}, {"exa mple.com", false},
		{"example.com:0", false}, {"example.com:99999", false}, {"*example.com", false}, {"a.*.com", false},
		{"a..b", false}, {"[fe80::1%eth0]", false}, {"127.0.0.1:x", false},
	}
	for _, c := range cases {
		err := ValidateAllow([]string{c.entry})
		if (err == nil) != c.ok {
			t.Errorf("ValidateAllow(%q) = %v, want ok=%v", c.entry, err, c.ok)
		}
	}
}

func TestAllowsHost(t *testing.T) {
	cases := []struct {
		allow []string
		url   string
		want  bool
	}{
		{[]string{"api.example.com"}, "https://api.example.com/x", true},
		{[]string{"api.example.com"}, "https://API.example.com./x", true},
		{[]string{"api.example.com"}, "https://api.example.com:8443/x", true},
		{[]string{"api.example.com"}, "https://example.com/", false},
		{[]string{"api.example.com"}, "https://api.example.com.evil.net/", false},
		{[]string{"api.example.com"}, "https://evilapi.example.com/", false},
		{[]string{"api.example.com:443"}, "https://api.example.com/", true},
		{[]string{"api.example.com:443"}, "http://api.example.com/", false},
		{[]string{"api.example.com:8080"}, "http://api.example.com:8080/", true},
		{[]string{"*.example.com"}, "https://a.b.example.com/", true},
		{[]string{"*.example.com"}, "https://example.com/", false},
		{[]string{"*.example.com"}, "https://badexample.com/", false},
		{[]string{"*"}, "https://anything.test/", true},
		{[]string{"*"}, "https://203.0.113.9/", true},
		{[]string{"*:443"}, "http://anything.test/", false},
		{[]string{"203.0.113.9"}, "http://203.0.113.9:81/", true},
		{[]string{"203.0.113.9"}, "http://[::ffff:203.0.113.9]/", true},
		{[]string{"2001:db8::1"}, "http://[2001:db8::1]/", true},
		{[]string{"[2001:db8::1]:80"}, "http://[2001:db8::1]/", true},
		{[]string{"[2001:db8::1]:80"}, "http://[2001:db8::1]:81/", false},
		{[]string{"example.com"}, "http://93.184.216.34/", false},
		{[]string{"93.184.216.34"}, "http://example.com/", false},
		{[]string{"example.com"}, "http://example.com@evil.test/", false},
		{nil, "http://example.com/", false},
		{[]string{"not a host!"}, "http://example.com/", false},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		host, addr, port, err := hostPort(u)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if got := parseAllow(c.allow).allowsHost(host, addr, port); got != c.want {
			t.Errorf("allow %q, %s: %v, want %v", c.allow, c.url, got, c.want)
		}
	}
}
