package script

import (
	"net/url"
	"strings"
)

// QueryParts calls fn with the raw name and value of each part of a query
// string, in order, until fn returns false: parts are split on '&' only
// (';' is not a separator), empty parts are skipped and a part without '='
// has an empty value. Names and values are as written; QueryUnescape
// decodes them. Request.Query and both engines' req.query read a query
// through it, so they cannot drift apart.
func QueryParts(raw string, fn func(name, value string) bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if !fn(k, v) {
			return
		}
	}
}

// QueryUnescape decodes a query name or value ('+' is a space), or keeps it
// as written when an escape in it is malformed.
func QueryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
