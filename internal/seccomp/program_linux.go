package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Compile checks s as Validate does and compiles it. A filter with
// SCMP_ACT_NOTIFY rules cannot be compiled ahead: its listener fd comes
// from loading it; such a filter returns a nil Program and no error.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if err := check(s); err != nil {
		return nil, err
	}
	if usesNotify(s) {
		return nil, Validate(s)
	}
	f, err := build(s)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer mem.Close()
	if err := f.ExportBPF(mem); err != nil {
		return nil, fmt.Errorf("seccomp: export the filter: %w", err)
	}
	if _, err := mem.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	code, err := io.ReadAll(mem)
	if err != nil {
		return nil, err
	}
	if len(code) == 0 || len(code)%8 != 0 || len(code)/8 > 0xffff {
		return nil, fmt.Errorf("seccomp: libseccomp exported %d bytes, not a BPF program", len(code))
	}
	p := &Program{Code: code, Flags: unix.SECCOMP_FILTER_FLAG_TSYNC}
	for _, flag := range s.Flags {
		switch flag {
		case specs.LinuxSeccompFlagLog:
			p.Flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			p.Flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			p.Flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		}
	}
	return p, nil
}

// CompileCached is Compile with the programs kept in dir, by a digest of
// the profile, so that each profile is compiled once per engine.
func CompileCached(s *specs.LinuxSeccomp, dir string) (*Program, error) {
	key, err := json.Marshal(struct {
		Lib  string
		Spec *specs.LinuxSeccomp
	}{libVersion(), s})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	path := filepath.Join(dir, hex.EncodeToString(sum[:])+".bpf")
	if b, err := os.ReadFile(path); err == nil {
		var p Program
		if json.Unmarshal(b, &p) == nil && len(p.Code) > 0 && len(p.Code)%8 == 0 {
			return &p, nil
		}
	}
	p, err := Compile(s)
	if err != nil || p == nil {
		return p, err
	}
	// The cache is only an optimisation: a failure to write it is not
	// the container's problem.
	if b, err := json.Marshal(p); err == nil && os.MkdirAll(dir, 0o700) == nil {
		if tmp, err := os.CreateTemp(dir, ".bpf-"); err == nil {
			_, werr := tmp.Write(b)
			if cerr := tmp.Close(); werr == nil && cerr == nil {
				os.Rename(tmp.Name(), path)
			}
			os.Remove(tmp.Name())
		}
	}
	return p, nil
}

// Install installs p on every thread of the calling process. As with
// Load, no_new_privs must be set first unless the caller holds
// CAP_SYS_ADMIN, and the caller holds runtime.LockOSThread.
func (p *Program) Install() error {
	if len(p.Code) == 0 || len(p.Code)%8 != 0 {
		return errors.New("seccomp: empty or malformed program")
	}
	prog := unix.SockFprog{Len: uint16(len(p.Code) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&p.Code[0]))}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags), uintptr(unsafe.Pointer(&prog)))
	if errno == 0 && r != 0 {
		// With TSYNC, a positive result names a thread that could not
		// take the filter.
		return fmt.Errorf("seccomp: load filter: thread %d could not be synchronized", r)
	}
	if errno != 0 {
		if errno == unix.EACCES {
			return fmt.Errorf("seccomp: load filter: %w (set no_new_privs first or hold CAP_SYS_ADMIN)", errno)
		}
		return fmt.Errorf("seccomp: load filter: %w", errno)
	}
	return nil
}
