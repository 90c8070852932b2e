// Package opstest holds the hub's production-operations tests, run against the real binary
// as a child process wherever the process matters: the load and fault suite (TestLoad...:
// concurrent executes with the hub's peak RSS, vendor faults with exactly-once delivery,
// Looker hanging up, SIGTERM draining, hostile requests), the scale-out OAuth round trip
// across two replicas behind a proxy, and the checks of the deployment files (Kubernetes,
// Cloud Run, Dockerfile, a static CGO_ENABLED=0 binary, /metrics wiring).
//
// The load tests are sized for the normal suite; `go test -tags load` runs the full sizes
// (200 concurrent executes of 100,000 rows each).
package opstest
