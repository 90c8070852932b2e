//go:build load

package opstest

// Full sizes (`go test -tags load -run Load ./internal/opstest`).
const (
	concurrentExecutes = 200
	rowsPerExecute     = 100_000
	faultRows          = 200_000
	hostileRequests    = 10_000
)
