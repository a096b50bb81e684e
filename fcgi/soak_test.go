//go:build soak

package fcgi

import "testing"

// TestSoak is the long form of TestServer_Stress:
//
//	go test -tags soak -run TestSoak -timeout 30m ./fcgi
func TestSoak(t *testing.T) {
	stress(t, 32, 2000)
}
