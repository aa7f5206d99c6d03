package image

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/reference"
)

// Users tells the image store which images containers use, so that it
// never frees them. The container layer provides it.
type Users interface {
	// ImageUser returns a container that uses image id ("" if none),
	// and whether that container is running. It runs inside the store's
	// transaction tx and must read through it.
	ImageUser(tx *metadata.Tx, id digest.Digest) (container string, running bool, err error)
}

// Deleted is one line of rmi's report: a name untagged or an image
// deleted.
type Deleted struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// Remove removes what arg names, as docker rmi does: a name is untagged,
// and the image goes with its last name; an ID removes the image, which
// must then have at most one name unless force is set. An image that a
// container uses is kept, and without force nothing is removed at all.
func (s *Store) Remove(arg string, force bool) ([]Deleted, error) {
	return s.remove(arg, force, true)
}

func (s *Store) remove(arg string, force, collect bool) ([]Deleted, error) {
	var out []Deleted
	var freed bool
	err := s.DB.Update(func(tx *metadata.Tx) error {
		out, freed = nil, false
		img, err := lookup(tx, arg)
		if err != nil {
			return err
		}
		names, err := namesOf(tx, img.ID)
		if err != nil {
			return err
		}
		byName := ""
		if ref, err := reference.Parse(arg); err == nil && ref.Digest() == "" && contains(names, ref.String()) {
			byName = ref.String()
		}
		user, running, err := s.user(tx, img.ID)
		if err != nil {
			return err
		}
		if byName != "" && len(names) > 1 {
			// One name among several: only the name goes.
			out = append(out, Deleted{Untagged: familiar(byName)})
			return tx.DeleteName(byName)
		}
		if byName == "" && len(names) > 1 && !force {
			return errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", ShortID(img.ID))
		}
		if user != "" {
			if running {
				return errdefs.Conflictf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", ShortID(img.ID), user)
			}
			if !force {
				if byName != "" {
					return errdefs.Conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", familiar(byName), user, ShortID(img.ID))
				}
				return errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", ShortID(img.ID), user)
			}
		}
		for _, n := range names {
			if err := tx.DeleteName(n); err != nil {
				return err
			}
			out = append(out, Deleted{Untagged: familiar(n)})
		}
		for _, rd := range img.RepoDigests {
			out = append(out, Deleted{Untagged: familiar(rd)})
		}
		if user != "" {
			return nil // forced: names gone, the image stays for its container
		}
		if err := tx.DeleteImage(img.ID); err != nil {
			return err
		}
		out = append(out, Deleted{Deleted: img.ID.String()})
		freed = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if freed && collect {
		// Files go only once their records are gone. A pull that is
		// writing holds the garbage off; what it leaves, the next
		// collection takes.
		if _, err := s.Collect(false); err != nil {
			return out, fmt.Errorf("free unused layers: %w", err)
		}
	}
	return out, nil
}

func (s *Store) user(tx *metadata.Tx, id digest.Digest) (string, bool, error) {
	if s.Users == nil {
		return "", false, nil
	}
	return s.Users.ImageUser(tx, id)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// familiar shortens a full name as Docker prints it.
func familiar(name string) string {
	if ref, err := reference.Parse(name); err == nil {
		return ref.Familiar()
	}
	return name
}

// PruneReport is what image prune removed.
type PruneReport struct {
	Deleted        []Deleted
	SpaceReclaimed int64
}

// Prune removes images without names (dangling ones) or, with all, every
// image no container uses, then frees their blobs and layers.
func (s *Store) Prune(all bool) (*PruneReport, error) {
	var victims []*metadata.Image
	err := s.DB.View(func(tx *metadata.Tx) error {
		named := map[digest.Digest]bool{}
		if err := tx.Names(func(_ string, id digest.Digest) error { named[id] = true; return nil }); err != nil {
			return err
		}
		return tx.Images(func(img *metadata.Image) error {
			if !all && named[img.ID] {
				return nil
			}
			if u, _, err := s.user(tx, img.ID); err != nil || u != "" {
				return err
			}
			victims = append(victims, img)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	for _, img := range victims {
		del, err := s.remove(img.ID.String(), true, false)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return rep, err
		}
		rep.Deleted = append(rep.Deleted, del...)
	}
	freed, err := s.Collect(true)
	rep.SpaceReclaimed = freed
	return rep, err
}
