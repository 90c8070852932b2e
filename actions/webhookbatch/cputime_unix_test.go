//go:build unix

package webhookbatch

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used, every goroutine included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
