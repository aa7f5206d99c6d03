package container

import (
	"fmt"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capNames maps the spec's capability names to their numbers
// (capabilities(7)). Names the kernel does not know are refused by
// Validate; numbers above the running kernel's last cap are skipped.
var capNames = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// CapabilityNames lists every capability berth knows, for `features`.
func CapabilityNames() []string {
	out := make([]string, len(capNames))
	for n, v := range capNames {
		out[v] = n
	}
	return out
}

// lastCap is the running kernel's highest capability number, read once.
var lastCap = sync.OnceValue(func() int {
	b, err := readSmallFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n := 0
	fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &n)
	return n
})

type capSet [2]uint32

func (c *capSet) add(n int)     { c[n/32] |= 1 << (n % 32) }
func (c capSet) has(n int) bool { return c[n/32]&(1<<(n%32)) != 0 }

func toSet(names []string) (capSet, error) {
	var s capSet
	for _, n := range names {
		v, ok := capNames[strings.ToUpper(n)]
		if !ok {
			return s, fmt.Errorf("unknown capability %q", n)
		}
		s.add(v)
	}
	return s, nil
}

func capSets(c *specs.LinuxCapabilities) ([5]capSet, error) {
	var sets [5]capSet
	if c == nil {
		return sets, nil
	}
	for i, names := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		s, err := toSet(names)
		if err != nil {
			return sets, err
		}
		sets[i] = s
	}
	return sets, nil
}

// dropBounding trims the bounding set. It needs CAP_SETPCAP, so it runs
// before the switch to the process's user clears the effective set.
func dropBounding(c *specs.LinuxCapabilities) error {
	sets, err := capSets(c)
	if err != nil {
		return err
	}
	for n := 0; n <= lastCap(); n++ {
		if !sets[0].has(n) {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil && err != unix.EINVAL {
				return fmt.Errorf("drop capability %s from bounding set: %w", CapabilityNames()[n], err)
			}
		}
	}
	return nil
}

// applyCaps sets the effective, permitted, inheritable and ambient sets.
// It runs after the switch to the process's user, with PR_SET_KEEPCAPS
// having kept the permitted set.
func applyCaps(c *specs.LinuxCapabilities) error {
	sets, err := capSets(c)
	if err != nil {
		return err
	}
	effective, permitted, inheritable, ambient := sets[1], sets[2], sets[3], sets[4]
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{}
	for i := 0; i < 2; i++ {
		data[i].Effective = effective[i]
		data[i].Permitted = permitted[i]
		data[i].Inheritable = inheritable[i]
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for n := 0; n <= lastCap(); n++ {
		if ambient.has(n) {
			// The kernel refuses an ambient cap that is not both permitted
			// and inheritable; runc ignores that case too.
			unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0)
		}
	}
	return nil
}
