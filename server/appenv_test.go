package server

import (
	"maps"
	"testing"
)

func TestAppEnv(t *testing.T) {
	lookup := func(name string) (string, bool) {
		v, ok := map[string]string{"TOKEN": "s3cret", "EMPTY": ""}[name]
		return v, ok
	}
	got := appEnv([]string{"A=1", "B=x=y", "TOKEN", "EMPTY", "UNSET", "C="}, lookup)
	want := map[string]string{"A": "1", "B": "x=y", "TOKEN": "s3cret", "EMPTY": "", "C": ""}
	if !maps.Equal(got, want) {
		t.Errorf("appEnv = %v, want %v", got, want)
	}
	if appEnv(nil, lookup) != nil {
		t.Error("no env entries: want nil")
	}
}
