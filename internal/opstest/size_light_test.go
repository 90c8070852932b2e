//go:build !load

package opstest

// Sizes of the normal suite; `go test -tags load` runs the full ones.
const (
	concurrentExecutes = 200
	rowsPerExecute     = 5_000
	faultRows          = 20_000
	hostileRequests    = 10_000
)
