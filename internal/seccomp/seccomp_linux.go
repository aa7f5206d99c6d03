//go:build cgo

package seccomp

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// notifyAPILevel is the libseccomp API level that SCMP_ACT_NOTIFY needs
// together with TSYNC: libseccomp >= 2.5.0 on Linux >= 5.7.
const notifyAPILevel = 6

// optimizeAbove is the rule count above which the filter is laid out as a
// binary tree. runc uses the same threshold: small filters gain nothing, and
// libseccomp <= 2.5.4 mishandles the tree when no rule is added.
const optimizeAbove = 32

// Validate checks a spec's seccomp section without loading anything. It is
// meant for `create`, before any container process exists: it rejects
// unknown default or rule actions, errnoRet values that the action cannot
// return, unknown operators and argument indexes, empty syscall names,
// architectures and flags that are unknown or that this host's libseccomp
// and kernel cannot apply, SCMP_ACT_NOTIFY as the default action or on
// "write", SCMP_ACT_NOTIFY without a listenerPath or without kernel support,
// and rules libseccomp refuses. To find the last kind it builds the filter
// in memory and throws it away.
//
// A nil section is valid: it asks for no filter.
func Validate(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	if err := check(s); err != nil {
		return err
	}
	f, err := build(s)
	if err != nil {
		return err
	}
	f.Release()
	return nil
}

// Load checks s as Validate does, builds the filter it describes and
// installs it on every thread of the calling process (libseccomp's TSYNC
// attribute). It is meant to run in the container's init just before
// execve: from then on every syscall of the init, execve included, passes
// through the filter.
//
// The caller must hold runtime.LockOSThread for the goroutine that calls
// Load and goes on to execve, so that the filtered thread is the one that
// executes the container's program.
//
// Load leaves no_new_privs alone (the libseccomp NoNewPrivs attribute is
// off): the caller decides, from the spec's noNewPrivileges, whether to set
// it, and does so before Load. Without no_new_privs the kernel accepts the
// filter only from a caller with CAP_SYS_ADMIN in its user namespace.
//
// When a rule uses SCMP_ACT_NOTIFY, Load returns the listener fd of the new
// filter, to be handed to the seccomp agent at listenerPath; the fd is
// close-on-exec. Otherwise it returns -1.
func Load(s *specs.LinuxSeccomp) (listenerFd int, err error) {
	if s == nil {
		return -1, errors.New("seccomp: nil seccomp config")
	}
	if err := check(s); err != nil {
		return -1, err
	}
	f, err := build(s)
	if err != nil {
		return -1, err
	}
	defer f.Release()

	if err := f.Load(); err != nil {
		if errors.Is(err, syscall.EACCES) {
			return -1, fmt.Errorf("seccomp: load filter: %w (set no_new_privs first or hold CAP_SYS_ADMIN)", err)
		}
		return -1, fmt.Errorf("seccomp: load filter: %w", err)
	}
	if !usesNotify(s) {
		return -1, nil
	}
	fd, err := f.GetNotifFd()
	if err != nil {
		return -1, fmt.Errorf("seccomp: get notify listener fd: %w", err)
	}
	if fd < 0 {
		return -1, fmt.Errorf("seccomp: libseccomp returned notify listener fd %d", fd)
	}
	return int(fd), nil
}

// check does the checks that need no filter: names, numbers and the
// SCMP_ACT_NOTIFY rules.
func check(s *specs.LinuxSeccomp) error {
	if _, err := toAction(s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	if s.DefaultAction == specs.ActNotify {
		// Every syscall, write included, would wait for an agent that
		// only learns of the filter after the container has started.
		return fmt.Errorf("seccomp: %s cannot be the defaultAction", specs.ActNotify)
	}
	for _, arch := range s.Architectures {
		if _, err := toArch(arch); err != nil {
			return fmt.Errorf("seccomp: architectures: %w", err)
		}
	}
	for _, flag := range s.Flags {
		if !isKnownFlag(flag) {
			return fmt.Errorf("seccomp: flags: unknown flag %q", flag)
		}
	}
	for i, rule := range s.Syscalls {
		if err := checkRule(rule); err != nil {
			return fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
	}
	if usesNotify(s) {
		if s.ListenerPath == "" {
			return fmt.Errorf("seccomp: %s is used but listenerPath is empty", specs.ActNotify)
		}
		// GetAPI probes the kernel; an error means a libseccomp too old
		// to say, which is too old for notify as well.
		if level, _ := libseccomp.GetAPI(); level < notifyAPILevel {
			return fmt.Errorf("seccomp: %s needs libseccomp API level %d (libseccomp >= 2.5.0, Linux >= 5.7), this host has %d",
				specs.ActNotify, notifyAPILevel, level)
		}
	}
	return nil
}

func checkRule(rule specs.LinuxSyscall) error {
	if len(rule.Names) == 0 {
		return errors.New("no syscall names")
	}
	for _, name := range rule.Names {
		if name == "" {
			return errors.New("empty syscall name")
		}
		// libseccomp takes a C string: a NUL would cut the name short and
		// match another syscall.
		if strings.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("invalid syscall name %q", name)
		}
		if rule.Action == specs.ActNotify && (name == "write" || name == "sendmsg") {
			// The listener fd is handed to the agent with sendmsg right
			// after Load (runc uses write); notifying on it would wait
			// forever for an agent that has no fd yet.
			return fmt.Errorf("%s cannot be used for %q", specs.ActNotify, name)
		}
	}
	if _, err := toAction(rule.Action, rule.ErrnoRet); err != nil {
		return err
	}
	for j, arg := range rule.Args {
		if _, err := toCondition(arg); err != nil {
			return fmt.Errorf("args[%d]: %w", j, err)
		}
	}
	return nil
}

func isKnownFlag(flag specs.LinuxSeccompFlag) bool {
	for _, known := range flagNames() {
		if string(flag) == known {
			return true
		}
	}
	return false
}

func usesNotify(s *specs.LinuxSeccomp) bool {
	for _, rule := range s.Syscalls {
		if rule.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// build makes the libseccomp filter for a section that check accepted. The
// caller releases it.
func build(s *specs.LinuxSeccomp) (_ *libseccomp.ScmpFilter, err error) {
	def, err := toAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter with default action %s: %w", s.DefaultAction, err)
	}
	defer func() {
		if err != nil {
			f.Release()
		}
	}()

	for _, name := range s.Architectures {
		arch, err := toArch(name)
		if err != nil {
			return nil, fmt.Errorf("seccomp: architectures: %w", err)
		}
		if err := f.AddArch(arch); err != nil {
			if errors.Is(err, syscall.EDOM) {
				// One filter holds architectures of one byte order.
				return nil, fmt.Errorf("seccomp: architecture %q cannot share a filter with the native one: byte order differs", name)
			}
			return nil, fmt.Errorf("seccomp: architecture %q not supported by libseccomp %s: %w", name, libVersion(), err)
		}
	}
	for _, flag := range s.Flags {
		if err := setFlag(f, flag); err != nil {
			return nil, fmt.Errorf("seccomp: flags: %w", err)
		}
	}
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: turn off the no_new_privs attribute: %w", err)
	}
	// Best effort, both: RawRC makes a failed load report the kernel's
	// errno instead of ECANCELED, and the binary tree makes long filters
	// faster. Older libseccomp lacks them and works without.
	_ = f.SetRawRC(true)
	if len(s.Syscalls) > optimizeAbove {
		_ = f.SetOptimize(2)
	}

	for i, rule := range s.Syscalls {
		if err := addRule(f, def, rule); err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
	}
	return f, nil
}

// addRule adds one spec rule, for each of its names, following runc.
func addRule(f *libseccomp.ScmpFilter, def libseccomp.ScmpAction, rule specs.LinuxSyscall) error {
	act, err := toAction(rule.Action, rule.ErrnoRet)
	if err != nil {
		return err
	}
	if act == def {
		// libseccomp refuses a rule that matches the default action; it
		// would change nothing anyway.
		return nil
	}

	conds := make([]libseccomp.ScmpCondition, 0, len(rule.Args))
	var perIndex [maxArgIndex + 1]int
	sameIndex := false
	for j, arg := range rule.Args {
		c, err := toCondition(arg)
		if err != nil {
			return fmt.Errorf("args[%d]: %w", j, err)
		}
		perIndex[arg.Index]++
		sameIndex = sameIndex || perIndex[arg.Index] > 1
		conds = append(conds, c)
	}

	for _, name := range rule.Names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if errors.Is(err, libseccomp.ErrSyscallDoesNotExist) {
			// Not a syscall of this architecture or libseccomp
			// version: skipped, as runc does.
			continue
		}
		if err != nil {
			return fmt.Errorf("resolve syscall %q: %w", name, err)
		}
		switch {
		case len(conds) == 0:
			err = f.AddRule(nr, act)
		case sameIndex:
			// libseccomp cannot AND two conditions on one argument;
			// runc makes each condition a rule of its own (OR).
			for _, c := range conds {
				if err = f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = f.AddRuleConditional(nr, act, conds)
		}
		if err != nil {
			return fmt.Errorf("add %s rule for %q: %w", rule.Action, name, err)
		}
	}
	return nil
}

func libVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
