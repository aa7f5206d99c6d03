package compose

import (
	"errors"
	"fmt"
	"sync"

	"berth/internal/engine"
	"berth/internal/metadata"
)

// DownOptions are down's flags.
type DownOptions struct {
	RemoveOrphans bool
	// Volumes removes the project's named volumes too.
	Volumes bool
	// Timeout overrides each container's stop timeout when set.
	Timeout *int
}

// Down stops the project's containers, dependents before what they
// depend on, and removes them, one-off ones included; with
// RemoveOrphans, also those of services no longer in the model. Only
// containers labelled with this project are touched.
func (p *Project) Down(o DownOptions) error {
	cs, err := p.Containers(true)
	if err != nil {
		return err
	}
	if err := p.stopInOrder(cs, o.Timeout, o.RemoveOrphans); err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if !o.RemoveOrphans && p.orphan(c) {
			continue
		}
		rec, err := p.record(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.progress(c.Name, "Removing")
		if err := p.E.Remove(rec, engine.RemoveOptions{Force: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.Name, err))
			continue
		}
		p.progress(c.Name, "Removed")
	}
	if len(errs) == 0 {
		errs = append(errs, p.removeResources(o.Volumes))
	}
	return errors.Join(errs...)
}

// orphan says whether c's service is no longer in the model.
func (p *Project) orphan(c Container) bool {
	_, ok := p.Model.Services[c.Service]
	_, disabled := p.Model.DisabledServices[c.Service]
	return !ok && !disabled
}

// stopInOrder stops cs, each service's containers once those of the
// services that depend on it are stopped; orphans only when asked.
func (p *Project) stopInOrder(cs []Container, timeout *int, orphans bool) error {
	byService := map[string][]Container{}
	var names, orphaned []string
	for _, c := range cs {
		if p.orphan(c) {
			if orphans {
				if _, ok := byService[c.Service]; !ok {
					orphaned = append(orphaned, c.Service)
				}
				byService[c.Service] = append(byService[c.Service], c)
			}
			continue
		}
		if _, ok := byService[c.Service]; !ok {
			names = append(names, c.Service)
		}
		byService[c.Service] = append(byService[c.Service], c)
	}
	stopAll := func(service string) error {
		return p.each(byService[service], func(c Container, rec *metadata.Container) error {
			if st := p.E.Status(rec); st != engine.StatusRunning && st != engine.StatusPaused && st != engine.StatusRestarting {
				return nil
			}
			p.progress(c.Name, "Stopping")
			if err := p.E.Stop(rec, timeout); err != nil {
				return fmt.Errorf("stop %s: %w", c.Name, err)
			}
			p.progress(c.Name, "Stopped")
			return nil
		})
	}
	var errs []error
	for _, o := range orphaned {
		errs = append(errs, stopAll(o))
	}
	errs = append(errs, walk(p.Model, names, true, stopAll))
	return errors.Join(errs...)
}

// each runs fn for every container at once, with its current record.
func (p *Project) each(cs []Container, fn func(c Container, rec *metadata.Container) error) error {
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := p.record(c)
			if err == nil {
				err = fn(c, rec)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Each runs fn for every container of the named services (all when none
// is named), several at once.
func (p *Project) Each(services []string, oneoff bool, fn func(c Container, rec *metadata.Container) error) error {
	if _, err := Select(p.Model, services); err != nil {
		return err
	}
	cs, err := p.Containers(oneoff, services...)
	if err != nil {
		return err
	}
	return p.each(cs, fn)
}

// Stop stops the named services' containers (all when none is named),
// dependents first.
func (p *Project) Stop(services []string, timeout *int) error {
	if _, err := Select(p.Model, services); err != nil {
		return err
	}
	cs, err := p.Containers(false, services...)
	if err != nil {
		return err
	}
	return p.stopInOrder(cs, timeout, false)
}

// Start starts the named services' existing containers in dependency
// order, waiting for their conditions as up does.
func (p *Project) Start(services []string) error {
	names, err := Select(p.Model, services)
	if err != nil {
		return err
	}
	return walk(p.Model, names, false, func(name string) error {
		if err := p.waitDependencies(p.Model.Services[name], names); err != nil {
			return err
		}
		cs, err := p.Containers(false, name)
		if err != nil {
			return err
		}
		var errs []error
		for _, c := range cs {
			errs = append(errs, p.start(c))
		}
		return errors.Join(errs...)
	})
}

// Restart stops and starts the named services' containers (all when
// none is named), and with them the services that depend on one of
// them with restart: true, as Docker Compose does.
func (p *Project) Restart(services []string, timeout *int) error {
	names, err := Select(p.Model, services)
	if err != nil {
		return err
	}
	if len(services) > 0 {
		in := set(names...)
		for grew := true; grew; {
			grew = false
			for _, n := range p.Model.ServiceNames() {
				for dep, d := range p.Model.Services[n].DependsOn {
					if d.Restart && in[dep] && !in[n] {
						in[n], grew = true, true
						names = append(names, n)
					}
				}
			}
		}
	}
	if err := p.Stop(names, timeout); err != nil {
		return err
	}
	return p.Start(names)
}
