package script

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// KV is one app's namespace of the key-value store. Keys are the app's own:
// the store prefixes them, so no name reaches another app's keys. Every
// call honours ctx.
type KV interface {
	// Get returns the value and whether the key exists.
	Get(ctx context.Context, key string) (string, bool, error)
	// Set stores value; ttl 0 means no expiry.
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Incr adds n to the integer value of key (missing = 0) and returns the
	// new value.
	Incr(ctx context.Context, key string, n int64) (int64, error)
	// CAS sets key to new only if its value is *old (old == nil: only if
	// absent) and reports whether it did.
	CAS(ctx context.Context, key string, old *string, new string) (bool, error)
	// List returns the keys with prefix, sorted, at most limit (0: the
	// store's default cap).
	List(ctx context.Context, prefix string, limit int) ([]string, error)
}

// FetchRequest is an outbound HTTP request from a script.
type FetchRequest struct {
	URL     string
	Method  string
	Headers http.Header
	Body    []byte
}

// FetchResponse is its answer, with the body read in full (bounded).
type FetchResponse struct {
	Status  int
	URL     string // final URL after redirects
	Headers http.Header
	Body    []byte
}

// Fetcher performs outbound HTTP under the app's allowlist.
type Fetcher interface {
	Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error)
}

// ErrNotConfigured is returned by a script call to a service the app was not
// granted.
var ErrNotConfigured = errors.New("not configured for this app")
