package container

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/sysfile"
)

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": 10,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

func setRlimits(rl []specs.POSIXRlimit) error {
	for _, r := range rl {
		n, ok := rlimitNames[r.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, n, &lim, nil); err != nil {
			return fmt.Errorf("set rlimit %s soft=%d hard=%d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// raiseHardLimits lifts, from the parent, the hard limits of pid that the
// config sets above their current values: inside a user namespace the init
// could only lower them. Soft limits and lowering are left to the init.
func raiseHardLimits(pid int, rl []specs.POSIXRlimit) error {
	for _, r := range rl {
		n, ok := rlimitNames[r.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
		var cur unix.Rlimit
		if err := unix.Prlimit(pid, n, nil, &cur); err != nil {
			return fmt.Errorf("read rlimit %s: %w", r.Type, err)
		}
		if r.Hard <= cur.Max {
			continue
		}
		lim := unix.Rlimit{Cur: cur.Cur, Max: r.Hard}
		if err := unix.Prlimit(pid, n, &lim, nil); err != nil {
			return fmt.Errorf("raise hard rlimit %s to %d: %w", r.Type, r.Hard, err)
		}
	}
	return nil
}

var personalityDomains = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

func setPersonality(p *specs.LinuxPersonality) error {
	d, ok := personalityDomains[p.Domain]
	if !ok {
		return fmt.Errorf("unknown personality domain %q", p.Domain)
	}
	if _, _, errno := unix.Syscall(unix.SYS_PERSONALITY, d, 0, 0); errno != 0 {
		return fmt.Errorf("set personality %s: %w", p.Domain, errno)
	}
	return nil
}

var ioprioClasses = map[specs.IOPriorityClass]uintptr{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

func setIOPriority(p *specs.LinuxIOPriority) error {
	class, ok := ioprioClasses[p.Class]
	if !ok {
		return fmt.Errorf("unknown io priority class %q", p.Class)
	}
	const whoProcess = 1
	prio := class<<13 | uintptr(p.Priority)
	if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, whoProcess, 0, prio); errno != 0 {
		return fmt.Errorf("set io priority %s/%d: %w", p.Class, p.Priority, errno)
	}
	return nil
}

// newTimeNS makes a time namespace for the process about to be executed:
// unshare(CLONE_NEWTIME) only affects children and later execs, and its
// offsets can be written until a process enters it (time_namespaces(7)).
func newTimeNS(offsets map[string]specs.LinuxTimeOffset) error {
	// /proc/self is the thread group leader's view: cmd/berth keeps the
	// init on its main thread, so that is the thread unsharing here.
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("create time namespace: %w", err)
	}
	var b strings.Builder
	for clock, off := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
		return fmt.Errorf("set time namespace offsets: %w", err)
	}
	return nil
}

func readSmallFile(path string) ([]byte, error) { return sysfile.Read(path) }

// hostPid is the init's pid as the runtime sees it.
var hostPid = os.Getpid()

// dialListener connects to a seccomp agent's socket while its host path is
// still reachable, before pivot_root.
func dialListener(path string) (int, error) {
	// Before pivot_root, /proc is the host's: its "self" is the host pid,
	// which is what the agent is told.
	if self, err := os.Readlink("/proc/self"); err == nil {
		hostPid, _ = strconv.Atoi(self)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		return -1, fmt.Errorf("connect to seccomp listener %s: %w", path, err)
	}
	f, err := conn.(*net.UnixConn).File()
	conn.Close()
	if err != nil {
		return -1, err
	}
	return int(f.Fd()), nil
}

// sendListener hands the seccomp notify fd to the agent with the
// container's process state, as the runtime spec's "Seccomp" section says.
func sendListener(conn int, sc *specs.LinuxSeccomp, st *specs.State, fd int) error {
	cps := specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      hostPid,
		Metadata: sc.ListenerMetadata,
	}
	if st != nil {
		cps.State = *st
	}
	payload, err := json.Marshal(cps)
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(conn, payload, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send seccomp listener fd: %w", err)
	}
	return nil
}
