package cgroup

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device types as the kernel passes them to a cgroup device program
// (BPF_DEVCG_DEV_*).
const (
	bpfDevBlock = 1
	bpfDevChar  = 2
)

// deviceFilter compiles OCI device rules into a BPF_PROG_TYPE_CGROUP_DEVICE
// program for cgroup v2. The rules are first reduced to a default and a
// list of exceptions by the model Set also uses on v1 (devState), so both
// versions enforce the same policy: the default is deny, the last rule
// that matches a device decides for the access bits it names, and a rule
// that would punch a hole in an earlier, broader one is refused. As in
// the v1 kernel, access asked for at once (read and write) must be granted
// by a single exception in deny-by-default mode, and is refused if any
// exception denies part of it in allow-by-default mode.
//
// The program reads struct bpf_cgroup_dev_ctx { u32 access_type; u32
// major; u32 minor; } where access_type is (access << 16) | type, and
// returns 1 to allow and 0 to deny.
func deviceFilter(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	norm, err := normalizeDeviceRules(rules)
	if err != nil {
		return nil, err
	}
	st := newDevState(false)
	for _, r := range norm {
		if err := st.apply(r); err != nil {
			return nil, err
		}
	}
	return compileDevState(st), nil
}

// compileDevState emits one block per exception of st, each returning the
// opposite of the default when the device and access match, and a final
// block returning the default.
func compileDevState(st *devState) asm.Instructions {
	insts := asm.Instructions{
		// R2 <- device type: low 16 bits of access_type
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff),
		// R3 <- requested access: high 16 bits of access_type
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),
		// R4 <- major, R5 <- minor
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	match := int32(1)
	if st.allowAll {
		match = 0
	}
	block := 0
	for _, k := range st.keys() {
		// Linux device numbers have 12-bit majors and 20-bit minors; a
		// rule for a larger number can never match, and the 64-bit
		// compare below needs values that fit a signed 32-bit immediate.
		if k.major > math.MaxInt32 || k.minor > math.MaxInt32 {
			continue
		}
		next := "block-" + strconv.Itoa(block+1)
		typ := int32(bpfDevChar)
		if k.typ == 'b' {
			typ = bpfDevBlock
		}
		b := asm.Instructions{asm.JNE.Imm(asm.R2, typ, next)}
		if acc := st.exc[k]; acc != accAll {
			b = append(b,
				asm.Mov.Reg32(asm.R1, asm.R3),
				asm.And.Imm32(asm.R1, int32(acc)),
			)
			if st.allowAll {
				// a deny exception matches if it names any requested bit
				b = append(b, asm.JEq.Imm(asm.R1, 0, next))
			} else {
				// an allow exception matches if it grants every requested bit
				b = append(b, asm.JNE.Reg(asm.R1, asm.R3, next))
			}
		}
		if k.major != wildcard {
			b = append(b, asm.JNE.Imm(asm.R4, int32(k.major), next))
		}
		if k.minor != wildcard {
			b = append(b, asm.JNE.Imm(asm.R5, int32(k.minor), next))
		}
		b = append(b, asm.Mov.Imm32(asm.R0, match), asm.Return())
		b[0] = b[0].WithSymbol("block-" + strconv.Itoa(block))
		insts = append(insts, b...)
		block++
	}
	insts = append(insts,
		asm.Mov.Imm32(asm.R0, 1-match).WithSymbol("block-"+strconv.Itoa(block)),
		asm.Return(),
	)
	return insts
}

// attachDeviceFilter loads insts and attaches them to the cgroup v2
// directory dir as its device filter, then detaches the filters that were
// there before, so that there is no moment without one.
//
// It uses BPF_PROG_ATTACH rather than a bpf_link (link.AttachCgroup): a
// link is detached when its last file descriptor closes, and berth's
// runtime process exits while the container keeps running.
func attachDeviceFilter(dir string, insts asm.Instructions) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "berth_devices",
		Type:         ebpf.CGroupDevice,
		Instructions: insts,
		License:      "Apache",
	})
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer prog.Close()

	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("attach device filter: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(fd)

	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	var errs []error
	for _, ap := range old.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("open old device filter %d: %w", ap.ID, err))
			continue
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: p, Attach: ebpf.AttachCGroupDevice})
		p.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("detach old device filter %d: %w", ap.ID, err))
		}
	}
	return errors.Join(errs...)
}
