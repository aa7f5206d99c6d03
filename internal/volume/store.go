package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// AnonymousLabel marks anonymous volumes, as Docker (23 and later) does.
const AnonymousLabel = "com.docker.volume.anonymous"

// Store is the volumes under one root: records in the metadata store,
// data in Dir/NAME/_data, removed volumes in TrashDir.
type Store struct {
	Dir      string
	TrashDir string
	DB       *metadata.DB
}

// Open returns the store whose volumes live under root/volumes.
func Open(root string, db *metadata.DB) (*Store, error) {
	s := &Store{Dir: filepath.Join(root, "volumes"), TrashDir: filepath.Join(root, "trash"), DB: db}
	// 0701, as Docker's: other users may reach a volume they are given a
	// path into, never list the volumes.
	if err := os.MkdirAll(s.Dir, 0o701); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is volume name's data directory, the Mountpoint inspect shows.
func (s *Store) Path(name string) string { return filepath.Join(s.Dir, name, "_data") }

// CreateOptions are `volume create`'s.
type CreateOptions struct {
	Driver string
	Labels map[string]string
	// Options are the local driver's: type, device, o (mount(8)'s -t,
	// device and -o), to back the volume with a tmpfs, a bind or a
	// device instead of a directory.
	Options map[string]string
	// Anonymous marks a volume made for one container (rm -v removes it).
	Anonymous bool
}

func checkCreate(name string, opts CreateOptions) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if opts.Driver != "" && opts.Driver != "local" {
		return errdefs.Unsupportedf("create %s: volume driver %q: berth has the local driver only", name, opts.Driver)
	}
	for k := range opts.Options {
		if k != "type" && k != "device" && k != "o" {
			return invalidf("create %s: invalid option key: %q (type, device, o)", name, k)
		}
	}
	return checkBacking(opts.Options)
}

// NewName returns a name for an anonymous volume: 64 random hex digits.
func NewName() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create makes volume name, or returns it if it exists, as Docker does.
func (s *Store) Create(name string, opts CreateOptions) (*metadata.Volume, error) {
	if name == "" {
		name = NewName()
	}
	if err := checkCreate(name, opts); err != nil {
		return nil, err
	}
	var v *metadata.Volume
	err := s.DB.Update(func(tx *metadata.Tx) error {
		var err error
		v, _, err = s.Ensure(tx, name, opts)
		return err
	})
	return v, err
}

// Ensure returns volume name, making it (record and data directory) in
// tx if there is none. A caller whose transaction then fails calls
// Discard for the volumes made.
func (s *Store) Ensure(tx *metadata.Tx, name string, opts CreateOptions) (*metadata.Volume, bool, error) {
	v, err := tx.Volume(name)
	if err == nil {
		return v, false, nil
	}
	if !errdefs.IsNotFound(err) {
		return nil, false, err
	}
	v = &metadata.Volume{Name: name, Driver: "local", Labels: opts.Labels, Options: opts.Options,
		Anonymous: opts.Anonymous, Created: time.Now().UTC()}
	if opts.Anonymous {
		v.Labels = map[string]string{AnonymousLabel: ""}
	}
	if err := os.MkdirAll(s.Path(name), 0o755); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := tx.PutVolume(v); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Discard removes the data directories of volumes made in a transaction
// that failed, unless another command has made one of them since.
func (s *Store) Discard(names []string) {
	if len(names) == 0 {
		return
	}
	s.DB.Update(func(tx *metadata.Tx) error {
		for _, n := range names {
			if _, err := tx.Volume(n); errdefs.IsNotFound(err) {
				os.RemoveAll(filepath.Join(s.Dir, n))
			}
		}
		return nil
	})
}

// Get returns volume name.
func (s *Store) Get(name string) (*metadata.Volume, error) {
	var v *metadata.Volume
	err := s.DB.View(func(tx *metadata.Tx) error {
		var err error
		v, err = tx.Volume(name)
		return err
	})
	return v, err
}

// Info is a volume with what `volume ls` and `inspect` add to its record.
type Info struct {
	metadata.Volume
	// Users are the IDs of the containers that mount it.
	Users []string
}

// Filter is `volume ls` and `volume prune`'s --filter, all of whose
// conditions must hold.
type Filter struct {
	// Dangling, when set, keeps volumes no container uses (true) or
	// those some container uses (false).
	Dangling *bool
	// Names keep volumes whose name contains one of them.
	Names []string
	// Labels keep volumes with every KEY or KEY=VALUE; NotLabels drop
	// those with any.
	Labels, NotLabels []string
	// Drivers keep volumes of one of these drivers.
	Drivers []string
}

func hasLabel(labels map[string]string, kv string) bool {
	k, want, withValue := strings.Cut(kv, "=")
	v, ok := labels[k]
	return ok && (!withValue || v == want)
}

func (f Filter) match(i *Info) bool {
	if f.Dangling != nil && *f.Dangling != (len(i.Users) == 0) {
		return false
	}
	if len(f.Names) > 0 && !slices.ContainsFunc(f.Names, func(n string) bool { return strings.Contains(i.Name, n) }) {
		return false
	}
	if len(f.Drivers) > 0 && !slices.Contains(f.Drivers, i.Driver) {
		return false
	}
	for _, l := range f.Labels {
		if !hasLabel(i.Labels, l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if hasLabel(i.Labels, l) {
			return false
		}
	}
	return true
}

// List returns the volumes that f keeps, by name.
func (s *Store) List(f Filter) ([]Info, error) {
	var out []Info
	err := s.DB.View(func(tx *metadata.Tx) error {
		users, err := usersOf(tx)
		if err != nil {
			return err
		}
		return tx.Volumes(func(v *metadata.Volume) error {
			i := Info{Volume: *v, Users: users[v.Name]}
			if f.match(&i) {
				out = append(out, i)
			}
			return nil
		})
	})
	return out, err
}

// usersOf maps each volume name to the containers that use it.
func usersOf(tx *metadata.Tx) (map[string][]string, error) {
	users := map[string][]string{}
	err := tx.Containers(func(c *metadata.Container) error {
		for _, v := range c.Volumes {
			users[v] = append(users[v], c.ID)
		}
		return nil
	})
	return users, err
}

// RemoveOptions are `volume rm`'s.
type RemoveOptions struct {
	// Force removes a volume that containers use, and is quiet about a
	// volume that does not exist.
	Force bool
	// Keep moves the data to the trash instead of freeing it.
	Keep bool
}

// Remove removes volume name: its record goes, and its data goes to the
// trash (or, without Keep, away). A volume that a container uses stays,
// unless Force. It returns the bytes freed.
func (s *Store) Remove(name string, opts RemoveOptions) (int64, error) {
	var freeDir string
	err := s.DB.Update(func(tx *metadata.Tx) error {
		v, err := tx.Volume(name)
		if err != nil {
			if opts.Force && errdefs.IsNotFound(err) {
				return nil
			}
			return errdefs.NotFoundf("no such volume: %s", name)
		}
		users, err := tx.VolumeUsers(name)
		if err != nil {
			return err
		}
		if len(users) > 0 && !opts.Force {
			short := make([]string, len(users))
			for i, u := range users {
				short[i] = u[:min(12, len(u))]
			}
			return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(short, ", "))
		}
		dst, err := s.drop(tx, v, opts.Keep)
		if !opts.Keep {
			freeDir = dst
		}
		return err
	})
	if err != nil || freeDir == "" {
		return 0, err
	}
	size := DiskUsage(freeDir)
	return size, os.RemoveAll(freeDir)
}

// drop removes v's record in tx and moves its directory to the trash,
// recorded there with keep, or else only aside, to be freed once tx
// commits; it returns where the directory went. The rename comes last,
// so that its failure rolls the transaction back.
func (s *Store) drop(tx *metadata.Tx, v *metadata.Volume, keep bool) (string, error) {
	if err := tx.DeleteVolume(v.Name); err != nil {
		return "", err
	}
	unmountBacking(s.Path(v.Name))
	if err := os.MkdirAll(s.TrashDir, 0o700); err != nil {
		return "", err
	}
	tv := &metadata.TrashedVolume{Volume: *v, Removed: time.Now().UTC()}
	tv.Dir = "volume-" + tv.Key()
	if keep {
		if err := tx.PutTrashedVolume(tv); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(s.TrashDir, tv.Dir)
	if err := os.Rename(filepath.Join(s.Dir, v.Name), dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("move volume %s to the trash: %w", v.Name, err)
	}
	return dst, nil
}

// PruneOptions are `volume prune`'s.
type PruneOptions struct {
	// All prunes named volumes too, not only anonymous ones (-a).
	All bool
	// Labels and NotLabels are --filter label= and label!=.
	Labels, NotLabels []string
	Keep              bool
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Deleted        []string
	SpaceReclaimed int64
	// InTrash is what the trash keeps of it, to be restored.
	SpaceInTrash int64
}

// Prune removes the volumes no container uses: anonymous ones, or all
// with All. The check and the removal are one transaction, so a
// container created meanwhile keeps its volume.
func (s *Store) Prune(opts PruneOptions) (*PruneReport, error) {
	rep := &PruneReport{}
	var free []string
	moved := map[string]string{} // volume directory -> where it went
	f := Filter{Labels: opts.Labels, NotLabels: opts.NotLabels}
	err := s.DB.Update(func(tx *metadata.Tx) error {
		users, err := usersOf(tx)
		if err != nil {
			return err
		}
		var victims []*metadata.Volume
		err = tx.Volumes(func(v *metadata.Volume) error {
			i := Info{Volume: *v}
			if len(users[v.Name]) == 0 && (opts.All || v.Anonymous) && f.match(&i) {
				victims = append(victims, v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, v := range victims {
			size := DiskUsage(filepath.Join(s.Dir, v.Name))
			dst, err := s.drop(tx, v, opts.Keep)
			if err != nil {
				return err
			}
			moved[filepath.Join(s.Dir, v.Name)] = dst
			rep.Deleted = append(rep.Deleted, v.Name)
			if opts.Keep {
				rep.SpaceInTrash += size
			} else {
				free = append(free, dst)
			}
		}
		return nil
	})
	if err != nil {
		// The records stay: so do the directories.
		for dir, dst := range moved {
			os.Rename(dst, dir)
		}
		return nil, err
	}
	var errs []error
	for _, dir := range free {
		rep.SpaceReclaimed += DiskUsage(dir)
		errs = append(errs, os.RemoveAll(dir))
	}
	return rep, errors.Join(errs...)
}
