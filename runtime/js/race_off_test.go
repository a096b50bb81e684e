//go:build !race

package js

// raceEnabled: the test binary was built with -race.
const raceEnabled = false
