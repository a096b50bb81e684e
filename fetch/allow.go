package fetch

// The per-app allowlist (config fetch_allow).

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// entry is one parsed fetch_allow item.
type entry struct {
	any    bool       // "*": every host name and public address
	suffix string     // "*.example.com" → ".example.com"
	host   string     // a host name, lower case, no trailing dot
	addr   netip.Addr // an address (canonical), if valid
	port   uint16     // 0 = any port
}

// parseEntry parses one fetch_allow item: "host", "host:port",
// "*.domain", "*.domain:port", "*", an IPv4 or IPv6 address, "ip:port" or
// "[ipv6]:port".
func parseEntry(s string) (entry, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return entry{}, fmt.Errorf("empty entry")
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		if a.Zone() != "" {
			return entry{}, fmt.Errorf("%q: an address with a zone", s)
		}
		return entry{addr: canon(a)}, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			return entry{}, fmt.Errorf("%q: bad address or port", s)
		}
		return entry{addr: canon(ap.Addr()), port: ap.Port()}, nil
	}
	host, port := s, uint16(0)
	if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return entry{}, fmt.Errorf("%q: %w", s, err)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return entry{}, fmt.Errorf("%q: bad port %q", s, p)
		}
		host, port = h, uint16(n)
	}
	host = strings.TrimSuffix(host, ".")
	if host == "*" {
		return entry{any: true, port: port}, nil
	}
	e := entry{port: port}
	name := host
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		e.suffix, name = "."+rest, rest
	}
	if !validName(name) {
		return entry{}, fmt.Errorf("%q: not a host name, address or *.domain", s)
	}
	if e.suffix == "" {
		e.host = name
	}
	return e, nil
}

// validName reports whether s is a plausible DNS name (letters, digits,
// '-', '_' and dots; no empty label).
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ValidateAllow checks a fetch_allow list, so the config can report a bad
// entry; New silently ignores entries that do not parse (they allow
// nothing).
func ValidateAllow(list []string) error {
	for _, s := range list {
		if _, err := parseEntry(s); err != nil {
			return fmt.Errorf("fetch_allow: %w", err)
		}
	}
	return nil
}

// allowlist is a parsed fetch_allow.
type allowlist []entry

func parseAllow(list []string) allowlist {
	var a allowlist
	for _, s := range list {
		if e, err := parseEntry(s); err == nil {
			a = append(a, e)
		}
	}
	return a
}

// hostPort is u's host (lower case, no trailing dot, an address in
// canonical form if it is one) and port (the scheme's default if none).
func hostPort(u *url.URL) (host string, addr netip.Addr, port uint16, err error) {
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", netip.Addr{}, 0, fmt.Errorf("no host")
	}
	p := u.Port()
	if p == "" {
		p = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", netip.Addr{}, 0, fmt.Errorf("bad port %q", p)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		addr = canon(a)
	}
	return host, addr, uint16(n), nil
}

// allowsHost reports whether a URL naming host (or address addr, if
// valid) on port is allowed. Addresses are matched only by address entries
// and "*".
func (a allowlist) allowsHost(host string, addr netip.Addr, port uint16) bool {
	for _, e := range a {
		if e.port != 0 && e.port != port {
			continue
		}
		switch {
		case e.any:
			return true
		case addr.IsValid():
			if e.addr == addr {
				return true
			}
		case e.host != "" && e.host == host,
			e.suffix != "" && strings.HasSuffix(host, e.suffix):
			return true
		}
	}
	return false
}

// listsAddr reports whether ip (canonical) on port is listed by address.
func (a allowlist) listsAddr(ip netip.Addr, port uint16) bool {
	for _, e := range a {
		if e.addr.IsValid() && e.addr == ip && (e.port == 0 || e.port == port) {
			return true
		}
	}
	return false
}
