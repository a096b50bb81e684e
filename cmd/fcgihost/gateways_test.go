package main

import (
	"slices"
	"testing"
)

func TestSystemdProtos(t *testing.T) {
	t.Setenv("LISTEN_FDNAMES", "scgi:fcgihost.socket:uwsgi:")
	if got, want := systemdProtos(), []string{"scgi", "fcgi", "uwsgi", "fcgi"}; !slices.Equal(got, want) {
		t.Errorf("systemdProtos = %v, want %v", got, want)
	}
	t.Setenv("LISTEN_FDNAMES", "")
	if got := systemdProtos(); got != nil {
		t.Errorf("without names: %v", got)
	}
}
