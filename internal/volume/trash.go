package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// Restore brings back the volume name most recently removed, with its
// data, under that name or newName.
func (s *Store) Restore(name, newName string) (*metadata.Volume, error) {
	var restored *metadata.Volume
	err := s.DB.Update(func(tx *metadata.Tx) error {
		var last *metadata.TrashedVolume
		err := tx.TrashedVolumes(func(tv *metadata.TrashedVolume) error {
			if tv.Volume.Name == name && (last == nil || tv.Removed.After(last.Removed)) {
				last = tv
			}
			return nil
		})
		if err != nil {
			return err
		}
		if last == nil {
			return errdefs.NotFoundf("no removed volume %s in the trash", name)
		}
		v := last.Volume
		if newName != "" {
			if err := ValidName(newName); err != nil {
				return err
			}
			v.Name = newName
		}
		if _, err := tx.Volume(v.Name); err == nil {
			return errdefs.Conflictf("a volume %s exists; restore it with --name NEW_NAME", v.Name)
		}
		if err := tx.PutVolume(&v); err != nil {
			return err
		}
		if err := tx.DeleteTrashedVolume(last); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(s.TrashDir, last.Dir), filepath.Join(s.Dir, v.Name)); err != nil {
			return fmt.Errorf("restore volume %s: %w", name, err)
		}
		restored = &v
		return nil
	})
	return restored, err
}

// TrashList returns the removed volumes that can be restored.
func (s *Store) TrashList() ([]metadata.TrashedVolume, error) {
	var out []metadata.TrashedVolume
	err := s.DB.View(func(tx *metadata.Tx) error {
		return tx.TrashedVolumes(func(tv *metadata.TrashedVolume) error {
			out = append(out, *tv)
			return nil
		})
	})
	return out, err
}

// PurgeTrash frees removed volumes for good: those removed before
// cutoff, or all with all set. It returns the bytes freed.
func (s *Store) PurgeTrash(cutoff time.Time, all bool) (int64, error) {
	var dirs []string
	err := s.DB.Update(func(tx *metadata.Tx) error {
		var err error
		dirs, err = s.PurgeTrashed(tx, cutoff, all)
		return err
	})
	if err != nil {
		return 0, err
	}
	return FreeDirs(dirs)
}

// PurgeTrashed forgets in tx the volumes removed before cutoff (every
// one with all) and returns their directories, which FreeDirs frees once
// tx has committed.
func (s *Store) PurgeTrashed(tx *metadata.Tx, cutoff time.Time, all bool) ([]string, error) {
	var drop []*metadata.TrashedVolume
	err := tx.TrashedVolumes(func(tv *metadata.TrashedVolume) error {
		if all || tv.Removed.Before(cutoff) {
			drop = append(drop, tv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, tv := range drop {
		if err := tx.DeleteTrashedVolume(tv); err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(s.TrashDir, tv.Dir))
	}
	return dirs, nil
}

// FreeDirs removes dirs and returns the space they took.
func FreeDirs(dirs []string) (int64, error) {
	var freed int64
	var errs []error
	for _, dir := range dirs {
		freed += DiskUsage(dir)
		errs = append(errs, os.RemoveAll(dir))
	}
	return freed, errors.Join(errs...)
}
