//go:build race

package segment

// raceEnabled lengthens the fault tests' attempt timeout: under the race detector on a
// busy machine a large batch can take seconds to answer.
const raceEnabled = true
