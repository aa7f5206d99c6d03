package compose

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/engine"
	"berth/internal/metadata"
)

// Project is a loaded compose project and the engine it runs on.
type Project struct {
	Model *types.Project
	E     *engine.Engine
	// Progress, when set, gets a line per step: "Container web-1  Started".
	Progress io.Writer
	mu       sync.Mutex
}

// Container is one container of a project, as its labels describe it.
type Container struct {
	engine.Summary
	Service string
	Number  int
	Oneoff  bool
	Hash    string
}

// ProjectContainers returns the containers labelled with project name,
// one-off ones (`run`) only when oneoff is set, in service and number
// order.
func ProjectContainers(e *engine.Engine, name string, oneoff bool) ([]Container, error) {
	all, err := e.List()
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, s := range all {
		if s.Config == nil || s.Config.Labels[LabelProject] != name {
			continue
		}
		l := s.Config.Labels
		c := Container{Summary: s, Service: l[LabelService], Oneoff: l[LabelOneoff] == "True", Hash: l[LabelConfigHash]}
		c.Number, _ = strconv.Atoi(l[LabelNumber])
		if c.Oneoff && !oneoff {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Number < out[j].Number
	})
	return out, nil
}

// Containers returns the project's containers of the named services (all
// when none is named).
func (p *Project) Containers(oneoff bool, services ...string) ([]Container, error) {
	cs, err := ProjectContainers(p.E, p.Model.Name, oneoff)
	if err != nil || len(services) == 0 {
		return cs, err
	}
	want := set(services...)
	var out []Container
	for _, c := range cs {
		if want[c.Service] {
			out = append(out, c)
		}
	}
	return out, nil
}

func (p *Project) progress(name, what string) { p.progressKind("Container", name, what) }

func (p *Project) progressKind(kind, name, what string) {
	if p.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.Progress, " %s %s  %s\n", kind, name, what)
}

// record returns the container's current record.
func (p *Project) record(c Container) (*metadata.Container, error) {
	return p.E.Lookup(c.ID)
}
