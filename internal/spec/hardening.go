// This file holds the defaults that ForContainer adds for engine
// containers on top of Default, the runtime's starting point: a pids
// limit, which Docker lacks, and the paths Docker masks since 2025 to
// stop thermal side channels. docs/SECURITY.md compares them with
// Docker's.

package spec

import (
	"path/filepath"
)

// DefaultPidsLimit is the number of processes and threads a container may
// have when the caller sets no pids limit. Docker sets none, so one fork
// bomb in one container takes the host's whole pid space (pid_max,
// often 4194304, and the memory for as many tasks), and every other
// container and host service with it. 4096 is far above what a service
// in a container runs, busy thread pools included, and far below what
// would starve the host. --pids-limit -1 lifts it.
const DefaultPidsLimit = 4096

// thermalMaskedPaths are masked on top of MaskedPaths: /proc/interrupts
// and each CPU's thermal_throttle directory in sysfs, which show when the
// host's CPUs are throttled, from which a container can infer what other
// work on the host is doing (GHSA-6fw5-f8r9-fgfm). The sysfs directories exist per CPU, so they
// are listed from this host's.
func thermalMaskedPaths() []string {
	paths := []string{"/proc/interrupts"}
	cpus, _ := filepath.Glob("/sys/devices/system/cpu/cpu*/thermal_throttle")
	return append(paths, cpus...)
}
