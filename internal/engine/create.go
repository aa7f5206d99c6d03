package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// CreateOptions are what `create` and `run` ask for.
type CreateOptions struct {
	// Image is what the user named; it must be in the store.
	Image string
	Name  string
	// Args replace the image's Cmd; Entrypoint, when non-nil, replaces
	// its entrypoint (and then its Cmd unless Args are given).
	Args       []string
	Entrypoint []string
	Env        []string
	WorkingDir string
	User       string
	Hostname   string
	Labels     map[string]string
	Config     Config
	// Files are placed in the container, read-only (files.go).
	Files []File
	// Network is --network and the flags of the container's place on
	// it; the zero value is the default bridge network.
	Network NetworkRequest
	// Starting says the same command starts the container in the
	// foreground right away (run): its start time goes into the record
	// now, and RunAttached of a --rm container writes no record of its
	// start, one wait for the disk less.
	Starting bool `json:"-"`
	// Found, when the caller has looked Image up already, is what it
	// found: Create does not look again.
	Found *metadata.Image `json:"-"`
}

// Create makes a container from an image: its record, its directory
// (the bundle, the writable layer, the files it gets at /etc) and its
// name, claimed in the same transaction as the record so that of many
// creates with one name exactly one succeeds. Nothing runs yet.
func (e *Engine) Create(opts CreateOptions) (*metadata.Container, error) {
	img := opts.Found
	if img == nil {
		found, err := e.Images.Lookup(opts.Image)
		if err != nil {
			return nil, err
		}
		img = found
	}
	if opts.Name != "" {
		if err := checkName(opts.Name); err != nil {
			return nil, err
		}
	}
	if _, err := e.CheckHostOptions(&opts.Config.HostOptions); err != nil {
		return nil, err
	}
	netcfg, err := e.resolveNetwork(opts.Network)
	if err != nil {
		return nil, err
	}
	ic, err := e.Images.DockerConfig(img)
	if err != nil {
		return nil, err
	}
	cfg := opts.Config
	cfg.Network = netcfg
	cfg.Entrypoint, cfg.Cmd = ic.Config.Entrypoint, ic.Config.Cmd
	if opts.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = opts.Entrypoint, nil
		if len(opts.Entrypoint) == 1 && opts.Entrypoint[0] == "" {
			cfg.Entrypoint = nil
		}
	}
	if len(opts.Args) > 0 {
		cfg.Cmd = opts.Args
	}
	if len(cfg.Args()) == 0 {
		return nil, errdefs.Invalidf("no command specified: the image has none and none was given")
	}
	cfg.Env = mergeEnv(ic.Config.Env, opts.Env)
	cfg.WorkingDir = firstOf(opts.WorkingDir, ic.Config.WorkingDir)
	cfg.User = firstOf(opts.User, ic.Config.User)
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.Config.StopSignal
	}
	exposePorts(&cfg.PortOptions, ic.Config.ExposedPorts)
	cfg.Healthcheck = mergeHealthcheck(ic.Config.Healthcheck, opts.Config.Healthcheck)
	if err := ValidateHealthcheck(cfg.Healthcheck); err != nil {
		return nil, err
	}
	cfg.Labels = map[string]string{}
	for k, v := range ic.Config.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range opts.Labels {
		cfg.Labels[k] = v
	}

	if err := e.planMounts(&cfg, ic.Config.Volumes); err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	cfg.Hostname = firstOf(opts.Hostname, e.sharedHostname(netcfg), id[:12])
	dir := e.dir(id)
	fb, err := fileBinds(dir, opts.Files)
	if err != nil {
		return nil, err
	}
	cfg.Binds = append(cfg.Binds, fb...)
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	c := &metadata.Container{
		ID: id, Name: opts.Name, Image: img.ID, ImageName: opts.Image, Chain: img.Chain,
		Created: time.Now().UTC(), Config: raw, State: metadata.ContainerState{Status: StatusCreated},
	}
	if opts.Starting {
		c.State.StartedAt = c.Created
	}
	// The directory is made while the record's write waits for the disk.
	prepared := make(chan error, 1)
	go func() {
		err := e.prepareDir(dir, &cfg)
		if err == nil {
			err = writeFiles(dir, opts.Files)
		}
		prepared <- err
	}()
	var made []string
	err = e.DB.Update(func(tx *metadata.Tx) error {
		if c.Name == "" {
			c.Name = randomName(func(n string) bool { _, ok, _ := tx.ContainerByName(n); return ok })
		}
		var err error
		if made, err = e.claimVolumes(tx, c, cfg.Binds); err != nil {
			return err
		}
		return tx.PutContainer(c)
	})
	if perr := <-prepared; err == nil && perr != nil {
		// Recorded, but without its files: the records go again.
		err = perr
		derr := e.DB.Update(func(tx *metadata.Tx) error {
			for _, v := range made {
				if err := tx.DeleteVolume(v); err != nil {
					return err
				}
			}
			return tx.DeleteContainer(c)
		})
		if derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		e.Volumes.Discard(made)
		return nil, err
	}
	e.emit(c, "create", nil)
	return c, nil
}

// prepareDir makes a container's directory: the overlay's upper, work
// and mount point, and the files bound at /etc/hostname, /etc/hosts and
// /etc/resolv.conf. They live on the host, outside the image's layers,
// so a symlink that an image places at those paths is never followed by
// berth's writes.
func (e *Engine) prepareDir(dir string, cfg *Config) error {
	resolv, err := resolvConf(cfg.DNS, cfg.DNSSearch, cfg.DNSOptions)
	if err != nil {
		return err
	}
	for _, d := range []string{"", "upper", "work", "rootfs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return fmt.Errorf("create container directory: %w", err)
		}
	}
	// The writable layer's top directory is the container's "/": its
	// mode is the root directory's mode.
	for _, d := range []string{"upper", "rootfs"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"hostname":    cfg.Hostname + "\n",
		"hosts":       hostsFile(cfg, nil, e.hostGatewayFor(cfg)),
		"resolv.conf": resolv,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// mergeEnv lays over on base by variable name.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		k, _, hasValue := strings.Cut(kv, "=")
		if !hasValue {
			// -e VAR takes VAR from berth's own environment, as Docker does.
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			kv = k + "=" + v
		}
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
