package container

import (
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
	"berth/internal/seccomp"
	"berth/internal/signals"
)

// nsFiles names each namespace type's file under /proc/PID/ns.
var nsFiles = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Process *specs.Process
	// Build, when Process is nil, makes the process from a copy of the
	// container's own, as exec's flags change it.
	Build         func(own specs.Process) (*specs.Process, error)
	ConsoleSocket string
	PidFile       string
	// Detach returns once the process runs; otherwise Exec waits for it
	// and returns its exit code.
	Detach                bool
	Stdin, Stdout, Stderr *os.File
}

// Exec runs a new process inside container id's namespaces and cgroup,
// with the container's seccomp filter and the process's own user and
// capabilities.
func (r *Runtime) Exec(id string, opts ExecOptions) (int, error) {
	rec, err := r.loadExec(id)
	if err != nil {
		return -1, err
	}
	switch st := r.status(rec); st {
	case specs.StateRunning, specs.StateCreated:
	default:
		return -1, errdefs.Conflictf("cannot exec in a %s container", st)
	}
	p := opts.Process
	if p == nil {
		if rec.Spec.Process == nil || opts.Build == nil {
			return -1, errdefs.Invalidf("exec needs a process")
		}
		if p, err = opts.Build(*rec.Spec.Process); err != nil {
			return -1, err
		}
	}
	if err := ValidateProcess(p); err != nil {
		return -1, errdefs.Invalidf("process: %v", err)
	}
	var proxy *signals.Proxy
	if !opts.Detach {
		// Signals are caught while the process is set up.
		proxy = signals.StartProxy()
		defer proxy.Stop()
	}
	var joins []specs.LinuxNamespace
	for _, ns := range rec.Spec.Linux.Namespaces {
		joins = append(joins, specs.LinuxNamespace{
			Type: ns.Type,
			Path: "/proc/" + strconv.Itoa(rec.Pid) + "/ns/" + nsFiles[ns.Type],
		})
	}
	copts := CreateOptions{
		ConsoleSocket: opts.ConsoleSocket,
		Stdin:         opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		terminal: p.Terminal,
	}
	var tty *ptyProxy
	if p.Terminal && opts.ConsoleSocket == "" {
		if opts.Detach {
			return -1, errdefs.Invalidf("a detached process with a terminal needs --console-socket")
		}
		if tty, err = newPtyProxy(); err != nil {
			return -1, err
		}
		defer tty.Close()
		copts.consoleConn = tty.remote
	}
	cg, err := r.cgroupOf(rec)
	if err != nil {
		return -1, err
	}
	// Born in the container's cgroup, or moved there by itself, as in
	// create; a process forked into a joined pid namespace inherits it.
	join, err := cg.OpenJoin()
	if err != nil {
		return -1, fmt.Errorf("cgroup: %w", err)
	}
	defer join.Close()
	copts.cgroup = join
	prog, err := r.seccompProgram(rec.Spec)
	if err != nil {
		return -1, err
	}
	if execPlanFits(rec.Spec, p, prog) {
		plan, err := execPlan(p, prog)
		if err != nil {
			return -1, err
		}
		if copts.execPlan, err = execPlanFile(plan); err != nil {
			return -1, err
		}
		defer copts.execPlan.Close()
	}
	proc, err := r.startInit(joins, rec.Spec, "", copts)
	if err != nil {
		return -1, err
	}
	defer proc.sock.Close()
	fail := func(err error) (int, error) {
		unix.Kill(proc.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(proc.pid, &ws, 0, nil)
		return -1, err
	}
	if copts.execPlan == nil {
		if err := r.configureExec(proc, rec, p, prog); err != nil {
			return fail(err)
		}
	}
	if tty != nil {
		if err := tty.receive(); err != nil {
			return fail(err)
		}
	}
	if _, err := proc.ch.recv(msgReady); err != nil {
		return fail(err)
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, proc.pid); err != nil {
			return fail(err)
		}
	}
	if opts.Detach {
		return 0, nil
	}
	proxy.Ready()
	return waitSignals(proc.pid, tty, proxy.C)
}

// configureExec hands the Go init the process to run.
func (r *Runtime) configureExec(proc *initProc, rec *record, p *specs.Process, prog *seccomp.Program) error {
	// Before the config: once it has it, the process may change its uid,
	// and then its limits are no longer ours to raise.
	if err := raiseHardLimits(proc.pid, p.Rlimits); err != nil {
		return err
	}
	cfg := &initConfig{
		Seccomp:  prog,
		Exec:     true,
		Spec:     rec.Spec,
		Process:  p,
		State:    rec.specState(specs.StateRunning),
		InUserNS: hasNamespace(rec.Spec, specs.UserNamespace),
	}
	if err := proc.ch.sendConfig(cfg); err != nil {
		return fmt.Errorf("send config to exec init: %w", err)
	}
	if err := proc.ch.send(&message{Type: msgCgroup}); err != nil {
		return proc.failure(err)
	}
	return nil
}
