package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/volume"
)

// planMounts completes a new container's mounts before its record is
// written: the mounts of --volumes-from containers, an anonymous volume
// for each of the image's VOLUME paths that no mount covers, and a name
// for each anonymous volume. Two mounts on one path are refused, as
// Docker refuses them.
func (e *Engine) planMounts(cfg *Config, imageVolumes map[string]struct{}) error {
	var from []volume.Mount
	for _, spec := range cfg.VolumesFrom {
		id, mode, err := volume.ParseVolumesFrom(spec)
		if err != nil {
			return err
		}
		src, err := e.Lookup(id)
		if err != nil {
			return err
		}
		srcCfg, err := configOf(src)
		if err != nil {
			return err
		}
		for _, m := range srcCfg.Binds {
			if m.Kind() == volume.TypeTmpfs {
				continue
			}
			if mode != "" {
				m.ReadOnly = mode == "ro"
			}
			// The volume is the other container's: rm -v of this one
			// leaves it. Nor was it given with -v here.
			m.Anonymous, m.Spec = false, ""
			from = append(from, m)
		}
	}
	seen := map[string]bool{}
	for d := range cfg.HostOptions.Tmpfs {
		seen[path.Clean(d)] = true
	}
	var out []volume.Mount
	for _, m := range cfg.Binds {
		if seen[m.CleanDest()] {
			return errdefs.Invalidf("Duplicate mount point: %s", m.CleanDest())
		}
		seen[m.CleanDest()] = true
		out = append(out, m)
	}
	// Mounts given on the command line win over inherited ones.
	for _, m := range from {
		if !seen[m.CleanDest()] {
			seen[m.CleanDest()] = true
			out = append(out, m)
		}
	}
	dests := make([]string, 0, len(imageVolumes))
	for d := range imageVolumes {
		dests = append(dests, d)
	}
	slices.Sort(dests)
	for _, d := range dests {
		if !path.IsAbs(d) || path.Clean(d) == "/" || seen[path.Clean(d)] {
			continue
		}
		seen[path.Clean(d)] = true
		out = append(out, volume.Mount{Type: volume.TypeVolume, Destination: path.Clean(d), Anonymous: true})
	}
	for i := range out {
		if out[i].Kind() == volume.TypeVolume && out[i].Name == "" {
			out[i].Name = volume.NewName()
		}
	}
	cfg.Binds = out
	return nil
}

// claimVolumes makes the volumes container c mounts that do not exist
// yet and names them in c's record, in the transaction that writes the
// record: a volume rm or prune in another shell sees either no container
// or one that uses the volume. It returns the volumes it made.
func (e *Engine) claimVolumes(tx *metadata.Tx, c *metadata.Container, mounts []volume.Mount) ([]string, error) {
	var made []string
	c.Volumes = nil
	for _, m := range mounts {
		if m.Kind() != volume.TypeVolume {
			continue
		}
		opts := volume.CreateOptions{Labels: m.Labels, Anonymous: m.Anonymous}
		_, created, err := e.Volumes.Ensure(tx, m.Name, opts)
		if err != nil {
			return made, err
		}
		if created {
			made = append(made, m.Name)
		}
		if !slices.Contains(c.Volumes, m.Name) {
			c.Volumes = append(c.Volumes, m.Name)
		}
	}
	return made, nil
}

// volumeMounts readies container c's mounts for a start and returns them
// as spec mounts, parents before what is mounted inside them: missing -v
// sources are made, volumes are mounted (-o type=) and filled from the
// image at rootfs (copy-up), and :U sources are given to the container's
// user.
func (e *Engine) volumeMounts(mounts []volume.Mount, rootfs string, user specs.User) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, m := range mounts {
		switch m.Kind() {
		case volume.TypeTmpfs:
			opts := []string{"noexec", "nosuid", "nodev"}
			if m.TmpfsOptions != "" {
				opts = append(opts, strings.Split(m.TmpfsOptions, ",")...)
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
			continue
		case volume.TypeVolume:
			src, err := e.readyVolume(m, rootfs, user)
			if err != nil {
				return nil, err
			}
			m.Source = src
		default:
			// -v makes a missing source directory; a file that is
			// there already is bound as it is.
			if _, err := os.Stat(m.Source); m.Create && errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(m.Source, 0o755); err != nil {
					return nil, fmt.Errorf("--volume %s: %w", m.Source, err)
				}
			}
			if m.Chown {
				if err := volume.Chown(m.Source, int(user.UID), int(user.GID)); err != nil {
					return nil, fmt.Errorf("--volume %s:%s:U: %w", m.Source, m.Destination, err)
				}
			}
		}
		out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: m.Options()})
	}
	slices.SortStableFunc(out, func(a, b specs.Mount) int {
		return strings.Count(path.Clean(a.Destination), "/") - strings.Count(path.Clean(b.Destination), "/")
	})
	return out, nil
}

// readyVolume mounts and fills volume m under its lock, so that two
// containers starting at once fill it once, and returns its data
// directory.
func (e *Engine) readyVolume(m volume.Mount, rootfs string, user specs.User) (string, error) {
	v, err := e.Volumes.Get(m.Name)
	if errdefs.IsNotFound(err) {
		return "", errdefs.NotFoundf("volume %s is gone; if it was removed, `berth volume restore %s` brings it back", m.Name, m.Name)
	}
	if err != nil {
		return "", err
	}
	unlock, err := e.Volumes.Lock(v.Name)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := e.Volumes.Prepare(v); err != nil {
		return "", err
	}
	dir := e.Volumes.Path(v.Name)
	if !m.NoCopy {
		if err := volume.CopyUp(rootfs, m.Destination, dir); err != nil {
			return "", fmt.Errorf("volume %s: copy %s from the image: %w", v.Name, m.Destination, err)
		}
	}
	if m.Chown {
		if err := volume.Chown(dir, int(user.UID), int(user.GID)); err != nil {
			return "", fmt.Errorf("volume %s: chown to %d:%d: %w", v.Name, user.UID, user.GID, err)
		}
	}
	return dir, nil
}

// removeAnonymousVolumes removes container c's anonymous volumes that no
// other container uses (rm -v, and run --rm): into the trash when keep.
func (e *Engine) removeAnonymousVolumes(cfg *Config, keep bool) error {
	var errs []string
	for _, m := range cfg.Binds {
		if m.Kind() != volume.TypeVolume || !m.Anonymous {
			continue
		}
		_, err := e.Volumes.Remove(m.Name, volume.RemoveOptions{Keep: keep})
		if err != nil && !errdefs.IsNotFound(err) && !errors.Is(err, errdefs.ErrConflict) {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove the container's volumes: %s", strings.Join(errs, "; "))
	}
	return nil
}

// RemoveVolume is `volume rm`: volume name goes to the trash for the
// grace period (BERTH_TRASH_TIME), or at once with purge.
func (e *Engine) RemoveVolume(name string, force, purge bool) error {
	_, err := e.Volumes.Remove(name, volume.RemoveOptions{Force: force, Keep: !purge && trashTime() > 0})
	if err != nil {
		return err
	}
	_, err = e.PurgeTrash(false)
	return err
}

// PruneVolumes removes the volumes no container uses: anonymous ones, or
// every one with opts.All. They go to the trash unless opts.Keep is off
// by purge or a zero grace period.
func (e *Engine) PruneVolumes(opts volume.PruneOptions, purge bool) (*volume.PruneReport, error) {
	opts.Keep = !purge && trashTime() > 0
	rep, err := e.Volumes.Prune(opts)
	if err != nil {
		return rep, err
	}
	_, err = e.PurgeTrash(false)
	return rep, err
}

// MountJSON is one entry of Docker's Mounts in a container's inspect.
type MountJSON struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// mountsJSON is container cfg's Mounts as inspect shows them.
func (e *Engine) mountsJSON(cfg *Config) []MountJSON {
	out := []MountJSON{}
	for _, m := range cfg.Binds {
		j := MountJSON{Type: m.Kind(), Destination: m.Destination, Mode: m.Mode, RW: !m.ReadOnly}
		switch m.Kind() {
		case volume.TypeVolume:
			j.Name, j.Source, j.Driver = m.Name, e.Volumes.Path(m.Name), "local"
		case volume.TypeBind:
			j.Source, j.Propagation = m.Source, firstOf(m.Propagation, "rprivate")
		}
		out = append(out, j)
	}
	return out
}

// MountsHostJSON is the mounts' part of Docker's HostConfig.
type MountsHostJSON struct {
	// Binds are the -v values that name a source, as given.
	Binds       []string
	VolumesFrom []string
}

func mountsHostJSON(cfg *Config) MountsHostJSON {
	out := MountsHostJSON{VolumesFrom: cfg.VolumesFrom}
	for _, m := range cfg.Binds {
		if m.Spec != "" {
			out.Binds = append(out.Binds, m.Spec)
		}
	}
	return out
}

// anonymousPaths are the container paths of cfg's anonymous volumes,
// Docker's Config.Volumes.
func anonymousPaths(cfg *Config) map[string]struct{} {
	out := map[string]struct{}{}
	for _, m := range cfg.Binds {
		if m.Anonymous {
			out[m.Destination] = struct{}{}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// volumeUsage is the Local Volumes line of `system df`, and each
// volume's size and users for -v.
func (e *Engine) volumeUsage() (DiskUsage, []VolumeUsage, error) {
	list, err := e.Volumes.List(volume.Filter{})
	if err != nil {
		return DiskUsage{}, nil, err
	}
	du := DiskUsage{Type: "Local Volumes", Total: len(list)}
	var rows []VolumeUsage
	for _, v := range list {
		size := volume.DiskUsage(e.Volumes.Path(v.Name))
		du.Size += size
		if len(v.Users) > 0 {
			du.Active++
		} else {
			du.Reclaimable += size
		}
		rows = append(rows, VolumeUsage{Name: v.Name, Links: len(v.Users), Size: size})
	}
	return du, rows, nil
}

// VolumeUsage is one volume's row in `system df -v`.
type VolumeUsage struct {
	Name  string
	Links int
	Size  int64
}

// VolumeUsages returns each volume's size and number of containers.
func (e *Engine) VolumeUsages() ([]VolumeUsage, error) {
	_, rows, err := e.volumeUsage()
	return rows, err
}

// restoreVolumes brings back from the trash the volumes a restored
// container names that are gone, where the trash has them.
func (e *Engine) restoreVolumes(c *metadata.Container) {
	for _, name := range c.Volumes {
		if _, err := e.Volumes.Get(name); errdefs.IsNotFound(err) {
			e.Volumes.Restore(name, "")
		}
	}
}
