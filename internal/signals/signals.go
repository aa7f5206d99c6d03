// Package signals reads signal names as users type them, so that every
// command (kill, stop, --stop-signal) accepts the same spellings.
package signals

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
)

// Parse accepts "KILL", "SIGKILL", "kill" and "9".
func Parse(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.Invalidf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errdefs.Invalidf("unknown signal %q", s)
}
