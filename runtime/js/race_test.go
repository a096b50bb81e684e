//go:build race

package js

// raceEnabled: the race detector changes what allocations cost, so the
// tests that measure the heap skip under it.
const raceEnabled = true
