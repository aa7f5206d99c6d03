package compose

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
)

// walk runs fn for each named service once fn has returned for all of
// its dependencies among names (with reverse, for all of its
// dependents), with as many at once as the graph allows, as Docker
// Compose does. A service whose dependency failed is not run; its error
// says which dependency. The loader has refused cycles.
func walk(p *types.Project, names []string, reverse bool, fn func(name string) error) error {
	in := set(names...)
	before := map[string][]string{} // what must finish before each service
	for _, n := range names {
		for dep := range p.Services[n].DependsOn {
			if !in[dep] {
				continue
			}
			if reverse {
				before[dep] = append(before[dep], n)
			} else {
				before[n] = append(before[n], dep)
			}
		}
	}
	done := map[string]chan struct{}{}
	errs := map[string]error{}
	for _, n := range names {
		done[n] = make(chan struct{})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[n])
			deps := before[n]
			sort.Strings(deps)
			for _, d := range deps {
				<-done[d]
				mu.Lock()
				failed := errs[d]
				mu.Unlock()
				if failed != nil {
					mu.Lock()
					errs[n] = &dependencyError{service: n, dependency: d}
					mu.Unlock()
					return
				}
			}
			err := fn(n)
			mu.Lock()
			errs[n] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	var all []error
	for _, n := range names {
		var de *dependencyError
		if errs[n] != nil && !errors.As(errs[n], &de) {
			all = append(all, errs[n])
		}
	}
	for _, n := range names {
		var de *dependencyError
		if errors.As(errs[n], &de) {
			all = append(all, errs[n])
		}
	}
	return errors.Join(all...)
}

// dependencyError says a service was left alone because a dependency
// failed.
type dependencyError struct{ service, dependency string }

func (e *dependencyError) Error() string {
	return fmt.Sprintf("service %q not started: its dependency %q failed", e.service, e.dependency)
}

// withDependencies adds to names every service they depend on.
func withDependencies(p *types.Project, names []string) []string {
	seen := map[string]bool{}
	var out []string
	var add func(n string)
	add = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, d := range sortedKeys(p.Services[n].DependsOn) {
			if _, ok := p.Services[d]; ok {
				add(d)
			}
		}
		out = append(out, n)
	}
	for _, n := range names {
		add(n)
	}
	return out
}
