// Package monitor runs the monitor of a detached container: the one
// process that, for the container's whole life, holds its stdout and
// stderr, writes them to its log in Docker's json-file format, records
// each exit in an exit file, restarts the container as its restart policy
// says, and runs a cleanup command when the container has stopped for
// good. berth has no daemon, so this process is what lets the CLI exit
// while the container lives on.
//
// There is one monitor per detached container, so its memory is paid once
// per container, and berth's budget is about 1 MB of host memory per idle
// container. A Go process costs several megabytes before it does
// anything. So the monitor is C code, monitor_linux.c, in a constructor
// that runs in the berth binary before the Go runtime starts, when the
// environment carries _BERTH_MONITOR; it never returns to Go and
// allocates nothing on the heap. An idle monitor has about 150 KB of
// memory of its own, and its PSS, which adds its share of the pages of
// libc and of the binary that every monitor maps, is about 200 KB when ten
// run (TestPSS logs it). The Go half of the package starts monitors and
// reads what they leave. Importing the package is what links the
// constructor into a binary, which is why cmd/berth must import it
// (through the engine).
//
// # Processes
//
// Start executes /proc/self/exe with the config on a socket, and the
// process forks at once: the child, in a session of its own, with stdio on
// /dev/null and "/" as its working directory, is the monitor; the parent
// exits, so the caller has no child to reap. The monitor makes itself a
// child subreaper and runs the start command with stdout and stderr on
// pipes of its own and fd 3 on a report pipe. The start command (berth
// __start ID in real use; /proc/self/exe names berth in it) creates and
// starts the container, writes the container's init pid to fd 3 as a
// decimal line (that line and nothing else), and exits 0; or writes an
// error message to fd 3 and exits non-zero. The init must be the start
// command's child, not reaped by it: orphaned when the start command
// exits, it is reparented to the monitor, which treats that pid as the
// container (a reported pid that is not then the monitor's child is an
// error). Start returns once the container has started, or with the
// start command's message, or else a description of how it exited; the
// start command's own stdout and stderr go to the log. If the start
// command fails after reporting a pid, the monitor kills that process.
//
// # Logs
//
// Each line of output becomes one entry, {"log":"text\n","stream":
// "stdout","time":"..."}, escaped as Docker escapes it (\u003c for <,
// \ufffd for each byte that is not UTF-8, and so on), with the time in
// RFC 3339 with nanoseconds, UTC, trailing zeros dropped, as Go's
// time.RFC3339Nano writes it. A line longer than 16 KiB is cut into
// partial entries, whose "log" lacks the final "\n", all stamped with the
// time of the first part; so is output left without a newline when the
// container exits. Before an entry would make the log exceed its maximum
// size, log.N-1 is renamed to log.N, ..., log to log.1, and a new log is
// begun (with one file allowed, the log is truncated instead). Nothing is
// buffered beyond one line per stream.
//
// # Exits and restarts
//
// When the container exits, the monitor logs what is left in the pipes,
// without waiting for other writers, and closes them. If the policy
// restarts it, the monitor writes the exit file (Restarting true), waits
// Docker's backoff (100 ms, doubling up to a minute, back to 100 ms after a
// run of 10 s or more) and runs the start command again, with fresh
// pipes. Otherwise it writes the exit file (Restarting false), runs the
// cleanup command, which can read it, waits for it, and exits; while the
// cleanup runs, Running still reports the monitor. If the cleanup command
// fails, the exit file is written again with the failure as its Error,
// where the cleanup left its directory.
//
// The exit file is JSON (see Exit), written to a temporary file, synced
// and renamed into place. A monitor removes the exit file of an earlier
// one before it starts the container, so while the container runs for the
// first time there is none; when it runs again after a restart, the file
// still describes the exit before (Restarting true), and the runtime's
// state tells running from waiting. If the first start fails there is no
// exit file, and the cleanup command runs before Start returns the error:
// it runs once, at the end, whatever happened. If a restart fails, the
// exit file's Error says why.
//
// SIGTERM tells the monitor not to restart the container any more (Stop
// sends it): it keeps logging until the container exits, and the exit
// file then says Stopped. The engine's stop sends it before it stops the
// container. Inside one monitor, always and unless-stopped are the same;
// they differ when containers are brought back after a reboot, where an
// unless-stopped container whose last exit file says Stopped stays down.
//
// If the monitor is killed, the container runs on: the start command, and
// so the container, runs in a process group of its own, and the monitor's
// session has no terminal whose hangup could reach it. The container's
// state is then the runtime's to tell, and there is no exit file. Its
// next write to stdout or stderr fails with EPIPE, since nobody reads the
// pipes any more.
package monitor
