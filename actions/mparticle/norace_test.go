//go:build !race

package mparticle

const raceEnabled = false
