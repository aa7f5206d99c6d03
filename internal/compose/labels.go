package compose

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/opencontainers/go-digest"
)

// The labels Docker Compose puts on containers, with the same names and
// values, so that tools reading them see berth's projects too.
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNumber     = "com.docker.compose.container-number"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelConfigHash = "com.docker.compose.config-hash"
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	LabelFiles      = "com.docker.compose.project.config_files"
	LabelEnvFile    = "com.docker.compose.project.environment_file"
	LabelDependsOn  = "com.docker.compose.depends_on"
	LabelImage      = "com.docker.compose.image"
	LabelVersion    = "com.docker.compose.version"
	LabelNetwork    = "com.docker.compose.network"
	LabelVolume     = "com.docker.compose.volume"
)

// Version is the Docker Compose version whose behaviour and labels berth
// follows; it is the value of the version label.
const Version = "2.40.0"

// ServiceHash is the config hash of s: a digest of its resolved model,
// without what changes the number of containers or the way to get the
// image rather than the containers themselves, as Docker Compose
// computes it. A container whose label differs from it is out of date.
func ServiceHash(s types.ServiceConfig) (string, error) {
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	s.DependsOn = nil
	s.Profiles = nil
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	return digest.SHA256.FromBytes(b).Encoded(), nil
}

// dependsOnLabel is the depends_on label: service:condition:restart,
// comma-separated, in name order.
func dependsOnLabel(s types.ServiceConfig) string {
	var parts []string
	for name, d := range s.DependsOn {
		parts = append(parts, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// projectLabels are the labels that every container of p carries.
func projectLabels(p *types.Project) map[string]string {
	l := map[string]string{
		LabelProject:    p.Name,
		LabelWorkingDir: p.WorkingDir,
		LabelFiles:      strings.Join(p.ComposeFiles, ","),
		LabelVersion:    Version,
	}
	if ef := p.Environment["COMPOSE_ENV_FILES"]; ef != "" {
		l[LabelEnvFile] = ef
	}
	return l
}
