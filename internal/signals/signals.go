// Package signals reads signal names as users type them, so that every
// command (kill, stop, --stop-signal) accepts the same spellings.
package signals

import (
	"os"
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

// Forwarded lists the signals a process that stands in for a container's
// process passes on to it: every signal but SIGKILL and SIGSTOP, which
// cannot be caught; SIGCHLD, which tells of its own children; SIGPIPE,
// which its own writes raise; and SIGURG, which the Go runtime sends
// itself to preempt goroutines, many times a second. Leaving SIGURG
// out keeps those signals from waking the forwarding goroutine.
func Forwarded() []os.Signal {
	var out []os.Signal
	for n := unix.Signal(1); n <= 64; n++ {
		switch n {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG:
			continue
		}
		out = append(out, n)
	}
	return out
}
