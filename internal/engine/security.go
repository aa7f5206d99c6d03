package engine

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
	"berth/internal/spec"
)

// NormalizeCapabilities checks the values of --cap-add or --cap-drop
// (flag) and returns them as the kernel names them: "net_admin" and
// "NET_ADMIN" are "CAP_NET_ADMIN"; ALL stays ALL.
func NormalizeCapabilities(flag string, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		c, err := spec.NormalizeCapability(n)
		if err != nil {
			return nil, errdefs.Invalidf("--%s: %v", flag, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// capabilities is the bounding set the container gets, and what the
// spec is told: nil keeps the defaults.
func (h *HostOptions) capabilities() (bounding, set []string) {
	if h.Privileged {
		return spec.AllCapabilities(), nil
	}
	if len(h.CapAdd) == 0 && len(h.CapDrop) == 0 {
		return spec.DefaultCapabilities, nil
	}
	add, _ := NormalizeCapabilities("cap-add", h.CapAdd)
	drop, _ := NormalizeCapabilities("cap-drop", h.CapDrop)
	set = spec.Capabilities(add, drop)
	return set, set
}

// security is what the --security-opt values ask for.
type security struct {
	// newPrivileges turns no_new_privs off, which berth sets by default.
	newPrivileges bool
	// seccomp is "" for the default profile, "unconfined", or a
	// profile's JSON.
	seccomp string
}

// hostLSMs says which Linux security modules the host runs, for the
// label= and apparmor= options.
type hostLSMs struct {
	apparmor, selinux bool
}

// thisHostLSMs looks for AppArmor's securityfs directory and a mounted
// selinuxfs, as Docker does.
func thisHostLSMs() hostLSMs {
	var h hostLSMs
	if fi, err := os.Stat("/sys/kernel/security/apparmor"); err == nil && fi.IsDir() {
		h.apparmor = true
	}
	// Where selinuxfs is mounted when SELinux is on, as libselinux looks:
	// a statfs, rather than a read of the mount table, which on a host
	// running many containers is long.
	for _, dir := range []string{"/sys/fs/selinux", "/selinux"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.SELINUX_MAGIC {
			h.selinux = true
		}
	}
	return h
}

// parseSecurityOpts reads --security-opt values with Docker's meanings.
// label= and apparmor= ask for what berth cannot do yet: on a host
// without that module they mean nothing, as in Docker, and come back
// as warnings; on a host with it they are refused, rather than run the
// container less confined than asked. label=disable and
// apparmor=unconfined ask for what berth does, and are taken anywhere.
func parseSecurityOpts(opts []string, lsm hostLSMs) (security, []string, error) {
	var sec security
	var warnings []string
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok && k != "no-new-privileges" {
			// Docker's older separator, still accepted there.
			k, v, ok = strings.Cut(o, ":")
		}
		bad := func(why string) error { return errdefs.Invalidf("--security-opt %q: %s", o, why) }
		switch k {
		case "no-new-privileges":
			on := true
			if ok {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return sec, nil, bad("want no-new-privileges, no-new-privileges=true or no-new-privileges=false")
				}
				on = b
			}
			sec.newPrivileges = !on
		case "seccomp":
			switch {
			case v == "unconfined":
				sec.seccomp = v
			case v == "builtin":
				sec.seccomp = ""
			case strings.HasPrefix(strings.TrimSpace(v), "{"):
				sec.seccomp = v
			default:
				return sec, nil, bad("want seccomp=unconfined, seccomp=builtin, or seccomp=PROFILE.json, which is read when the container is created")
			}
		case "apparmor":
			if v == "" {
				return sec, nil, bad("want apparmor=PROFILE")
			}
			if v == "unconfined" {
				continue
			}
			if lsm.apparmor {
				return sec, nil, errdefs.Unsupportedf("--security-opt %q: this host runs AppArmor, and berth cannot apply AppArmor profiles yet (not implemented); only apparmor=unconfined is accepted", o)
			}
			warnings = append(warnings, "--security-opt "+o+": ignored, since this host has no AppArmor")
		case "label":
			lk, lv, _ := strings.Cut(v, ":")
			switch {
			case v == "disable":
				continue
			case v == "nested":
			case lv != "" && (lk == "user" || lk == "role" || lk == "type" || lk == "level" || lk == "filetype"):
			default:
				return sec, nil, bad("want label=user:USER, label=role:ROLE, label=type:TYPE, label=level:LEVEL, label=filetype:TYPE, label=nested or label=disable")
			}
			if lsm.selinux {
				return sec, nil, errdefs.Unsupportedf("--security-opt %q: this host runs SELinux, and berth cannot label containers yet (not implemented); only label=disable is accepted", o)
			}
			warnings = append(warnings, "--security-opt "+o+": ignored, since this host has no SELinux")
		default:
			return sec, nil, bad("want no-new-privileges[=true|false], seccomp=unconfined, seccomp=PROFILE.json, label=... or apparmor=...")
		}
	}
	return sec, warnings, nil
}
