package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/volume"
)

// DefaultTrashTime is how long a removed container is kept before it is
// freed for good; BERTH_TRASH_TIME (a Go duration such as 2h) overrides
// it, and 0 turns the trash off.
const DefaultTrashTime = 24 * time.Hour

func trashTime() time.Duration {
	if v := os.Getenv("BERTH_TRASH_TIME"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d
		}
	}
	return DefaultTrashTime
}

func (e *Engine) trashDir(id string) string { return filepath.Join(e.root, "trash", id) }

// trash moves removed container c's directory (its writable layer, logs
// and configuration) aside and records it, in place of deleting it.
func (e *Engine) trash(tx *metadata.Tx, c *metadata.Container) error {
	if err := os.MkdirAll(filepath.Join(e.root, "trash"), 0o700); err != nil {
		return err
	}
	if err := tx.PutTrashed(&metadata.Trashed{Container: *c, Removed: time.Now().UTC()}); err != nil {
		return err
	}
	// Last: a failed rename rolls the transaction back.
	if err := os.Rename(e.dir(c.ID), e.trashDir(c.ID)); err != nil {
		return fmt.Errorf("move container %s to the trash: %w", shortID(c.ID), err)
	}
	return nil
}

// Restore brings back a removed container from the trash, by ID (or a
// unique prefix) or by the name it had, under that name or newName.
func (e *Engine) Restore(arg, newName string) (*metadata.Container, error) {
	var restored *metadata.Container
	err := e.DB.Update(func(tx *metadata.Tx) error {
		var found []*metadata.Trashed
		err := tx.TrashedAll(func(tr *metadata.Trashed) error {
			if tr.Container.Name == strings.TrimPrefix(arg, "/") || strings.HasPrefix(tr.Container.ID, arg) {
				found = append(found, tr)
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch {
		case len(found) == 0:
			return errdefs.NotFoundf("no removed container %s in the trash", arg)
		case len(found) > 1:
			return errdefs.Invalidf("%d removed containers match %s; give more of the ID", len(found), arg)
		}
		c := found[0].Container
		if newName != "" {
			if err := checkName(newName); err != nil {
				return err
			}
			c.Name = newName
		}
		c.State.Status, c.State.Pid, c.State.Monitor = StatusExited, 0, 0
		if err := tx.PutContainer(&c); err != nil {
			return fmt.Errorf("%w (restore it with --name NEW_NAME)", err)
		}
		if err := tx.DeleteTrashed(c.ID); err != nil {
			return err
		}
		if err := os.Rename(e.trashDir(c.ID), e.dir(c.ID)); err != nil {
			return fmt.Errorf("restore container %s: %w", shortID(c.ID), err)
		}
		restored = &c
		return nil
	})
	if err == nil {
		e.restoreVolumes(restored)
	}
	return restored, err
}

// PurgeTrash frees removed containers for good: those older than the
// grace period, or all with all set. It returns the bytes freed.
func (e *Engine) PurgeTrash(all bool) (int64, error) {
	cutoff := time.Now().Add(-trashTime())
	// Every rm calls this; looking through a trash of thousands each
	// time would cost more than the rm. Without all, the trash is looked
	// through at most once every trashCheckInterval, which the marker's
	// time records.
	marker := filepath.Join(e.root, "trash", ".checked")
	if !all {
		if fi, err := os.Stat(marker); err == nil && time.Since(fi.ModTime()) < trashCheckInterval {
			return 0, nil
		}
	}
	due, err := e.trashDue(cutoff, all)
	if err == nil && !all {
		touch(marker)
	}
	if err != nil || !due {
		return 0, err
	}
	var victims, volumeDirs []string
	err = e.DB.Update(func(tx *metadata.Tx) error {
		// Removed volumes share the trash and its grace period.
		var err error
		if volumeDirs, err = e.Volumes.PurgeTrashed(tx, cutoff, all); err != nil {
			return err
		}
		err = tx.TrashedAll(func(tr *metadata.Trashed) error {
			if all || tr.Removed.Before(cutoff) {
				victims = append(victims, tr.Container.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range victims {
			if err := tx.DeleteTrashed(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	freed, verr := volume.FreeDirs(volumeDirs)
	errs := []error{verr}
	for _, id := range victims {
		freed += volume.DiskUsage(e.trashDir(id))
		if err := os.RemoveAll(e.trashDir(id)); err != nil {
			errs = append(errs, err)
		}
	}
	return freed, errors.Join(errs...)
}

// trashDue reports whether anything in the trash is to be freed now. It
// only reads: every rm asks, and most of the time nothing is due, where a
// write would wait for the disk twice.
func (e *Engine) trashDue(cutoff time.Time, all bool) (bool, error) {
	due := false
	err := e.DB.View(func(tx *metadata.Tx) error {
		check := func(removed time.Time) error {
			if all || removed.Before(cutoff) {
				due = true
				return errStop
			}
			return nil
		}
		err := tx.TrashedAll(func(tr *metadata.Trashed) error { return check(tr.Removed) })
		if err == nil && !due {
			err = tx.TrashedVolumes(func(tv *metadata.TrashedVolume) error { return check(tv.Removed) })
		}
		if errors.Is(err, errStop) {
			err = nil
		}
		return err
	})
	return due, err
}

// trashCheckInterval is how often rm looks through the trash for what
// is due to be freed: a removed container is freed at most this much
// after its grace period.
const trashCheckInterval = time.Minute

// touch sets path's time to now, creating it empty if need be.
func touch(path string) {
	now := time.Now()
	if os.Chtimes(path, now, now) == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
}

// errStop ends a walk over records early.
var errStop = errors.New("stop")

// TrashList returns the removed containers that can be restored.
func (e *Engine) TrashList() ([]metadata.Trashed, error) {
	var out []metadata.Trashed
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.TrashedAll(func(tr *metadata.Trashed) error {
			out = append(out, *tr)
			return nil
		})
	})
	return out, err
}
