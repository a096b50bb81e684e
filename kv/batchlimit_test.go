package kv

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckOps_BatchBytes: a batch whose keys and values together pass
// MaxBatchBytes is refused before any backend sees it (the red-team
// flood of docs/sandbox.md, "Hostile input", row 6); one just under passes.
func TestCheckOps_BatchBytes(t *testing.T) {
	v := strings.Repeat("v", MaxValueLen)
	var ops []Op
	for i := 0; len(ops) < 16; i++ {
		ops = append(ops, Op{Kind: OpSet, Key: "k" + string(rune('a'+i)), Value: v[:MaxValueLen-2]})
	}
	if err := checkOps(ops); err != nil {
		t.Fatalf("16 values of just under 1 MiB: %v", err)
	}
	ops = append(ops, Op{Kind: OpSet, Key: "kz", Value: v})
	err := checkOps(ops)
	if !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("17 MiB batch: got %v, want ErrValueTooLarge", err)
	}
	if !strings.Contains(err.Error(), "batch op 16") {
		t.Errorf("error %q does not name the operation", err)
	}
}
