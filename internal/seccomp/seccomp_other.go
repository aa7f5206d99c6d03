//go:build !linux || !cgo

package seccomp

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

var errUnsupported = errors.New("seccomp: not supported by this build (it needs Linux, cgo and libseccomp)")

// Validate refuses any seccomp section: this build cannot enforce one, and a
// container must not run without the filter its spec asks for. A nil
// section, which asks for no filter, is valid.
func Validate(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	return errUnsupported
}

// Load always fails in this build; see Validate.
func Load(s *specs.LinuxSeccomp) (listenerFd int, err error) {
	return -1, errUnsupported
}

// Features reports that seccomp is not compiled in.
func Features() *features.Seccomp {
	enabled := false
	return &features.Seccomp{Enabled: &enabled}
}
