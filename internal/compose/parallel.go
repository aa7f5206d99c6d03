package compose

import (
	"context"

	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/sync/errgroup"
)

// MaxParallel bounds how many images up, build and pull make at once, as
// Docker Compose bounds them: enough to overlap downloads and builds, few
// enough that a project of many services does not swamp the host.
const MaxParallel = 4

// Parallel runs fn for each service, at most MaxParallel at once, and
// returns the first failure; once one has failed it starts no more.
func Parallel(services []types.ServiceConfig, fn func(s types.ServiceConfig) error) error {
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(MaxParallel)
	for _, s := range services {
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			return fn(s)
		})
	}
	return g.Wait()
}

// ImageServices are the named services whose images up makes present,
// one per image: the service that builds an image, where one does,
// rather than those that only run it, so that an image is never pulled
// while it is being built, as in Docker Compose.
func ImageServices(p *types.Project, names []string) []types.ServiceConfig {
	var out []types.ServiceConfig
	at := map[string]int{}
	for _, n := range names {
		s := p.Services[n]
		img := ImageName(p, s)
		i, seen := at[img]
		switch {
		case !seen:
			at[img] = len(out)
			out = append(out, s)
		case s.Build != nil && out[i].Build == nil:
			out[i] = s
		}
	}
	return out
}
