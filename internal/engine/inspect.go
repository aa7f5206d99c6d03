package engine

import (
	"path/filepath"
	"strings"
	"time"

	"berth/internal/image"
	"berth/internal/metadata"
)

// ContainerJSON is `inspect`'s output for a container, with Docker's
// field names so that scripts written for Docker read it.
type ContainerJSON struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           StateJSON
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	HostConfig      HostConfigJSON
	GraphDriver     GraphDriverJSON
	Mounts          []MountJSON
	Config          ConfigJSON
	NetworkSettings NetworkJSON
}

// StateJSON is Docker's State.
type StateJSON struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *Health `json:",omitempty"`
}

// HostConfigJSON is the part of Docker's HostConfig berth has.
type HostConfigJSON struct {
	AutoRemove     bool
	ReadonlyRootfs bool
	NetworkMode    string
	RestartPolicy  struct {
		Name              string
		MaximumRetryCount int
	}
	Memory            int64
	MemorySwap        int64
	MemoryReservation int64
	NanoCpus          int64
	CpuShares         int64
	CpusetCpus        string
	PidsLimit         *int64
	ShmSize           int64
	PortBindings      map[string][]PortBindingJSON
	PublishAllPorts   bool
	HostOptionsJSON
	MountsHostJSON
}

// GraphDriverJSON names the container's layers.
type GraphDriverJSON struct {
	Data map[string]string
	Name string
}

// ConfigJSON is Docker's container Config.
type ConfigJSON struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string
	StopSignal   string              `json:",omitempty"`
	StopTimeout  *int                `json:",omitempty"`
	Healthcheck  *image.HealthConfig `json:",omitempty"`
}

// NetworkJSON is Docker's NetworkSettings: the container's endpoints,
// and, for the default bridge network, Docker's top-level copy of its
// endpoint there (network_inspect.go).
type NetworkJSON struct {
	SandboxKey string
	Ports      map[string]any
	EndpointJSON
	Networks map[string]*EndpointSettingsJSON
}

func timeOrZero(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// Inspect describes container c.
func (e *Engine) Inspect(c *metadata.Container) (*ContainerJSON, error) {
	cfg, err := configOf(c)
	if err != nil {
		return nil, err
	}
	dir := e.dir(c.ID)
	args := cfg.Args()
	st := e.status(c)
	out := &ContainerJSON{
		ID: c.ID, Created: c.Created.Format(time.RFC3339Nano), Path: args[0], Args: args[1:],
		Image: c.Image.String(), Name: "/" + c.Name, RestartCount: c.State.Restarts,
		ResolvConfPath: filepath.Join(dir, "resolv.conf"), HostnamePath: filepath.Join(dir, "hostname"),
		HostsPath: filepath.Join(dir, "hosts"), LogPath: e.LogPath(c.ID), Driver: "overlay", Platform: "linux",
		Mounts: e.mountsJSON(cfg),
		State: StateJSON{
			Status: st, Running: st == StatusRunning || st == StatusPaused, Paused: st == StatusPaused,
			ExitCode: e.exitCode(c), Error: c.State.Error, StartedAt: timeOrZero(c.State.StartedAt), FinishedAt: timeOrZero(c.State.FinishedAt),
		},
		Config: ConfigJSON{
			Hostname: cfg.Hostname, User: cfg.User, Tty: cfg.Tty, OpenStdin: cfg.OpenStdin,
			AttachStdout: true, AttachStderr: true, Env: cfg.Env, Cmd: cfg.Cmd, Image: c.ImageName,
			WorkingDir: cfg.WorkingDir, Entrypoint: cfg.Entrypoint, Labels: cfg.Labels,
			StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout, Healthcheck: cfg.Healthcheck,
			Volumes: anonymousPaths(cfg),
		},
		NetworkSettings: NetworkJSON{Networks: map[string]*EndpointSettingsJSON{}, Ports: map[string]any{}},
	}
	if st != StatusCreated {
		out.State.Health = e.health(c, cfg)
	}
	if out.State.Running {
		if rs, err := e.Runtime.State(c.ID); err == nil {
			out.State.Pid = rs.Pid
		}
	}
	if st == StatusRunning {
		out.State.ExitCode = 0
	}
	if out.Args == nil {
		out.Args = []string{}
	}
	h := &out.HostConfig
	h.AutoRemove, h.ReadonlyRootfs, h.NetworkMode, h.ShmSize = cfg.AutoRemove, cfg.ReadOnly, cfg.Network.modeName(), cfg.ShmSize
	e.inspectNetwork(c, cfg, &out.NetworkSettings)
	if h.ShmSize == 0 {
		h.ShmSize = 64 << 20
	}
	h.HostOptionsJSON = cfg.HostOptions.inspect()
	e.inspectPorts(c, cfg, out)
	h.MountsHostJSON = mountsHostJSON(cfg)
	h.RestartPolicy.Name = "no"
	if cfg.Restart != "" {
		name, count, _ := strings.Cut(cfg.Restart, ":")
		h.RestartPolicy.Name = name
		if count != "" {
			for _, ch := range count {
				h.RestartPolicy.MaximumRetryCount = h.RestartPolicy.MaximumRetryCount*10 + int(ch-'0')
			}
		}
	}
	if r := cfg.Resources; r != nil {
		if r.Memory != nil && r.Memory.Limit != nil {
			h.Memory = *r.Memory.Limit
			if r.Memory.Swap != nil {
				h.MemorySwap = *r.Memory.Swap
			}
		}
		if r.Memory != nil && r.Memory.Reservation != nil {
			h.MemoryReservation = *r.Memory.Reservation
		}
		if r.CPU != nil {
			if r.CPU.Quota != nil && r.CPU.Period != nil && *r.CPU.Period > 0 {
				h.NanoCpus = *r.CPU.Quota * 1e9 / int64(*r.CPU.Period)
			}
			if r.CPU.Shares != nil {
				h.CpuShares = int64(*r.CPU.Shares)
			}
			h.CpusetCpus = r.CPU.Cpus
		}
		if r.Pids != nil {
			h.PidsLimit = r.Pids.Limit
		}
	}
	lower, _ := e.Images.Snaps.LowerDirs(c.Chain)
	out.GraphDriver = GraphDriverJSON{Name: "overlay", Data: map[string]string{
		"LowerDir": strings.Join(lower, ":"), "UpperDir": filepath.Join(dir, "upper"),
		"WorkDir": filepath.Join(dir, "work"), "MergedDir": filepath.Join(dir, "rootfs"),
	}}
	return out, nil
}
