package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
	"berth/internal/seccomp"
)

// maxConfigSize bounds config.json: it is read whole into memory.
const maxConfigSize = 16 << 20

// LoadSpec reads BUNDLE/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	s, _, err := loadSpec(bundle)
	return s, err
}

// loadSpec is LoadSpec that also returns the file as it was read, which
// create keeps as the container's spec.json instead of encoding the spec
// again: encoding/json would build its encoders for every spec type.
func loadSpec(bundle string) (*specs.Spec, []byte, error) {
	f, err := os.Open(filepath.Join(bundle, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, errdefs.Invalidf("bundle %s has no config.json", bundle)
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(b) > maxConfigSize {
		return nil, nil, errdefs.Invalidf("config.json is larger than %d bytes", maxConfigSize)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, nil, errdefs.Invalidf("parse config.json: %v", err)
	}
	return &s, b, nil
}

var knownNamespaces = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

// Validate checks a spec before anything is created, so that bad input
// fails with a message naming the field and leaves nothing behind.
func Validate(s *specs.Spec) error {
	if err := validate(s, true); err != nil {
		return errdefs.Invalidf("config.json: %v", err)
	}
	return nil
}

// validate checks s; the seccomp section only with checkSeccomp, as
// create checks it by compiling it.
func validate(s *specs.Spec, checkSeccomp bool) error {
	if !strings.HasPrefix(s.Version, "1.") {
		return fmt.Errorf("ociVersion %q is not supported: want 1.x", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path is required")
	}
	if s.Process == nil {
		return errors.New("process is required")
	}
	if err := ValidateProcess(s.Process); err != nil {
		return err
	}
	if s.Linux == nil {
		return errors.New("linux section is required on Linux")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if !knownNamespaces[ns.Type] {
			return fmt.Errorf("unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("namespace %q is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return fmt.Errorf("%s namespace path: %v", ns.Type, err)
			}
		}
	}
	userNew := seen[specs.UserNamespace] && nsPath(s, specs.UserNamespace) == ""
	if userNew && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
		return errors.New("a new user namespace needs linux.uidMappings and linux.gidMappings")
	}
	if !seen[specs.UserNamespace] && (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) {
		return errors.New("uid/gid mappings are given but there is no user namespace")
	}
	if s.Hostname != "" && !seen[specs.UTSNamespace] {
		return errors.New("hostname is set but the container has no UTS namespace of its own")
	}
	if s.Domainname != "" && !seen[specs.UTSNamespace] {
		return errors.New("domainname is set but the container has no UTS namespace of its own")
	}
	if len(s.Linux.TimeOffsets) > 0 && (!seen[specs.TimeNamespace] || nsPath(s, specs.TimeNamespace) != "") {
		return errors.New("timeOffsets need a new time namespace")
	}
	for clock := range s.Linux.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("unknown clock %q in timeOffsets", clock)
		}
	}
	own := map[specs.LinuxNamespaceType]bool{}
	for t := range seen {
		own[t] = !isHostNamespace(t, nsPath(s, t))
	}
	for k := range s.Linux.Sysctl {
		if err := validateSysctl(k, own); err != nil {
			return err
		}
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mount destination %q is not absolute", m.Destination)
		}
	}
	if s.Linux.Personality != nil {
		if _, ok := personalityDomains[s.Linux.Personality.Domain]; !ok {
			return fmt.Errorf("unknown personality domain %q", s.Linux.Personality.Domain)
		}
	}
	if checkSeccomp && s.Linux.Seccomp != nil {
		if err := seccomp.Validate(s.Linux.Seccomp); err != nil {
			return err
		}
	}
	return nil
}

// ValidateProcess checks a process, for create and for exec.
func ValidateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("process.args must not be empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", p.Cwd)
	}
	if p.Capabilities != nil {
		c := p.Capabilities
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			if _, err := toSet(set); err != nil {
				return err
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range p.Rlimits {
		if _, ok := rlimitNames[r.Type]; !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
		if seen[r.Type] {
			return fmt.Errorf("rlimit %q is listed twice", r.Type)
		}
		if r.Soft > r.Hard {
			return fmt.Errorf("rlimit %s: soft limit %d is above hard limit %d", r.Type, r.Soft, r.Hard)
		}
		seen[r.Type] = true
	}
	if p.IOPriority != nil {
		if _, ok := ioprioClasses[p.IOPriority.Class]; !ok {
			return fmt.Errorf("unknown io priority class %q", p.IOPriority.Class)
		}
		if p.IOPriority.Priority < 0 || p.IOPriority.Priority > 7 {
			return fmt.Errorf("io priority %d is out of range 0-7", p.IOPriority.Priority)
		}
	}
	return nil
}

// isHostNamespace: path (empty for a new namespace) is berth's own
// namespace of type t, so writing its sysctls would change the host.
func isHostNamespace(t specs.LinuxNamespaceType, path string) bool {
	if path == "" {
		return false
	}
	a, err1 := os.Stat(path)
	// The calling thread's namespace, not the main thread's: a thread
	// that made a container's network namespace (network.NewNetNS) may
	// have been the main one, which stays in it.
	b, err2 := os.Stat("/proc/thread-self/ns/" + nsFiles[t])
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func nsPath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// validateSysctl allows only the sysctls that a container's own
// namespaces isolate (the list runc and Docker use); the others would
// change the host.
func validateSysctl(key string, ns map[specs.LinuxNamespaceType]bool) error {
	ipc := map[string]bool{"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
		"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true,
		"kernel.shm_rmid_forced": true}
	switch {
	case ipc[key] || strings.HasPrefix(key, "fs.mqueue."):
		if !ns[specs.IPCNamespace] {
			return fmt.Errorf("sysctl %q needs an IPC namespace of the container's own", key)
		}
	case strings.HasPrefix(key, "net."):
		if !ns[specs.NetworkNamespace] {
			return fmt.Errorf("sysctl %q needs a network namespace of the container's own", key)
		}
	case key == "kernel.hostname" || key == "kernel.domainname":
		if !ns[specs.UTSNamespace] {
			return fmt.Errorf("sysctl %q needs a UTS namespace of the container's own", key)
		}
	default:
		return fmt.Errorf("sysctl %q is not in a namespace the container owns: it would change the host", key)
	}
	if strings.Contains(key, "/") || strings.Contains(key, "..") {
		return fmt.Errorf("sysctl %q is malformed", key)
	}
	return nil
}
