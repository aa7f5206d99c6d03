package container

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultAllowedDevices are the device cgroup rules every container gets
// after its own, as runc adds them: the nodes the runtime itself creates
// in /dev, terminals, and mknod (but no access) of any node. Docker's
// configs rely on this list and leave these devices out.
func defaultAllowedDevices() []specs.LinuxDeviceCgroup {
	i := func(n int64) *int64 { return &n }
	wild := i(-1)
	rules := []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: wild, Minor: wild, Access: "m"},
		{Allow: true, Type: "b", Major: wild, Minor: wild, Access: "m"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},    // null
		{Allow: true, Type: "c", Major: i(1), Minor: i(8), Access: "rwm"},    // random
		{Allow: true, Type: "c", Major: i(1), Minor: i(7), Access: "rwm"},    // full
		{Allow: true, Type: "c", Major: i(5), Minor: i(0), Access: "rwm"},    // tty
		{Allow: true, Type: "c", Major: i(1), Minor: i(5), Access: "rwm"},    // zero
		{Allow: true, Type: "c", Major: i(1), Minor: i(9), Access: "rwm"},    // urandom
		{Allow: true, Type: "c", Major: i(5), Minor: i(1), Access: "rwm"},    // console
		{Allow: true, Type: "c", Major: i(136), Minor: wild, Access: "rwm"},  // pts
		{Allow: true, Type: "c", Major: i(5), Minor: i(2), Access: "rwm"},    // ptmx
		{Allow: true, Type: "c", Major: i(10), Minor: i(200), Access: "rwm"}, // tun
	}
	return rules
}

// cgroupResources is what the container's cgroup is given: the spec's
// resources, with device rules for the spec's linux.devices and the
// defaults appended, so the nodes berth creates can be used. A device
// that the spec's resources name by its own number keeps the access
// they give it, as with `docker run --device /dev/sda:/dev/sda:r`.
func cgroupResources(s *specs.Spec) *specs.LinuxResources {
	res := specs.LinuxResources{}
	if s.Linux.Resources != nil {
		res = *s.Linux.Resources
	}
	denies := false
	for _, d := range res.Devices {
		denies = denies || !d.Allow
	}
	if !denies {
		// Rules apply on top of the parent's allow-all: with nothing
		// denied, allow rules change nothing, and the cgroup stays open.
		res.Devices = nil
		return &res
	}
	devs := append([]specs.LinuxDeviceCgroup(nil), res.Devices...)
	for _, d := range s.Linux.Devices {
		typ := d.Type
		switch typ {
		case "p":
			continue // a fifo is no device: the device cgroup has no say
		case "u":
			typ = "c" // unbuffered character device
		}
		major, minor := d.Major, d.Minor
		if hasRuleFor(res.Devices, typ, major, minor) {
			continue
		}
		devs = append(devs, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	res.Devices = append(devs, defaultAllowedDevices()...)
	return &res
}

// hasRuleFor reports whether rules name device typ major:minor itself,
// not through a wildcard.
func hasRuleFor(rules []specs.LinuxDeviceCgroup, typ string, major, minor int64) bool {
	for _, r := range rules {
		if r.Type == typ && r.Major != nil && *r.Major == major && r.Minor != nil && *r.Minor == minor {
			return true
		}
	}
	return false
}
