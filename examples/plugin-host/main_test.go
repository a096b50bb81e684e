package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestService runs the example service on loopback with the plugins of
// this folder, as README.md shows.
func TestService(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"big_orders.js", "spam.lua"} {
		b, err := os.ReadFile(filepath.Join("plugins", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := newService(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.host.Close(context.Background())
	ts := httptest.NewServer(svc)
	defer ts.Close()

	post := func(body string) []map[string]any {
		t.Helper()
		resp, err := http.Post(ts.URL+"/event", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := post(`{"type":"order","amount":120}`)
	want := []map[string]any{
		{"plugin": "big_orders", "result": map[string]any{"action": "review", "reason": "amount 120 > 100"}},
		{"plugin": "spam"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order: %v, want %v", got, want)
	}
	got = post(`{"type":"signup","email":"x@mailinator.com"}`)
	if got[1]["result"].(map[string]any)["action"] != "reject" {
		t.Errorf("signup: %v", got)
	}
	got = post(`{"type":"signup"}`)
	if e, _ := got[1]["error"].(string); !strings.Contains(e, "spam.lua:12") || !strings.Contains(e, "signup without a valid email") {
		t.Errorf("a plugin error names file:line: %v", got)
	}
	resp, err := http.Get(ts.URL + "/outbox")
	if err != nil {
		t.Fatal(err)
	}
	var outbox []string
	json.NewDecoder(resp.Body).Decode(&outbox)
	resp.Body.Close()
	if want := []string{"[big_orders] to sales@example.com: big order #1: 120"}; !reflect.DeepEqual(outbox, want) {
		t.Errorf("outbox %q, want %q", outbox, want)
	}
	resp, err = http.Get(ts.URL + "/counters")
	if err != nil {
		t.Fatal(err)
	}
	var counters map[string]int64
	json.NewDecoder(resp.Body).Decode(&counters)
	resp.Body.Close()
	if want := map[string]int64{"big_orders/big": 1, "spam/blocked": 1}; !reflect.DeepEqual(counters, want) {
		t.Errorf("counters %v, want %v", counters, want)
	}
}
