package compose

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"berth/internal/errdefs"
)

// serviceFields are the service attributes berth honours. Every other
// one is refused at load time: a field that would be ignored silently
// gives a project that looks as asked for and is not.
var serviceFields = set(
	"image", "build", "command", "entrypoint", "environment", "env_file", "expose",
	"volumes", "depends_on", "healthcheck", "restart", "deploy", "user", "working_dir",
	"hostname", "domainname", "labels", "label_file", "cap_add", "cap_drop", "privileged",
	"devices", "device_cgroup_rules", "read_only", "tmpfs", "init", "stop_signal",
	"stop_grace_period", "extra_hosts", "dns", "dns_search", "dns_opt", "secrets", "configs",
	"logging", "ulimits", "shm_size", "sysctls", "tty", "stdin_open", "container_name",
	"profiles", "scale", "mem_limit", "mem_reservation", "memswap_limit", "cpus",
	"cpu_shares", "cpuset", "pids_limit", "security_opt", "pull_policy", "platform",
	"attach", "extends", "networks", "network_mode",
	// always in the JSON form, null when unset
	"command", "entrypoint",
)

var (
	deployFields         = set("mode", "replicas", "resources", "restart_policy", "labels")
	resourceFields       = set("cpus", "memory", "pids")
	buildFields          = set("context", "dockerfile", "args", "target", "labels")
	networkFields        = set("name", "driver", "driver_opts", "ipam", "external", "internal", "labels", "enable_ipv6")
	serviceNetworkFields = set("aliases", "ipv4_address", "ipv6_address", "mac_address", "priority")
	volumeFields         = set("name", "driver", "driver_opts", "external", "labels")
	fileFields           = set("name", "file", "environment", "content", "external", "labels")
	loggingDrivers       = set("", "json-file", "local")
	restartPolicies      = set("", "no", "always", "on-failure", "unless-stopped")
)

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Check refuses what berth cannot do, naming the file, the service and
// the field.
func Check(p *types.Project) error {
	for _, name := range p.ServiceNames() {
		if err := checkService(p, p.Services[name]); err != nil {
			return err
		}
	}
	if len(p.AllJobs()) > 0 {
		return errdefs.Unsupportedf("%s: jobs: berth does not run compose jobs", strings.Join(p.ComposeFiles, ", "))
	}
	if len(p.Models) > 0 {
		return errdefs.Unsupportedf("%s: models: berth does not run AI models", strings.Join(p.ComposeFiles, ", "))
	}
	for name, n := range p.Networks {
		if err := checkKeys(p, "networks", name, n, networkFields); err != nil {
			return err
		}
	}
	for name, v := range p.Volumes {
		if err := checkKeys(p, "volumes", name, v, volumeFields); err != nil {
			return err
		}
	}
	for name, s := range p.Secrets {
		if err := checkKeys(p, "secrets", name, s, fileFields); err != nil {
			return err
		}
		if s.External {
			return errdefs.Unsupportedf("%s: secrets: %q: external secrets need a swarm; give a file", fileOf(p, "secrets", name, ""), name)
		}
	}
	for name, c := range p.Configs {
		if err := checkKeys(p, "configs", name, c, fileFields); err != nil {
			return err
		}
		if c.External {
			return errdefs.Unsupportedf("%s: configs: %q: external configs need a swarm; give a file", fileOf(p, "configs", name, ""), name)
		}
	}
	return nil
}

// checkKeys refuses the attributes of a top-level element that berth
// does not have.
func checkKeys(p *types.Project, section, name string, v any, allowed map[string]bool) error {
	for _, k := range jsonKeys(v) {
		if !allowed[k] {
			return errdefs.Unsupportedf("%s: %s: %q: %s is not supported by berth", fileOf(p, section, name, k), section, name, k)
		}
	}
	return nil
}

func checkService(p *types.Project, s types.ServiceConfig) error {
	unsupported := func(field, why string) error {
		return errdefs.Unsupportedf("%s: service %q: %s: %s", origin(p, s.Name, field), s.Name, field, why)
	}
	for name, n := range s.Networks {
		for _, k := range jsonKeys(n) {
			if !serviceNetworkFields[k] {
				return unsupported("networks."+name+"."+k, "not supported by berth")
			}
		}
	}
	switch {
	case s.NetworkMode == "", s.NetworkMode == "none", s.NetworkMode == "host":
	default:
		return unsupported("network_mode", "only none and host are supported by berth")
	}
	for _, k := range jsonKeys(s) {
		if !serviceFields[k] {
			return unsupported(k, "not supported by berth")
		}
	}
	if s.Deploy != nil {
		for _, k := range jsonKeys(s.Deploy) {
			if !deployFields[k] {
				return unsupported("deploy."+k, "not supported by berth")
			}
		}
		if s.Deploy.Mode != "" && s.Deploy.Mode != "replicated" {
			return unsupported("deploy.mode", "only \"replicated\" is supported")
		}
		for kind, r := range map[string]*types.Resource{"limits": s.Deploy.Resources.Limits, "reservations": s.Deploy.Resources.Reservations} {
			if r == nil {
				continue
			}
			for _, k := range jsonKeys(r) {
				if !resourceFields[k] || (kind == "reservations" && k != "memory") {
					return unsupported("deploy.resources."+kind+"."+k, "not supported by berth")
				}
			}
		}
		if rp := s.Deploy.RestartPolicy; rp != nil && (rp.Delay != nil || rp.Window != nil) {
			return unsupported("deploy.restart_policy", "delay and window are not supported by berth")
		}
	}
	if s.Build != nil {
		for _, k := range jsonKeys(s.Build) {
			if !buildFields[k] {
				return unsupported("build."+k, "not supported by berth")
			}
		}
	}
	if s.Logging != nil && !loggingDrivers[s.Logging.Driver] {
		return unsupported("logging.driver", "berth logs in json-file format only")
	}
	if s.Logging != nil && len(s.Logging.Options) > 0 {
		return unsupported("logging.options", "berth rotates logs at 10 MiB, 3 files, and takes no log options yet")
	}
	if !restartPolicies[strings.SplitN(s.Restart, ":", 2)[0]] {
		return unsupported("restart", "want no, always, on-failure[:N] or unless-stopped")
	}
	if s.Image == "" && s.Build == nil {
		return fieldError(p, s.Name, "image", "the service has neither an image nor a build section")
	}
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeBind, types.VolumeTypeTmpfs, types.VolumeTypeVolume:
		default:
			return unsupported("volumes", v.Type+" volumes are not supported by berth")
		}
	}
	for name, d := range s.DependsOn {
		switch d.Condition {
		case "", types.ServiceConditionStarted, types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully:
		default:
			return fieldError(p, s.Name, "depends_on", "%s: unknown condition %q", name, d.Condition)
		}
	}
	for _, f := range s.Secrets {
		if _, ok := p.Secrets[f.Source]; !ok {
			return fieldError(p, s.Name, "secrets", "no top-level secret named %q", f.Source)
		}
	}
	for _, f := range s.Configs {
		if _, ok := p.Configs[f.Source]; !ok {
			return fieldError(p, s.Name, "configs", "no top-level config named %q", f.Source)
		}
	}
	return nil
}

// jsonKeys are the attributes v sets, as compose's JSON form names them.
func jsonKeys(v any) []string {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var keys []string
	for k, raw := range m {
		switch string(raw) {
		case "null", "{}", "[]", `""`, "false", "0":
		default:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// origin names the compose file in which service sets field (its first
// part, before a dot), or all the project's files when none of them
// does by itself (an extends or include brought it in).
func origin(p *types.Project, service, field string) string {
	return fileOf(p, "services", service, strings.SplitN(field, ".", 2)[0])
}

func fileOf(p *types.Project, section, name, field string) string {
	var found []string
	for _, f := range p.ComposeFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var doc map[string]map[string]map[string]any
		if yaml.Unmarshal(b, &doc) != nil {
			continue
		}
		if el, ok := doc[section][name]; ok {
			if _, ok := el[field]; ok || field == "" {
				found = append(found, f)
			}
		}
	}
	if len(found) == 0 {
		found = p.ComposeFiles
	}
	return strings.Join(slices.Compact(found), ", ")
}
