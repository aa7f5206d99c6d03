package container

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/seccomp"
)

// envExecPlan names the memfd holding an exec plan, which execplan.c
// carries out before the Go runtime would start.
const envExecPlan = "_BERTH_EXEC_PLAN"

const (
	planMagic = 0x31504542 // "BEP1"
	planNNP   = 1
)

// execPlanFits reports whether execplan.c can run p in full. The rest (a
// terminal, LSM labels, a personality, an I/O priority, a seccomp agent,
// a user namespace, whose limits only the parent can raise) goes through
// the Go init.
func execPlanFits(s *specs.Spec, p *specs.Process, prog *seccomp.Program) bool {
	if p.Terminal || p.ApparmorProfile != "" || p.SelinuxLabel != "" || p.IOPriority != nil || len(p.Args) == 0 {
		return false
	}
	if hasNamespace(s, specs.UserNamespace) {
		return false
	}
	if l := s.Linux; l != nil {
		if l.Personality != nil {
			return false
		}
		if l.Seccomp != nil && prog == nil { // notify rules: built by the init
			return false
		}
	}
	for _, v := range append(append([]string{p.Cwd}, p.Args...), p.Env...) {
		if strings.IndexByte(v, 0) >= 0 {
			return false
		}
	}
	return true
}

// execPlan encodes p for execplan.c; the layout is described there.
func execPlan(p *specs.Process, prog *seccomp.Program) ([]byte, error) {
	sets, err := capSets(p.Capabilities)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	put := func(v any) { binary.Write(&b, binary.NativeEndian, v) }
	str := func(s string) {
		put(uint32(len(s) + 1))
		b.WriteString(s)
		b.WriteByte(0)
	}
	var flags uint32
	if p.NoNewPrivileges {
		flags |= planNNP
	}
	put([]uint32{planMagic, flags, p.User.UID, p.User.GID, uint32(umaskOf(p)), uint32(lastCap())})
	for _, s := range sets {
		put(uint64(s[0]) | uint64(s[1])<<32)
	}
	put(uint32(len(p.User.AdditionalGids)))
	put(p.User.AdditionalGids)
	put(uint32(len(p.Rlimits)))
	for _, r := range p.Rlimits {
		n, ok := rlimitNames[r.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", r.Type)
		}
		put(uint32(n))
		put([]uint64{r.Soft, r.Hard})
		str(r.Type)
	}
	var code []byte
	var scFlags uint32
	if prog != nil {
		code, scFlags = prog.Code, uint32(prog.Flags)
	}
	put(scFlags)
	put(uint32(len(code)))
	b.Write(code)
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	str(cwd)
	for _, list := range [][]string{p.Args, p.Env} {
		put(uint32(len(list)))
		for _, s := range list {
			str(s)
		}
	}
	return b.Bytes(), nil
}

// execPlanFile puts an exec plan in a memfd for the init to read.
func execPlanFile(plan []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("berth-exec-plan", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-exec-plan")
	if _, err := f.Write(plan); err != nil {
		f.Close()
		return nil, fmt.Errorf("write exec plan: %w", err)
	}
	return f, nil
}
