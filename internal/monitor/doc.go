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
// anything. So the monitor is C code, monitor_linux.c (which includes
// attach_linux.h), in a constructor that runs in the berth binary before
// the Go runtime starts, when the environment carries _BERTH_MONITOR; it
// never returns to Go and allocates nothing on the heap. An idle monitor
// has about 150 KB of memory of its own, and its PSS, which adds its
// share of the pages of libc and of the binary that every monitor maps,
// is about 200 KB when ten run (TestPSS logs it). The Go half of the
// package starts monitors, attaches to them and reads what they leave.
// Importing the package is what links the constructor into a binary,
// which is why cmd/berth must import it (through the engine).
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
// start command's message (a StartError when the start command exited
// with a status), or else a description of how it exited; the start
// command's own stdout and stderr go to the log. If the start
// command fails after reporting a pid, the monitor kills that process.
//
// With Options.Spawn, the first start command also gets the caller's
// socket as fd 4 and _BERTH_SPAWN=4: in the berth binary, that makes it
// the spawn agent of internal/container, which starts the init for the
// caller and reports as any start command does.
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
// # Terminals
//
// With Options.ConsoleSocket, the container has a terminal. Before each
// start the monitor listens on a unix socket there (mode 0600), and the
// start command has the container's init connect to it and send the pty
// master, as runc's --console-socket has it: the pty's name as payload,
// the descriptor as SCM_RIGHTS. The init sends it before the container
// is ready, so the monitor takes it once the start command has succeeded
// (if it is missing, the start fails), and removes the socket. The
// monitor then holds the master: what the terminal shows is logged as
// stdout, as Docker logs it (lines end in "\r\n"), and sent to attached
// clients; their input and window sizes go to the master. A master whose
// every slave has closed reads EIO, which ends the stream like EOF.
//
// # Attaching
//
// With Options.AttachSocket, the monitor listens there (a unix socket of
// mode 0600, from before the first start until the cleanup command runs;
// a connection from another uid is closed) for clients, which Attach and
// Session implement. With Options.Attach, Start sends a first client's
// socket along with the config, so that the client has the container's
// output from its first byte; that is how an attached run works. Up to
// four clients are attached at once; a fifth gets an error frame and is
// closed. Each gets all the output from when it attached; their input
// is merged.
//
// Every message is a frame: an 8-byte header, then the payload. The
// header is Docker's multiplexed-stream header: the type in byte 0, three
// zero bytes, the payload's length as a big-endian uint32.
//
//	type  way                name    payload
//	0     client -> monitor  stdin   bytes for the container's stdin
//	1     monitor -> client  stdout  output (all of it, with a terminal)
//	2     monitor -> client  stderr  output
//	3     monitor -> client  error   why the client is refused; the end
//	4     monitor -> client  exit    int32: the exit code; the end
//	5     client -> monitor  eof     none: close the container's stdin
//	6     client -> monitor  resize  uint16 rows, uint16 columns
//	7     client -> monitor  signal  uint32: a signal for the container's init
//
// Stdin reaches the container only when it was started with OpenStdin:
// through the stdin pipe, or the terminal; otherwise it is dropped. An
// eof closes the stdin pipe (docker run -i's stdin once); the next start
// of the container gets a new one. A frame of another type, or a control
// frame of the wrong length, ends that client. When the container exits,
// each client gets what is left of the output, then an exit frame with
// the code the exit file records, and is closed: an attachment ends with
// the run, as Docker's does, even when the container is restarted. After
// the last exit, the exit frame comes once the cleanup command has run,
// so that a --rm container is gone when an attached run returns.
//
// Output is not queued per client. The monitor reads the next output
// only once every client has taken the last frame (up to 16 KiB), so a
// slow client slows the container's output, as a slow terminal would; a
// client that takes nothing for 5 s while a frame waits is dropped, so
// that a stuck one holds the container and its log back no longer. Input
// is read from clients only as fast as the container takes it. Memory
// stays fixed: a small struct per client, one output frame and 4 KiB of
// input for all of them.
//
// If the monitor is killed, the container runs on: the start command, and
// so the container, runs in a process group of its own, and the monitor's
// session has no terminal whose hangup could reach it. The container's
// state is then the runtime's to tell, and there is no exit file. Its
// next write to stdout or stderr fails with EPIPE, since nobody reads the
// pipes any more.
package monitor
