package engine

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/image"
	"berth/internal/metadata"
)

// Config is how a container was asked for: the image's settings merged
// with the run flags, kept in the container's record so that every
// start builds the same spec.
type Config struct {
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
	User       string            `json:"user,omitempty"`
	Hostname   string            `json:"hostname"`
	Labels     map[string]string `json:"labels,omitempty"`
	Tty        bool              `json:"tty,omitempty"`
	OpenStdin  bool              `json:"openStdin,omitempty"`
	AutoRemove bool              `json:"autoRemove,omitempty"`
	ReadOnly   bool              `json:"readOnly,omitempty"`
	StopSignal string            `json:"stopSignal,omitempty"`
	// StopTimeout is the seconds stop waits before SIGKILL; nil means 10.
	StopTimeout *int                  `json:"stopTimeout,omitempty"`
	Restart     string                `json:"restart,omitempty"`
	ShmSize     int64                 `json:"shmSize,omitempty"`
	Resources   *specs.LinuxResources `json:"resources,omitempty"`
	// Binds are the mounts asked for: host paths, volumes and tmpfs
	// (-v, --mount, --volumes-from, the image's VOLUME paths).
	Binds []Bind `json:"binds,omitempty"`
	// VolumesFrom are the --volumes-from containers, whose mounts
	// Create copies into Binds.
	VolumesFrom []string `json:"volumesFrom,omitempty"`
	// DNS settings written into the container's /etc/resolv.conf.
	DNS        []string `json:"dns,omitempty"`
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`
	// Healthcheck is the image's HEALTHCHECK with the --health-* flags
	// laid over it; Test ["NONE"] turns it off.
	Healthcheck *image.HealthConfig `json:"healthcheck,omitempty"`
	// Log is how the log rotates (logconfig.go); nil is the default.
	Log *LogConfig `json:"log,omitempty"`
	// Network is the container's network mode and its networks
	// (network.go).
	Network NetworkConfig `json:"network,omitempty"`
	// HostOptions are the privileges, devices, rlimits, tmpfs mounts,
	// init and /etc/hosts entries asked for (hostopts.go).
	HostOptions
	// PortOptions are the published and exposed ports (ports.go).
	PortOptions
}

// Args is the process the container runs: entrypoint, then cmd.
func (c *Config) Args() []string {
	return append(append([]string(nil), c.Entrypoint...), c.Cmd...)
}

func configOf(c *metadata.Container) (*Config, error) {
	var cfg Config
	err := json.Unmarshal(c.Config, &cfg)
	return &cfg, err
}

// ConfigOf returns the configuration recorded for c, or nil when the
// record cannot be read.
func (e *Engine) ConfigOf(c *metadata.Container) *Config {
	cfg, err := configOf(c)
	if err != nil {
		return nil
	}
	return cfg
}
