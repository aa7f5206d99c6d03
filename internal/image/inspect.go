package image

import (
	"encoding/json"
	"strings"
	"time"

	"berth/internal/metadata"
)

// ContainerConfig is the run configuration an image carries, with
// Docker's field names (and the Docker-only fields OCI configs lack).
type ContainerConfig struct {
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
	Healthcheck  *HealthConfig `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string   `json:",omitempty"`
	Shell        []string `json:",omitempty"`
}

// HealthConfig is Docker's HEALTHCHECK, kept in image configs.
type HealthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	// StartInterval is how often the check runs during StartPeriod.
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// dockerConfig is an image config as Docker writes it; OCI configs are a
// subset.
type dockerConfig struct {
	Created       time.Time       `json:"created"`
	Author        string          `json:"author"`
	Architecture  string          `json:"architecture"`
	Variant       string          `json:"variant"`
	OS            string          `json:"os"`
	Config        ContainerConfig `json:"config"`
	Comment       string          `json:"comment"`
	DockerVersion string          `json:"docker_version"`
	RootFS        struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// Inspect is `image inspect`'s output for one image, with Docker's field
// names so that scripts written for Docker read it.
type Inspect struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        ContainerConfig
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	GraphDriver   struct {
		Data map[string]string
		Name string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
	Metadata struct {
		LastTagTime time.Time
	}
}

// DockerConfig reads an image's config with Docker's extra fields.
func (s *Store) DockerConfig(img *metadata.Image) (*dockerConfig, error) {
	raw, err := s.RawConfig(img)
	if err != nil {
		return nil, err
	}
	var c dockerConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Inspect describes img.
func (s *Store) Inspect(img *metadata.Image) (*Inspect, error) {
	c, err := s.DockerConfig(img)
	if err != nil {
		return nil, err
	}
	out := &Inspect{
		ID:            img.ID.String(),
		RepoTags:      []string{},
		RepoDigests:   []string{},
		Comment:       c.Comment,
		Created:       c.Created.Format(time.RFC3339Nano),
		DockerVersion: c.DockerVersion,
		Author:        c.Author,
		Config:        c.Config,
		Architecture:  c.Architecture,
		Variant:       c.Variant,
		Os:            c.OS,
	}
	if out.RepoTags, err = s.Names(img.ID); err != nil {
		return nil, err
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	for _, rd := range img.RepoDigests {
		out.RepoDigests = append(out.RepoDigests, familiar(rd))
	}
	dirs, err := s.Snaps.LowerDirs(img.Chain)
	if err != nil {
		return nil, err
	}
	err = s.DB.View(func(tx *metadata.Tx) error {
		out.Size, err = chainSize(tx, img.Chain)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.GraphDriver.Name = "overlay"
	out.GraphDriver.Data = map[string]string{"LowerDir": strings.Join(dirs, ":")}
	out.RootFS.Type = "layers"
	out.RootFS.Layers = c.RootFS.DiffIDs
	if out.RootFS.Layers == nil {
		out.RootFS.Layers = []string{}
	}
	return out, nil
}
