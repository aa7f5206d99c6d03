package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/monitor"
)

// PruneOptions choose which stopped containers Prune removes, as
// `container prune --filter` does.
type PruneOptions struct {
	// Until keeps containers created at or after it; zero keeps none.
	Until time.Time
	// Labels must all match: "KEY" (the label is set) or "KEY=VALUE".
	Labels []string
	// NotLabels, when all of them match, keep the container (label!=).
	NotLabels []string
	// Purge frees the containers now instead of keeping them in the
	// trash, as rm --purge does.
	Purge bool
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Deleted []string // full IDs
	// SpaceReclaimed is the bytes of the writable layers freed now;
	// SpaceInTrash of those kept in the trash, freed when it is emptied.
	SpaceReclaimed, SpaceInTrash uint64
	InTrash                      int // how many went to the trash
}

// Prune removes every stopped container that opts selects: created and
// exited ones, not those running, paused or waiting to restart. A
// container that starts meanwhile is left alone. Like rm, it keeps what
// it removes in the trash unless opts.Purge says otherwise: it is the
// command most likely to remove something by mistake.
func (e *Engine) Prune(opts PruneOptions) (*PruneReport, error) {
	var victims []*metadata.Container
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Containers(func(c *metadata.Container) error {
			switch e.status(c) {
			case StatusCreated, StatusExited:
			default:
				return nil
			}
			// A monitor that still runs is recording the exit and
			// unmounting; the container is not quite stopped yet.
			if c.State.Monitor > 0 && monitor.Running(c.State.Monitor, c.ID) {
				return nil
			}
			cfg, err := configOf(c)
			if err != nil {
				return err
			}
			if opts.matches(c, cfg.Labels) {
				victims = append(victims, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	var errs []error
	for _, c := range victims {
		size := dirSize(filepath.Join(e.dir(c.ID), "upper"))
		if err := e.Remove(c, RemoveOptions{Purge: opts.Purge}); err != nil {
			if errors.Is(err, errdefs.ErrConflict) {
				continue // started since
			}
			errs = append(errs, err)
			continue
		}
		rep.Deleted = append(rep.Deleted, c.ID)
		if _, err := os.Stat(e.trashDir(c.ID)); err == nil {
			rep.InTrash++
			rep.SpaceInTrash += size
		} else {
			rep.SpaceReclaimed += size
		}
	}
	return rep, errors.Join(errs...)
}

func (o PruneOptions) matches(c *metadata.Container, labels map[string]string) bool {
	if !o.Until.IsZero() && !c.Created.Before(o.Until) {
		return false
	}
	for _, l := range o.Labels {
		if !labelMatches(labels, l) {
			return false
		}
	}
	if len(o.NotLabels) == 0 {
		return true
	}
	// Docker's label!=: the container is kept when every one matches.
	for _, l := range o.NotLabels {
		if !labelMatches(labels, l) {
			return true
		}
	}
	return false
}

// labelMatches says whether labels has "KEY", or "KEY=VALUE".
func labelMatches(labels map[string]string, filter string) bool {
	k, v, hasValue := strings.Cut(filter, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == v)
}

// dirSize is the bytes of the regular files under dir, as Docker counts
// a writable layer's size.
func dirSize(dir string) uint64 {
	var n uint64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += uint64(fi.Size())
			}
		}
		return nil
	})
	return n
}
