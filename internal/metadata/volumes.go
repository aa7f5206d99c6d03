package metadata

import (
	"strconv"
	"time"

	"berth/internal/errdefs"
)

var (
	bucketVolumes     = []byte("volumes")     // name -> Volume
	bucketVolumeTrash = []byte("volumeTrash") // name "@" removal nanoseconds -> TrashedVolume
)

// Volume is one volume's record. Its data lives in a directory named
// after it; which containers use it is read from their records
// (Container.Volumes), so that claiming a volume and removing it are
// decided in one transaction.
type Volume struct {
	Name   string            `json:"name"`
	Driver string            `json:"driver"`
	Labels map[string]string `json:"labels,omitempty"`
	// Options are the local driver's -o type=, device= and o=.
	Options map[string]string `json:"options,omitempty"`
	// Anonymous volumes were made for a container, not by name; rm -v
	// removes them with it.
	Anonymous bool      `json:"anonymous,omitempty"`
	Created   time.Time `json:"created"`
}

// TrashedVolume is a removed volume kept for a grace period, as a removed
// container is (Trashed).
type TrashedVolume struct {
	Volume  Volume    `json:"volume"`
	Removed time.Time `json:"removed"`
	// Dir is the directory, under the trash, that holds its data.
	Dir string `json:"dir"`
}

// Key is the trashed volume's key: a name can be removed more than once.
func (tv *TrashedVolume) Key() string {
	return tv.Volume.Name + "@" + strconv.FormatInt(tv.Removed.UnixNano(), 10)
}

// PutVolume stores v, replacing a record of the same name.
func (t *Tx) PutVolume(v *Volume) error {
	if err := t.ensure(bucketVolumes); err != nil {
		return err
	}
	return t.put(bucketVolumes, v.Name, v)
}

// Volume returns volume name, or an errdefs.ErrNotFound error.
func (t *Tx) Volume(name string) (*Volume, error) {
	v := &Volume{}
	ok, err := t.get(bucketVolumes, name, v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errdefs.NotFoundf("get %s: no such volume", name)
	}
	return v, nil
}

// Volumes calls fn for every volume.
func (t *Tx) Volumes(fn func(v *Volume) error) error {
	return each(t, bucketVolumes, func(_ string, v *Volume) error { return fn(v) })
}

// DeleteVolume forgets volume name.
func (t *Tx) DeleteVolume(name string) error {
	if err := t.ensure(bucketVolumes); err != nil {
		return err
	}
	return t.del(bucketVolumes, name)
}

// VolumeUsers returns the IDs of the containers whose records name
// volume name.
func (t *Tx) VolumeUsers(name string) ([]string, error) {
	var ids []string
	err := t.Containers(func(c *Container) error {
		for _, v := range c.Volumes {
			if v == name {
				ids = append(ids, c.ID)
				break
			}
		}
		return nil
	})
	return ids, err
}

// PutTrashedVolume records a removed volume.
func (t *Tx) PutTrashedVolume(tv *TrashedVolume) error {
	if err := t.ensure(bucketVolumeTrash); err != nil {
		return err
	}
	return t.put(bucketVolumeTrash, tv.Key(), tv)
}

// TrashedVolumes calls fn for every removed volume, oldest removal of a
// name first.
func (t *Tx) TrashedVolumes(fn func(tv *TrashedVolume) error) error {
	return each(t, bucketVolumeTrash, func(_ string, tv *TrashedVolume) error { return fn(tv) })
}

// DeleteTrashedVolume forgets the removed volume tv.
func (t *Tx) DeleteTrashedVolume(tv *TrashedVolume) error {
	if err := t.ensure(bucketVolumeTrash); err != nil {
		return err
	}
	return t.del(bucketVolumeTrash, tv.Key())
}
