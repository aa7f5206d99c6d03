package compose

import (
	"fmt"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/engine"
)

// pollInterval is how often a wait looks at containers again.
const pollInterval = 100 * time.Millisecond

// waitDependencies waits until each dependency of s among names meets
// its condition: started, healthy, or completed successfully.
func (p *Project) waitDependencies(s types.ServiceConfig, names []string) error {
	in := set(names...)
	for _, dep := range sortedKeys(s.DependsOn) {
		d := s.DependsOn[dep]
		if !in[dep] {
			continue
		}
		if err := p.waitService(dep, d.Condition, 0); err != nil {
			return fmt.Errorf("service %q not started: dependency failed: %w", s.Name, err)
		}
	}
	return nil
}

// waitService waits until every container of service meets condition;
// a timeout of 0 waits as long as it takes.
func (p *Project) waitService(service, condition string, timeout time.Duration) error {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		cs, err := p.Containers(false, service)
		if err != nil {
			return err
		}
		ready := true
		for _, c := range cs {
			ok, err := p.meets(c, condition)
			if err != nil {
				return err
			}
			ready = ready && ok
		}
		if ready {
			for _, c := range cs {
				switch condition {
				case types.ServiceConditionHealthy:
					p.progress(c.Name, "Healthy")
				case types.ServiceConditionCompletedSuccessfully:
					p.progress(c.Name, "Exited")
				}
			}
			return nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("service %q: timed out waiting for %s", service, condition)
		}
		time.Sleep(pollInterval)
	}
}

// meets says whether c meets condition now, or fails when it never will.
func (p *Project) meets(c Container, condition string) (bool, error) {
	rec, err := p.record(c)
	if err != nil {
		return false, err
	}
	st, err := p.E.Inspect(rec)
	if err != nil {
		return false, err
	}
	exited := st.State.Status == engine.StatusExited
	switch condition {
	case types.ServiceConditionCompletedSuccessfully:
		if !exited {
			return false, nil
		}
		if st.State.ExitCode != 0 {
			return false, fmt.Errorf("container %s exited (%d) and did not complete successfully", c.Name, st.State.ExitCode)
		}
		return true, nil
	case types.ServiceConditionHealthy:
		if rec.Config != nil && healthless(p.E.ConfigOf(rec)) {
			return false, fmt.Errorf("container %s has no healthcheck configured", c.Name)
		}
		if exited {
			return false, fmt.Errorf("container %s exited (%d) before it was healthy", c.Name, st.State.ExitCode)
		}
		if st.State.Health == nil {
			return false, nil
		}
		switch st.State.Health.Status {
		case engine.HealthHealthy:
			return true, nil
		case engine.HealthUnhealthy:
			return false, fmt.Errorf("container %s is unhealthy", c.Name)
		}
		return false, nil
	case "running":
		if exited {
			return false, fmt.Errorf("container %s exited (%d)", c.Name, st.State.ExitCode)
		}
		return st.State.Running, nil
	}
	// service_started: started once, whatever it does now.
	return st.State.Status != engine.StatusCreated, nil
}

// healthless says whether a container has no health check to wait for.
func healthless(cfg *engine.Config) bool {
	if cfg == nil {
		return true
	}
	hc := cfg.Healthcheck
	return hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE"
}

// Wait waits, for up's --wait, until the named services' containers run
// and those with a health check are healthy. A service that others wait
// for to complete may instead have exited with 0.
func (p *Project) Wait(services []string, timeout time.Duration) error {
	names, err := Select(p.Model, services)
	if err != nil {
		return err
	}
	completes := map[string]bool{}
	for _, s := range p.Model.Services {
		for d, dep := range s.DependsOn {
			if dep.Condition == types.ServiceConditionCompletedSuccessfully {
				completes[d] = true
			}
		}
	}
	start := time.Now()
	for _, n := range names {
		left := time.Duration(0)
		if timeout > 0 {
			if left = timeout - time.Since(start); left <= 0 {
				left = time.Nanosecond
			}
		}
		cs, err := p.Containers(false, n)
		if err != nil {
			return err
		}
		cond := "running"
		switch {
		case completes[n]:
			cond = types.ServiceConditionCompletedSuccessfully
		case len(cs) > 0:
			if rec, err := p.record(cs[0]); err == nil && !healthless(p.E.ConfigOf(rec)) {
				cond = types.ServiceConditionHealthy
			}
		}
		if err := p.waitService(n, cond, left); err != nil {
			return err
		}
	}
	return nil
}
