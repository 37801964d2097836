//go:build !race

package net

// raceEnabled says the race detector is on; measurements say so.
const raceEnabled = false
