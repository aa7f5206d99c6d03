package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/errdefs"
)

// LoadOptions say which project to load, as compose's global flags do.
type LoadOptions struct {
	// Files are the -f files, merged in order; none means compose.yaml
	// (or docker-compose.yml...) in WorkingDir or a parent, or
	// COMPOSE_FILE.
	Files []string
	// Name is -p; empty takes COMPOSE_PROJECT_NAME, the top-level name,
	// or the project directory's name.
	Name string
	// WorkingDir is --project-directory; empty is the first file's
	// directory.
	WorkingDir string
	// EnvFiles are --env-file; none means the project directory's .env.
	EnvFiles []string
	// Profiles are --profile; none takes COMPOSE_PROFILES.
	Profiles []string
	// Environ is the environment that interpolates the files; nil is
	// berth's own.
	Environ []string
}

// Load reads, merges, interpolates and checks a project. extends,
// include, profiles and x- extensions are the loader's; whatever berth
// cannot do is refused here, naming the file, the service and the field,
// before anything is created.
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	po, err := cli.NewProjectOptions(o.Files,
		cli.WithWorkingDirectory(o.WorkingDir),
		cli.WithEnv(env),
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.Name),
	)
	if err != nil {
		return nil, errdefs.Invalidf("%v", err)
	}
	p, err := po.LoadProject(ctx)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "no configuration file provided") {
			return nil, errdefs.NotFoundf("%v", err)
		}
		msg := err.Error()
		if !mentionsAny(msg, po.ConfigPaths) {
			msg = strings.Join(po.ConfigPaths, ", ") + ": " + msg
		}
		return nil, errdefs.Invalidf("%s", msg)
	}
	if err := Check(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Enable turns on the named services that a profile keeps off: naming
// a service on the command line enables it, as in Docker Compose.
func (p *Project) Enable(names []string) error {
	var off []string
	for _, n := range names {
		if _, ok := p.Model.DisabledServices[n]; ok {
			off = append(off, n)
		}
	}
	if len(off) == 0 {
		return nil
	}
	m, err := p.Model.WithServicesEnabled(off...)
	if err != nil {
		return errdefs.Invalidf("%v", err)
	}
	p.Model = m
	return nil
}

// Select checks that every name is a service of p (an enabled one) and
// returns them; none means all of them.
func Select(p *types.Project, names []string) ([]string, error) {
	if len(names) == 0 {
		return p.ServiceNames(), nil
	}
	for _, n := range names {
		if _, ok := p.Services[n]; !ok {
			if _, disabled := p.DisabledServices[n]; disabled {
				return nil, errdefs.Invalidf("service %q is not enabled by the active profiles", n)
			}
			return nil, errdefs.NotFoundf("no such service: %s", n)
		}
	}
	return names, nil
}

// fieldError is an error about one field of one service.
func fieldError(p *types.Project, service, field, format string, args ...any) error {
	return errdefs.Invalidf("%s: service %q: %s: %s", origin(p, service, field), service, field, fmt.Sprintf(format, args...))
}

func mentionsAny(msg string, files []string) bool {
	for _, f := range files {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}
