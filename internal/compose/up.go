package compose

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/engine"
	"berth/internal/errdefs"
)

// UpOptions are up's flags.
type UpOptions struct {
	// Services are those named; none means all. Their dependencies come
	// too unless NoDeps.
	Services      []string
	NoDeps        bool
	ForceRecreate bool
	NoRecreate    bool
	// Scale overrides the number of containers of a service.
	Scale         map[string]int
	RemoveOrphans bool
	// NoStart creates the containers without starting them (create).
	NoStart bool
	// RenewAnonVolumes gives recreated containers new anonymous volumes
	// instead of those of the containers they replace.
	RenewAnonVolumes bool
	// EnsureImages makes the services' images present (pull or build),
	// one service per image (ImageServices), before anything is created.
	EnsureImages func(services []types.ServiceConfig) error
	// Warn gets warnings, such as orphan containers.
	Warn func(string)
}

// Up converges the project's containers on its model: it creates the
// missing ones, recreates those whose config hash changed (and those
// that depend on them), starts stopped ones, removes those past the
// scale, and leaves the rest running. Services start in dependency
// order, each once its dependencies meet their depends_on conditions.
func (p *Project) Up(o UpOptions) error {
	if o.ForceRecreate && o.NoRecreate {
		return errdefs.Invalidf("--force-recreate and --no-recreate are incompatible")
	}
	if err := p.Enable(o.Services); err != nil {
		return err
	}
	names, err := Select(p.Model, o.Services)
	if err != nil {
		return err
	}
	if !o.NoDeps {
		names = withDependencies(p.Model, names)
	}
	for svc, n := range o.Scale {
		if _, ok := p.Model.Services[svc]; !ok {
			return errdefs.NotFoundf("--scale: no such service: %s", svc)
		}
		if n < 0 {
			return errdefs.Invalidf("--scale %s=%d: want a number of containers, 0 or more", svc, n)
		}
	}
	// Everything that can fail on the model fails before anything is
	// created: images, and each service's options.
	for _, n := range names {
		s := p.Model.Services[n]
		if _, err := CreateOptions(p.Model, s, 1, false); err != nil {
			return err
		}
		if s.ContainerName != "" && p.scale(s, o) > 1 {
			return fieldError(p.Model, n, "container_name", "%q: a service with a container name cannot have more than one container", s.ContainerName)
		}
	}
	if o.EnsureImages != nil {
		if err := o.EnsureImages(ImageServices(p.Model, names)); err != nil {
			return err
		}
	}
	if err := p.Orphans(o.RemoveOrphans, o.Warn); err != nil {
		return err
	}
	if err := p.Prepare(names); err != nil {
		return err
	}
	var mu sync.Mutex
	recreated := map[string]bool{}
	return walk(p.Model, names, false, func(name string) error {
		s := p.Model.Services[name]
		if !o.NoStart {
			if err := p.waitDependencies(s, names); err != nil {
				return err
			}
		}
		mu.Lock()
		depChanged := false
		for d := range s.DependsOn {
			depChanged = depChanged || recreated[d]
		}
		mu.Unlock()
		changed, err := p.converge(s, p.scale(s, o), o, depChanged)
		mu.Lock()
		recreated[name] = changed
		mu.Unlock()
		return err
	})
}

func (p *Project) scale(s types.ServiceConfig, o UpOptions) int {
	if n, ok := o.Scale[s.Name]; ok {
		return n
	}
	return s.GetScale()
}

// converge brings one service to want containers of its current model,
// and reports whether it recreated any.
func (p *Project) converge(s types.ServiceConfig, want int, o UpOptions, depChanged bool) (bool, error) {
	hash, err := ServiceHash(s)
	if err != nil {
		return false, err
	}
	existing, err := p.Containers(false, s.Name)
	if err != nil {
		return false, err
	}
	// A container of an image that was rebuilt or pulled again since is
	// out of date too, as in Docker Compose.
	var imageID string
	if img, err := p.E.Images.Lookup(ImageName(p.Model, s)); err == nil {
		imageID = img.ID.String()
	}
	// Past the scale, highest numbers first, as Docker Compose does.
	sort.SliceStable(existing, func(i, j int) bool { return existing[i].Number > existing[j].Number })
	have := map[int]bool{}
	recreated := false
	var errs []error
	for _, c := range existing {
		if c.Number > want || have[c.Number] {
			errs = append(errs, p.remove(c, true))
			continue
		}
		have[c.Number] = true
		oldImage := c.Config.Labels[LabelImage]
		stale := c.Hash != hash || o.ForceRecreate || depChanged || (imageID != "" && oldImage != "" && oldImage != imageID)
		if stale && !o.NoRecreate {
			if err := p.recreate(s, c, o); err != nil {
				errs = append(errs, err)
				continue
			}
			recreated = true
			continue
		}
		if !o.NoStart && c.Status != engine.StatusRunning && c.Status != engine.StatusPaused {
			errs = append(errs, p.start(c))
		} else {
			p.progress(c.Name, "Running")
		}
	}
	for n := 1; n <= want; n++ {
		if !have[n] {
			errs = append(errs, p.create(s, n, o.NoStart, nil))
		}
	}
	return recreated, errors.Join(errs...)
}

// create makes container number n of s and starts it; it takes the
// anonymous volumes in inherit (by destination) instead of new ones.
func (p *Project) create(s types.ServiceConfig, n int, noStart bool, inherit map[string]string) error {
	opts, err := CreateOptions(p.Model, s, n, false)
	if err != nil {
		return err
	}
	if img, err := p.E.Images.Lookup(opts.Image); err == nil {
		opts.Labels[LabelImage] = img.ID.String()
		if len(inherit) > 0 {
			ic, err := p.E.Images.Config(img)
			if err != nil {
				return fmt.Errorf("create %s: %w", opts.Name, err)
			}
			inheritVolumes(&opts, ic.Config.Volumes, inherit)
		}
	}
	p.progress(opts.Name, "Creating")
	c, err := p.E.Create(opts)
	if err != nil {
		return fmt.Errorf("create %s: %w", opts.Name, err)
	}
	if err := p.ConnectOthers(s, c.ID, true); err != nil {
		if rec, lerr := p.E.Lookup(c.ID); lerr == nil {
			p.E.Remove(rec, engine.RemoveOptions{Force: true, Purge: true})
		}
		return err
	}
	p.progress(opts.Name, "Created")
	if noStart {
		return nil
	}
	p.progress(opts.Name, "Starting")
	if err := p.E.StartDetached(c); err != nil {
		return fmt.Errorf("start %s: %w", opts.Name, err)
	}
	p.progress(opts.Name, "Started")
	return nil
}

func (p *Project) start(c Container) error {
	rec, err := p.record(c)
	if err != nil {
		return err
	}
	p.progress(c.Name, "Starting")
	if err := p.E.StartDetached(rec); err != nil {
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	p.progress(c.Name, "Started")
	return nil
}

// recreate replaces c with a container of the service's current model,
// under the same name and number, which keeps c's anonymous volumes
// unless asked to renew them.
func (p *Project) recreate(s types.ServiceConfig, c Container, o UpOptions) error {
	p.progress(c.Name, "Recreate")
	var inherit map[string]string
	if !o.RenewAnonVolumes {
		rec, err := p.record(c)
		if err != nil {
			return err
		}
		inherit = anonymousVolumes(p.E.ConfigOf(rec))
	}
	if err := p.remove(c, false); err != nil {
		return err
	}
	return p.create(s, c.Number, o.NoStart, inherit)
}

// remove stops and removes c; the container goes to the trash, from
// which `berth container restore` brings it back.
func (p *Project) remove(c Container, verbose bool) error {
	rec, err := p.record(c)
	if err != nil {
		return err
	}
	if verbose {
		p.progress(c.Name, "Stopping")
	}
	if err := p.E.Stop(rec, nil); err != nil {
		return fmt.Errorf("stop %s: %w", c.Name, err)
	}
	if verbose {
		p.progress(c.Name, "Removing")
	}
	if rec, err = p.record(c); err != nil {
		return err
	}
	if err := p.E.Remove(rec, engine.RemoveOptions{Force: true}); err != nil {
		return fmt.Errorf("remove %s: %w", c.Name, err)
	}
	if verbose {
		p.progress(c.Name, "Removed")
	}
	return nil
}

// Orphans finds the project's containers whose service is no longer in
// the model, and removes them, or warns about them.
func (p *Project) Orphans(remove bool, warn func(string)) error {
	cs, err := p.Containers(false)
	if err != nil {
		return err
	}
	var names []string
	var errs []error
	for _, c := range cs {
		if _, ok := p.Model.Services[c.Service]; ok {
			continue
		}
		if _, ok := p.Model.DisabledServices[c.Service]; ok {
			continue
		}
		if remove {
			errs = append(errs, p.remove(c, true))
		}
		names = append(names, c.Name)
	}
	if len(names) > 0 && !remove && warn != nil {
		warn(fmt.Sprintf("Found orphan containers (%v) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", names))
	}
	return errors.Join(errs...)
}
