package app

import (
	"os"
	"runtime/debug"
)

// ServiceGCPercent is the garbage collector's target the service runs with when GOGC is not set
// (Go's default is 100). Serving a ticket page allocates its records and its answer; at the
// default target, collecting them took about a seventh of the service's CPU, and the live heap is
// small (read models live in Redis), so trading memory for CPU pays.
const ServiceGCPercent = 400

// TuneRuntime sets the service's GC target unless the operator set GOGC, and reports the target
// in force. serve and bench call it once at start; benchmarks of the APIs call it to measure the
// service as it runs.
func TuneRuntime() int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old
	}
	debug.SetGCPercent(ServiceGCPercent)
	return ServiceGCPercent
}
