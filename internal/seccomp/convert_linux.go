//go:build cgo

package seccomp

import (
	"fmt"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Limits on the value an action returns. The kernel keeps 16 bits of data
// with the action; libseccomp takes an errno only below the kernel's
// MAX_ERRNO (4095).
const (
	maxErrno    = 4094
	maxTraceMsg = 0xffff
	maxArgIndex = 5 // syscalls take at most six arguments
)

// flagTsync is accepted by runc although runtime-spec does not define it.
// libseccomp-golang always asks for TSYNC, so it needs no handling.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// actionNames lists the actions this package recognizes, in spec order.
func actionNames() []string {
	return []string{
		string(specs.ActKill),
		string(specs.ActKillProcess),
		string(specs.ActKillThread),
		string(specs.ActTrap),
		string(specs.ActErrno),
		string(specs.ActTrace),
		string(specs.ActAllow),
		string(specs.ActLog),
		string(specs.ActNotify),
	}
}

// operatorNames lists the argument operators this package recognizes.
func operatorNames() []string {
	return []string{
		string(specs.OpNotEqual),
		string(specs.OpLessThan),
		string(specs.OpLessEqual),
		string(specs.OpEqualTo),
		string(specs.OpGreaterEqual),
		string(specs.OpGreaterThan),
		string(specs.OpMaskedEqual),
	}
}

// archNames lists the architectures runtime-spec defines. Which of them the
// linked libseccomp can handle is decided at run time by archSupported.
func archNames() []specs.Arch {
	return []specs.Arch{
		specs.ArchX86, specs.ArchX86_64, specs.ArchX32,
		specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
		specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
		specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE,
		specs.ArchS390, specs.ArchS390X,
		specs.ArchPARISC, specs.ArchPARISC64,
		specs.ArchRISCV64, specs.ArchLOONGARCH64,
		specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
	}
}

// flagNames lists the filter flags this package recognizes.
func flagNames() []string {
	return []string{
		string(flagTsync),
		string(specs.LinuxSeccompFlagLog),
		string(specs.LinuxSeccompFlagSpecAllow),
		string(specs.LinuxSeccompFlagWaitKillableRecv),
	}
}

// toAction converts a spec action and its optional errnoRet into a
// libseccomp action. errnoRet is only allowed with SCMP_ACT_ERRNO and
// SCMP_ACT_TRACE; both return EPERM when it is nil, as in runc.
func toAction(name specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	var act libseccomp.ScmpAction
	switch name {
	case specs.ActKill, specs.ActKillThread:
		act = libseccomp.ActKillThread
	case specs.ActKillProcess:
		act = libseccomp.ActKillProcess
	case specs.ActTrap:
		act = libseccomp.ActTrap
	case specs.ActAllow:
		act = libseccomp.ActAllow
	case specs.ActLog:
		act = libseccomp.ActLog
	case specs.ActNotify:
		act = libseccomp.ActNotify
	case specs.ActErrno, specs.ActTrace:
		limit, ret := uint(maxErrno), uint(syscall.EPERM)
		act = libseccomp.ActErrno
		if name == specs.ActTrace {
			limit, act = maxTraceMsg, libseccomp.ActTrace
		}
		if errnoRet != nil {
			ret = *errnoRet
		}
		if ret > limit {
			return libseccomp.ActInvalid, fmt.Errorf("errnoRet %d out of range for %s (max %d)", ret, name, limit)
		}
		// The 16-bit value is reinterpreted, not truncated: ret <= 0xffff.
		return act.SetReturnCode(int16(uint16(ret))), nil
	default:
		return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", name)
	}
	if errnoRet != nil {
		return libseccomp.ActInvalid, fmt.Errorf("errnoRet %d given with %s, which returns no value (only %s and %s do)",
			*errnoRet, name, specs.ActErrno, specs.ActTrace)
	}
	return act, nil
}

// toOperator converts a spec argument operator into a libseccomp one.
func toOperator(op specs.LinuxSeccompOperator) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case specs.OpNotEqual:
		return libseccomp.CompareNotEqual, nil
	case specs.OpLessThan:
		return libseccomp.CompareLess, nil
	case specs.OpLessEqual:
		return libseccomp.CompareLessOrEqual, nil
	case specs.OpEqualTo:
		return libseccomp.CompareEqual, nil
	case specs.OpGreaterEqual:
		return libseccomp.CompareGreaterEqual, nil
	case specs.OpGreaterThan:
		return libseccomp.CompareGreater, nil
	case specs.OpMaskedEqual:
		return libseccomp.CompareMaskedEqual, nil
	default:
		return libseccomp.CompareInvalid, fmt.Errorf("unknown operator %q", op)
	}
}

// toArch converts a spec architecture into a libseccomp one.
func toArch(arch specs.Arch) (libseccomp.ScmpArch, error) {
	switch arch {
	case specs.ArchX86:
		return libseccomp.ArchX86, nil
	case specs.ArchX86_64:
		return libseccomp.ArchAMD64, nil
	case specs.ArchX32:
		return libseccomp.ArchX32, nil
	case specs.ArchARM:
		return libseccomp.ArchARM, nil
	case specs.ArchAARCH64:
		return libseccomp.ArchARM64, nil
	case specs.ArchMIPS:
		return libseccomp.ArchMIPS, nil
	case specs.ArchMIPS64:
		return libseccomp.ArchMIPS64, nil
	case specs.ArchMIPS64N32:
		return libseccomp.ArchMIPS64N32, nil
	case specs.ArchMIPSEL:
		return libseccomp.ArchMIPSEL, nil
	case specs.ArchMIPSEL64:
		return libseccomp.ArchMIPSEL64, nil
	case specs.ArchMIPSEL64N32:
		return libseccomp.ArchMIPSEL64N32, nil
	case specs.ArchPPC:
		return libseccomp.ArchPPC, nil
	case specs.ArchPPC64:
		return libseccomp.ArchPPC64, nil
	case specs.ArchPPC64LE:
		return libseccomp.ArchPPC64LE, nil
	case specs.ArchS390:
		return libseccomp.ArchS390, nil
	case specs.ArchS390X:
		return libseccomp.ArchS390X, nil
	case specs.ArchPARISC:
		return libseccomp.ArchPARISC, nil
	case specs.ArchPARISC64:
		return libseccomp.ArchPARISC64, nil
	case specs.ArchRISCV64:
		return libseccomp.ArchRISCV64, nil
	case specs.ArchLOONGARCH64:
		return libseccomp.ArchLOONGARCH64, nil
	case specs.ArchM68K:
		return libseccomp.ArchM68K, nil
	case specs.ArchSH:
		return libseccomp.ArchSH, nil
	case specs.ArchSHEB:
		return libseccomp.ArchSHEB, nil
	default:
		return libseccomp.ArchInvalid, fmt.Errorf("unknown architecture %q", arch)
	}
}

// toCondition converts one spec argument into a libseccomp condition. For
// SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the datum, as in runc.
func toCondition(arg specs.LinuxSeccompArg) (libseccomp.ScmpCondition, error) {
	op, err := toOperator(arg.Op)
	if err != nil {
		return libseccomp.ScmpCondition{}, err
	}
	if arg.Index > maxArgIndex {
		return libseccomp.ScmpCondition{}, fmt.Errorf("argument index %d out of range (0-%d)", arg.Index, maxArgIndex)
	}
	return libseccomp.MakeCondition(arg.Index, op, arg.Value, arg.ValueTwo)
}

// setFlag turns a spec filter flag into the matching libseccomp attribute.
func setFlag(f *libseccomp.ScmpFilter, flag specs.LinuxSeccompFlag) error {
	var err error
	switch flag {
	case flagTsync:
		// Already on: libseccomp-golang sets TSYNC in NewFilter.
	case specs.LinuxSeccompFlagLog:
		err = f.SetLogBit(true)
	case specs.LinuxSeccompFlagSpecAllow:
		err = f.SetSSB(true)
	case specs.LinuxSeccompFlagWaitKillableRecv:
		err = f.SetWaitKill(true)
	default:
		return fmt.Errorf("unknown flag %q", flag)
	}
	if err != nil {
		return fmt.Errorf("flag %q not supported on this host: %w", flag, err)
	}
	return nil
}
