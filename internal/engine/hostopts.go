package engine

import (
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
	"berth/internal/spec"
)

// HostOptions are the run flags that shape a container's spec beyond its
// process and its cgroup limits, with Docker's meanings: privileges,
// devices, rlimits, tmpfs mounts, an init, /etc/hosts entries. They are
// recorded in the container's Config and applied at every start.
type HostOptions struct {
	Privileged bool     `json:"privileged,omitempty"`
	CapAdd     []string `json:"capAdd,omitempty"`
	CapDrop    []string `json:"capDrop,omitempty"`
	// SecurityOpt are the --security-opt values, with a profile file's
	// JSON in place of its name (seccomp=PROFILE.json), as Docker keeps
	// them: the container does not depend on the file afterwards.
	SecurityOpt       []string        `json:"securityOpt,omitempty"`
	Devices           []DeviceMapping `json:"devices,omitempty"`
	DeviceCgroupRules []string        `json:"deviceCgroupRules,omitempty"`
	Ulimits           []Ulimit        `json:"ulimits,omitempty"`
	// Tmpfs maps each --tmpfs path to its mount options.
	Tmpfs map[string]string `json:"tmpfs,omitempty"`
	Init  bool              `json:"init,omitempty"`
	// ExtraHosts are the --add-host entries, NAME:IP.
	ExtraHosts      []string `json:"extraHosts,omitempty"`
	ContainerIDFile string   `json:"containerIDFile,omitempty"`
	// Sysctls are namespaced kernel parameters (--sysctl, sysctl.go).
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Domainname is the container's NIS domain name (--domainname).
	Domainname string `json:"domainname,omitempty"`
}

// Ulimit is one --ulimit, with Docker's field names; -1 is unlimited.
type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// ParseUlimit reads --ulimit NAME=SOFT[:HARD] with Docker's names
// (nofile, nproc, core, memlock, stack...); HARD defaults to SOFT.
func ParseUlimit(s string) (Ulimit, error) {
	u, err := units.ParseUlimit(s)
	if err != nil {
		return Ulimit{}, errdefs.Invalidf("--ulimit %q: %v", s, err)
	}
	return Ulimit{Name: u.Name, Hard: u.Hard, Soft: u.Soft}, nil
}

// rlimit is u as the spec has it; -1 becomes RLIM_INFINITY.
func (u Ulimit) rlimit() specs.POSIXRlimit {
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Hard: uint64(u.Hard), Soft: uint64(u.Soft)}
}

// tmpfsFlags are the mount flags --tmpfs takes, and valueless tmpfs
// options.
var tmpfsFlags = []string{
	"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync", "async", "dirsync",
	"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
	"nostrictatime", "lazytime", "nolazytime", "symfollow", "nosymfollow", "inode32", "inode64", "noswap",
}

// tmpfsSize is a size or count as tmpfs reads one: a number with an
// optional k, m, g... suffix, or a percentage of memory for size.
var tmpfsSize = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+[kKmMgGtTpPeE%]?$`) })

// ParseTmpfs reads --tmpfs PATH[:OPTIONS] and returns the path and its
// options, which are mount flags (ro, exec...) and tmpfs's own size,
// nr_blocks, nr_inodes, mode, uid, gid, mpol and huge.
func ParseTmpfs(s string) (dest, options string, err error) {
	dest, options, _ = strings.Cut(s, ":")
	bad := func(why string) (string, string, error) {
		return "", "", errdefs.Invalidf("--tmpfs %q: %s", s, why)
	}
	if !path.IsAbs(dest) {
		return bad("the path must be absolute")
	}
	if dest = path.Clean(dest); dest == "/" {
		return bad("a tmpfs cannot replace the root filesystem")
	}
	for _, o := range strings.Split(options, ",") {
		k, v, hasValue := strings.Cut(o, "=")
		ok := false
		switch {
		case o == "":
			ok = true
		case !hasValue:
			ok = slices.Contains(tmpfsFlags, o)
		case k == "size" || k == "nr_blocks" || k == "nr_inodes":
			ok = tmpfsSize().MatchString(v)
		case k == "mode":
			_, perr := strconv.ParseUint(v, 8, 32)
			ok = perr == nil
		case k == "uid" || k == "gid":
			_, perr := strconv.ParseUint(v, 10, 32)
			ok = perr == nil
		case k == "mpol" || k == "huge":
			ok = v != ""
		}
		if !ok {
			return bad("option " + strconv.Quote(o) + " is not a tmpfs option")
		}
	}
	return dest, options, nil
}

// tmpfsMounts are the container's --tmpfs mounts, parents before what is
// mounted inside them. Like Docker's, they are noexec, nosuid and nodev
// unless their options say otherwise: a later option wins.
func (h *HostOptions) tmpfsMounts() []specs.Mount {
	dests := make([]string, 0, len(h.Tmpfs))
	for d := range h.Tmpfs {
		dests = append(dests, d)
	}
	slices.Sort(dests) // a path sorts before the paths inside it
	var out []specs.Mount
	for _, d := range dests {
		opts := []string{"noexec", "nosuid", "nodev"}
		if o := h.Tmpfs[d]; o != "" {
			opts = append(opts, strings.Split(o, ",")...)
		}
		out = append(out, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	return out
}

// ParseAddHost reads --add-host NAME:IP (or NAME=IP, and an IPv6 address
// in brackets) and returns it as NAME:IP.
func ParseAddHost(s string) (string, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n#") {
		return "", errdefs.Invalidf("--add-host %q: want NAME:IP", s)
	}
	if ip == hostGatewayName {
		return name + ":" + ip, nil
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if _, err := netip.ParseAddr(ip); err != nil {
		return "", errdefs.Invalidf("--add-host %q: %q is not an IP address", s, ip)
	}
	return name + ":" + ip, nil
}

// hostGatewayName is the --add-host address that stands for the host:
// the default bridge network's gateway.
const hostGatewayName = "host-gateway"

// hostsLines are /etc/hosts lines for the --add-host entries, with
// host-gateway replaced by gw (the line is left out without one).
func hostsLines(extra []string, gw string) string {
	var b strings.Builder
	for _, e := range extra {
		name, ip, _ := strings.Cut(e, ":")
		if ip == hostGatewayName {
			if ip = gw; ip == "" {
				continue
			}
		}
		b.WriteString(ip + "\t" + name + "\n")
	}
	return b.String()
}

// CheckHostOptions checks h as a create does, so that a face can refuse
// bad flags before it pulls or creates anything. Errors name the flag.
// The warnings are options this host makes meaningless (label= without
// SELinux, apparmor= without AppArmor), which Docker ignores too.
func (e *Engine) CheckHostOptions(h *HostOptions) ([]string, error) {
	if _, err := NormalizeCapabilities("cap-add", h.CapAdd); err != nil {
		return nil, err
	}
	if _, err := NormalizeCapabilities("cap-drop", h.CapDrop); err != nil {
		return nil, err
	}
	sec, warnings, err := parseSecurityOpts(h.SecurityOpt, thisHostLSMs())
	if err != nil {
		return nil, err
	}
	if sec.seccomp != "" && sec.seccomp != "unconfined" {
		bounding, _ := h.capabilities()
		if _, err := spec.ParseSeccomp([]byte(sec.seccomp), bounding); err != nil {
			return nil, errdefs.Invalidf("--security-opt seccomp: %v", err)
		}
	}
	for _, d := range h.Devices {
		if _, err := ParseDevice(d.PathOnHost + ":" + d.PathInContainer + ":" + d.CgroupPermissions); err != nil {
			return nil, err
		}
	}
	if _, _, err := h.devices(); err != nil {
		return nil, err
	}
	for _, u := range h.Ulimits {
		if _, err := ParseUlimit(u.Name + "=" + strconv.FormatInt(u.Soft, 10) + ":" + strconv.FormatInt(u.Hard, 10)); err != nil {
			return nil, err
		}
	}
	for d, o := range h.Tmpfs {
		if _, _, err := ParseTmpfs(d + ":" + o); err != nil {
			return nil, err
		}
	}
	for _, x := range h.ExtraHosts {
		if _, err := ParseAddHost(x); err != nil {
			return nil, err
		}
	}
	if h.Init {
		if _, err := e.initBinary(); err != nil {
			return nil, errdefs.Invalidf("--init: %v", err)
		}
	}
	return warnings, nil
}

// applyHostOptions sets what h asks for in opts, at each start: the
// capabilities, seccomp and no_new_privs, the devices (looked up on the
// host again) and their cgroup rules, rlimits, tmpfs mounts, and the
// init, copied into dir.
func (e *Engine) applyHostOptions(dir string, h *HostOptions, opts *spec.Options) error {
	sec, _, err := parseSecurityOpts(h.SecurityOpt, thisHostLSMs())
	if err != nil {
		return err
	}
	bounding, set := h.capabilities()
	opts.Capabilities, opts.Privileged, opts.NewPrivileges = set, h.Privileged, sec.newPrivileges
	switch sec.seccomp {
	case "":
	case "unconfined":
		opts.SeccompUnconfined = true
	default:
		if opts.Seccomp, err = spec.ParseSeccomp([]byte(sec.seccomp), bounding); err != nil {
			return err
		}
	}
	devs, rules, err := h.devices()
	if err != nil {
		return err
	}
	opts.Devices = devs
	if h.Privileged {
		opts.Devices = append(opts.Devices, spec.HostDevices()...)
	}
	if len(rules) > 0 {
		res := specs.LinuxResources{}
		if opts.Resources != nil {
			res = *opts.Resources
		}
		res.Devices = append(slices.Clone(res.Devices), rules...)
		opts.Resources = &res
	}
	for _, u := range h.Ulimits {
		opts.Rlimits = append(opts.Rlimits, u.rlimit())
	}
	opts.Mounts = append(opts.Mounts, h.tmpfsMounts()...)
	if h.Init {
		m, err := e.initMount(dir)
		if err != nil {
			return err
		}
		opts.Mounts = append(opts.Mounts, m)
		opts.Args = append([]string{initInContainer, "--"}, opts.Args...)
	}
	return nil
}

// HostOptionsJSON is the part of Docker's HostConfig that HostOptions
// hold, for inspect.
type HostOptionsJSON struct {
	Privileged        bool
	CapAdd            []string
	CapDrop           []string
	SecurityOpt       []string
	Devices           []DeviceMapping
	DeviceCgroupRules []string
	Ulimits           []Ulimit
	Tmpfs             map[string]string `json:",omitempty"`
	Init              *bool
	ExtraHosts        []string
	ContainerIDFile   string
}

func (h *HostOptions) inspect() HostOptionsJSON {
	out := HostOptionsJSON{
		Privileged: h.Privileged, CapAdd: h.CapAdd, CapDrop: h.CapDrop, SecurityOpt: h.SecurityOpt,
		Devices: h.Devices, DeviceCgroupRules: h.DeviceCgroupRules, Ulimits: h.Ulimits, Tmpfs: h.Tmpfs,
		ExtraHosts: h.ExtraHosts, ContainerIDFile: h.ContainerIDFile,
	}
	if out.Devices == nil {
		out.Devices = []DeviceMapping{} // Docker prints [] here, null for the lists above
	}
	if h.Init {
		out.Init = &h.Init
	}
	return out
}
