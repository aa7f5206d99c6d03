package metadata

import (
	"time"

	"berth/internal/errdefs"
)

var bucketTrash = []byte("trash") // container ID -> Trashed

// Trashed is a removed container kept for a grace period, so that a
// container removed by mistake can be brought back with its data.
type Trashed struct {
	Container Container `json:"container"`
	Removed   time.Time `json:"removed"`
}

// PutTrashed records a removed container.
func (t *Tx) PutTrashed(tr *Trashed) error {
	if err := t.ensure(bucketTrash); err != nil {
		return err
	}
	return t.put(bucketTrash, tr.Container.ID, tr)
}

// Trashed returns the removed container id.
func (t *Tx) Trashed(id string) (*Trashed, error) {
	tr := &Trashed{}
	ok, err := t.get(bucketTrash, id, tr)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errdefs.NotFoundf("no removed container %s in the trash", id)
	}
	return tr, nil
}

// TrashedAll calls fn for every removed container.
func (t *Tx) TrashedAll(fn func(tr *Trashed) error) error {
	return each(t, bucketTrash, func(_ string, tr *Trashed) error { return fn(tr) })
}

// DeleteTrashed forgets removed container id.
func (t *Tx) DeleteTrashed(id string) error {
	if err := t.ensure(bucketTrash); err != nil {
		return err
	}
	return t.del(bucketTrash, id)
}
