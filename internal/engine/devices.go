package engine

import (
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
	"berth/internal/spec"
)

// DeviceMapping is one --device: a host device (or a directory of them),
// where it appears in the container, and the access the device cgroup
// gives it. The field names are Docker's, as inspect shows them.
type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
}

// ParseDevice reads --device HOST[:CONTAINER][:PERMS], as Docker does:
// the container path defaults to the host's, and PERMS, any of r, w and
// m, to rwm. The middle part is PERMS when it reads as permissions.
func ParseDevice(s string) (DeviceMapping, error) {
	bad := func(why string) (DeviceMapping, error) {
		return DeviceMapping{}, errdefs.Invalidf("--device %q: %s", s, why)
	}
	parts := strings.Split(s, ":")
	d := DeviceMapping{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 1:
	case 2:
		if validDevicePerms(parts[1]) {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
	case 3:
		if !validDevicePerms(parts[2]) {
			return bad("permissions " + strconv.Quote(parts[2]) + ": want r, w and m, each at most once")
		}
		d.PathInContainer, d.CgroupPermissions = parts[1], parts[2]
	default:
		return bad("want HOST[:CONTAINER][:PERMS]")
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !filepath.IsAbs(d.PathOnHost) {
		return bad("the host path must be absolute")
	}
	// The runtime makes device nodes in the container's /dev only.
	d.PathInContainer = path.Clean(d.PathInContainer)
	if !strings.HasPrefix(d.PathInContainer, "/dev/") {
		return bad("the container path must be under /dev")
	}
	return d, nil
}

func validDevicePerms(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for i, c := range s {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(s[i+1:], c) {
			return false
		}
	}
	return true
}

// deviceCgroupRule is Docker's form of --device-cgroup-rule.
var deviceCgroupRule = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`) })

// ParseDeviceCgroupRule reads --device-cgroup-rule 'TYPE MAJOR:MINOR
// ACCESS' ('c 1:3 rwm', 'b 8:* r', 'a *:* m') into the rule it allows.
func ParseDeviceCgroupRule(s string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRule().FindStringSubmatch(s)
	if m == nil || !validDevicePerms(m[4]) {
		return specs.LinuxDeviceCgroup{}, errdefs.Invalidf("--device-cgroup-rule %q: want 'TYPE MAJOR:MINOR ACCESS', with TYPE a, b or c, numbers or *, and ACCESS of r, w and m, such as 'c 1:3 rwm'", s)
	}
	num := func(v string) *int64 {
		if v == "*" {
			return nil
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return &n
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: num(m[2]), Minor: num(m[3]), Access: m[4]}, nil
}

// devices finds the host nodes of the container's --device flags, now,
// since a device's number can change when it is plugged again, and
// returns them with the device cgroup rules that allow them with their
// permissions, followed by the --device-cgroup-rule ones.
func (h *HostOptions) devices() ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	for _, m := range h.Devices {
		found, err := spec.DevicesAt(m.PathOnHost, m.PathInContainer)
		if err != nil {
			return nil, nil, errdefs.Invalidf("--device %s: %v", m.PathOnHost, err)
		}
		for _, d := range found {
			major, minor := d.Major, d.Minor
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: m.CgroupPermissions})
		}
		devs = append(devs, found...)
	}
	for _, r := range h.DeviceCgroupRules {
		rule, err := ParseDeviceCgroupRule(r)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, rule)
	}
	return devs, rules, nil
}
