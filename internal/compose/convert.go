package compose

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/engine"
	"berth/internal/image"
	"berth/internal/portmap"
	"berth/internal/volume"
)

// ContainerName is the name of a service's container number n, as
// Docker Compose names it: project-service-n, or the service's
// container_name.
func ContainerName(p *types.Project, s types.ServiceConfig, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return fmt.Sprintf("%s-%s-%d", p.Name, s.Name, n)
}

// ImageName is the image a service runs: its image, or for a service
// that only builds, project-service as Docker Compose tags it.
func ImageName(p *types.Project, s types.ServiceConfig) string {
	if s.Image != "" {
		return s.Image
	}
	return p.Name + "-" + s.Name
}

// CreateOptions turns service s into the engine's options for its
// container number n (oneoff for `run`). Each value goes through the
// engine's own parsers, those of run's flags, and an error names the
// service's field.
func CreateOptions(p *types.Project, s types.ServiceConfig, n int, oneoff bool) (engine.CreateOptions, error) {
	o := engine.CreateOptions{
		Image: ImageName(p, s), Name: ContainerName(p, s, n), Args: s.Command,
		WorkingDir: s.WorkingDir, User: s.User, Hostname: s.Hostname, Labels: map[string]string{},
	}
	bad := func(field string, err error) error {
		return fieldError(p, s.Name, field, "%v", err)
	}
	if s.Entrypoint != nil {
		o.Entrypoint = s.Entrypoint
		if len(s.Entrypoint) == 0 {
			o.Entrypoint = []string{""}
		}
	}
	for _, k := range sortedKeys(s.Environment) {
		if v := s.Environment[k]; v != nil {
			o.Env = append(o.Env, k+"="+*v)
		}
	}
	for k, v := range s.Labels {
		o.Labels[k] = v
	}
	hash, err := ServiceHash(s)
	if err != nil {
		return o, err
	}
	for k, v := range projectLabels(p) {
		o.Labels[k] = v
	}
	o.Labels[LabelService] = s.Name
	o.Labels[LabelNumber] = strconv.Itoa(n)
	o.Labels[LabelOneoff] = pyBool(oneoff)
	o.Labels[LabelConfigHash] = hash
	o.Labels[LabelDependsOn] = dependsOnLabel(s)

	cfg := engine.Config{Tty: s.Tty, OpenStdin: s.StdinOpen, ReadOnly: s.ReadOnly, StopSignal: s.StopSignal,
		ShmSize: int64(s.ShmSize), DNS: s.DNS, DNSSearch: s.DNSSearch, DNSOptions: s.DNSOpts}
	if s.StopGracePeriod != nil {
		t := int(time.Duration(*s.StopGracePeriod).Round(time.Second) / time.Second)
		cfg.StopTimeout = &t
	}
	if cfg.Restart, err = restartPolicy(s); err != nil {
		return o, bad("restart", err)
	}
	if cfg.Resources, err = limits(s).Resources(); err != nil {
		return o, bad("resources", err)
	}
	if cfg.Healthcheck, err = healthcheck(s.HealthCheck); err != nil {
		return o, bad("healthcheck", err)
	}
	if cfg.HostOptions, err = hostOptions(s); err != nil {
		return o, bad(err.(*fieldErr).field, err.(*fieldErr).err)
	}
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			b := engine.Bind{Type: volume.TypeBind, Source: v.Source, Destination: v.Target, ReadOnly: v.ReadOnly, Create: true}
			if v.Bind != nil {
				b.Propagation = v.Bind.Propagation
				b.Create = bool(v.Bind.CreateHostPath)
			}
			if !filepath.IsAbs(b.Source) || !filepath.IsAbs(b.Destination) {
				return o, bad("volumes", fmt.Errorf("%s:%s: want absolute paths", b.Source, b.Destination))
			}
			cfg.Binds = append(cfg.Binds, b)
		case types.VolumeTypeVolume:
			b := engine.Bind{Type: volume.TypeVolume, Destination: v.Target, ReadOnly: v.ReadOnly, Anonymous: v.Source == ""}
			if v.Source != "" {
				// A volume the files do not declare (run -v NAME:PATH)
				// is the volume of that name, as in Docker Compose.
				b.Name = v.Source
				if vc, ok := p.Volumes[v.Source]; ok {
					b.Name = vc.Name
				}
			}
			if v.Volume != nil {
				b.NoCopy = v.Volume.NoCopy
			}
			cfg.Binds = append(cfg.Binds, b)
		case types.VolumeTypeTmpfs:
			spec := v.Target
			var opts []string
			if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", v.Tmpfs.Size))
			}
			if v.Tmpfs != nil && v.Tmpfs.Mode != 0 {
				opts = append(opts, fmt.Sprintf("mode=%o", v.Tmpfs.Mode))
			}
			if len(opts) > 0 {
				spec += ":" + strings.Join(opts, ",")
			}
			dest, topts, err := engine.ParseTmpfs(spec)
			if err != nil {
				return o, bad("volumes", err)
			}
			if cfg.HostOptions.Tmpfs == nil {
				cfg.HostOptions.Tmpfs = map[string]string{}
			}
			cfg.HostOptions.Tmpfs[dest] = topts
		}
	}
	if s.Logging != nil {
		if cfg.Log, err = engine.ParseLogOptions(s.Logging.Driver, s.Logging.Options); err != nil {
			return o, bad("logging", err)
		}
	}
	if cfg.PortOptions, err = ports(s); err != nil {
		return o, bad("ports", err)
	}
	o.Config = cfg
	o.Network = networkRequest(p, s)
	o.Network.PublishRequested = len(cfg.PortBindings) > 0
	o.Files, err = files(p, s)
	return o, err
}

// ports reads ports (short and long syntax, as the loader gives them)
// and expose with the engine's parser of -p and --expose.
func ports(s types.ServiceConfig) (engine.PortOptions, error) {
	var o engine.PortOptions
	for _, e := range s.Expose {
		ps, err := portmap.ParseExpose(e)
		if err != nil {
			return o, err
		}
		o.ExposedPorts = append(o.ExposedPorts, ps...)
	}
	for _, p := range s.Ports {
		spec := strconv.Itoa(int(p.Target))
		if p.Published != "" || p.HostIP != "" {
			spec = p.Published + ":" + spec
		}
		if ip := p.HostIP; ip != "" {
			if strings.Contains(ip, ":") {
				ip = "[" + ip + "]"
			}
			spec = ip + ":" + spec
		}
		if p.Protocol != "" {
			spec += "/" + p.Protocol
		}
		bs, err := portmap.Parse(spec)
		if err != nil {
			return o, err
		}
		o.PortBindings = append(o.PortBindings, bs...)
	}
	return o, nil
}

// pyBool is how Docker Compose writes booleans in labels.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// restartPolicy is restart, or deploy.restart_policy as Docker Compose
// reads it.
func restartPolicy(s types.ServiceConfig) (string, error) {
	r := s.Restart
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil && r == "" {
		switch rp := s.Deploy.RestartPolicy; rp.Condition {
		case "none", "":
			r = "no"
			if rp.Condition == "" {
				r = "always"
			}
		case "on-failure":
			r = "on-failure"
			if rp.MaxAttempts != nil {
				r += ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
			}
		case "any":
			r = "always"
		default:
			return "", fmt.Errorf("deploy.restart_policy.condition %q: want none, on-failure or any", rp.Condition)
		}
	}
	if r == "" {
		r = "no"
	}
	_, err := engine.ParseRestart(r)
	return r, err
}

// limits gathers the service's quotas, deploy.resources winning over
// the older top-level fields, as in Docker Compose.
func limits(s types.ServiceConfig) engine.Limits {
	l := engine.Limits{Memory: int64(s.MemLimit), MemorySwap: int64(s.MemSwapLimit),
		MemoryReservation: int64(s.MemReservation), CPUs: float64(s.CPUS), CPUShares: s.CPUShares,
		CpusetCpus: s.CPUSet}
	if s.PidsLimit != 0 {
		n := s.PidsLimit
		l.PidsLimit = &n
	}
	if s.Deploy != nil {
		if r := s.Deploy.Resources.Limits; r != nil {
			if r.NanoCPUs != 0 {
				l.CPUs = float64(r.NanoCPUs.Value())
			}
			if r.MemoryBytes != 0 {
				l.Memory = int64(r.MemoryBytes)
			}
			if r.Pids != 0 {
				n := r.Pids
				l.PidsLimit = &n
			}
		}
		if r := s.Deploy.Resources.Reservations; r != nil && r.MemoryBytes != 0 {
			l.MemoryReservation = int64(r.MemoryBytes)
		}
	}
	return l
}

// healthcheck turns the service's healthcheck into the engine's;
// disable is Docker's NONE.
func healthcheck(h *types.HealthCheckConfig) (*image.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.Disable {
		return &image.HealthConfig{Test: []string{"NONE"}}, nil
	}
	hc := &image.HealthConfig{Test: h.Test}
	for _, d := range []struct {
		from *types.Duration
		to   *time.Duration
	}{{h.Interval, &hc.Interval}, {h.Timeout, &hc.Timeout}, {h.StartPeriod, &hc.StartPeriod}} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc, engine.ValidateHealthcheck(hc)
}

type fieldErr struct {
	field string
	err   error
}

func (f *fieldErr) Error() string { return f.field + ": " + f.err.Error() }

// hostOptions reads the fields that run's host flags stand for.
func hostOptions(s types.ServiceConfig) (engine.HostOptions, error) {
	h := engine.HostOptions{Privileged: s.Privileged, DeviceCgroupRules: s.DeviceCgroupRules,
		SecurityOpt: s.SecurityOpt, Domainname: s.DomainName}
	fail := func(field string, err error) (engine.HostOptions, error) {
		return h, &fieldErr{field, err}
	}
	if s.Init != nil {
		h.Init = *s.Init
	}
	var err error
	if h.CapAdd, err = engine.NormalizeCapabilities("cap-add", s.CapAdd); err != nil {
		return fail("cap_add", err)
	}
	if h.CapDrop, err = engine.NormalizeCapabilities("cap-drop", s.CapDrop); err != nil {
		return fail("cap_drop", err)
	}
	for _, o := range s.SecurityOpt {
		if k, _, _ := strings.Cut(o, "="); k == "seccomp" && !strings.HasSuffix(o, "=unconfined") {
			return fail("security_opt", fmt.Errorf("%q: a seccomp profile file is not supported in compose files; use seccomp=unconfined or none", o))
		}
	}
	for _, r := range s.DeviceCgroupRules {
		if _, err := engine.ParseDeviceCgroupRule(r); err != nil {
			return fail("device_cgroup_rules", err)
		}
	}
	for _, d := range s.Devices {
		spec := d.Source
		if d.Target != "" {
			spec += ":" + d.Target
		}
		if d.Permissions != "" {
			spec += ":" + d.Permissions
		}
		m, err := engine.ParseDevice(spec)
		if err != nil {
			return fail("devices", err)
		}
		h.Devices = append(h.Devices, m)
	}
	for _, name := range sortedKeys(s.Ulimits) {
		u := s.Ulimits[name]
		soft, hard := u.Soft, u.Hard
		if u.Single != 0 {
			soft, hard = u.Single, u.Single
		}
		l, err := engine.ParseUlimit(fmt.Sprintf("%s=%d:%d", name, soft, hard))
		if err != nil {
			return fail("ulimits", err)
		}
		h.Ulimits = append(h.Ulimits, l)
	}
	for _, t := range s.Tmpfs {
		dest, opts, err := engine.ParseTmpfs(t)
		if err != nil {
			return fail("tmpfs", err)
		}
		if h.Tmpfs == nil {
			h.Tmpfs = map[string]string{}
		}
		h.Tmpfs[dest] = opts
	}
	for _, x := range s.ExtraHosts.AsList(":") {
		v, err := engine.ParseAddHost(x)
		if err != nil {
			return fail("extra_hosts", err)
		}
		h.ExtraHosts = append(h.ExtraHosts, v)
	}
	sort.Strings(h.ExtraHosts)
	for k, v := range s.Sysctls {
		if err := engine.CheckSysctl(k); err != nil {
			return fail("sysctls", err)
		}
		if h.Sysctls == nil {
			h.Sysctls = map[string]string{}
		}
		h.Sysctls[k] = v
	}
	return h, nil
}
