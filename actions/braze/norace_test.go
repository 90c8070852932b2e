//go:build !race

package braze

const raceEnabled = false
