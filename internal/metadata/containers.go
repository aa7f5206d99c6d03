package metadata

import (
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
)

var (
	bucketContainers     = []byte("containers")     // container ID -> Container
	bucketContainerNames = []byte("containerNames") // name -> container ID
)

// Container is one container's record: what it was made from and with,
// and the state berth last saw. The runtime's own state and the monitor's
// exit file are the truth about a running container; this is what
// survives them.
type Container struct {
	ID    string        `json:"id"`
	Name  string        `json:"name"`
	Image digest.Digest `json:"image"`
	// ImageName is the name the user gave for the image.
	ImageName string `json:"imageName"`
	// Chain is the image's layer chain, which the container's root
	// filesystem stacks; its snapshots are kept while the container is.
	Chain   []digest.Digest `json:"chain"`
	Created time.Time       `json:"created"`
	// Config is the engine's record of how the container was asked
	// for, in its own format.
	Config []byte `json:"config"`
	// State as berth last recorded it.
	State ContainerState `json:"state"`
	// Volumes are the names of the volumes the container mounts; a
	// volume is in use while a record names it.
	Volumes []string `json:"volumes,omitempty"`
}

// ContainerState is a container's last recorded state.
type ContainerState struct {
	Status     string    `json:"status"` // created, running, exited
	Pid        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exitCode"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	Restarts   int       `json:"restarts,omitempty"`
	// Monitor is the pid of the container's monitor, for a detached one.
	Monitor int `json:"monitor,omitempty"`
	// Error is why the last start failed, until the next one succeeds.
	Error string `json:"error,omitempty"`
}

func (t *Tx) ensure(name []byte) error {
	if t.tx.Writable() {
		_, err := t.tx.CreateBucketIfNotExists(name)
		return err
	}
	return nil
}

// PutContainer stores c and claims its name. A name that another
// container holds is an errdefs.ErrConflict error, within the same
// transaction, so that of many creates with one name exactly one wins.
func (t *Tx) PutContainer(c *Container) error {
	for _, b := range [][]byte{bucketContainers, bucketContainerNames} {
		if err := t.ensure(b); err != nil {
			return err
		}
	}
	var holder string
	ok, err := t.get(bucketContainerNames, c.Name, &holder)
	if err != nil {
		return err
	}
	if ok && holder != c.ID {
		return errdefs.Conflictf("the container name %q is already in use by container %s; remove or rename that container to reuse the name", "/"+c.Name, holder)
	}
	if err := t.put(bucketContainerNames, c.Name, c.ID); err != nil {
		return err
	}
	return t.put(bucketContainers, c.ID, c)
}

// Container returns container id.
func (t *Tx) Container(id string) (*Container, error) {
	c := &Container{}
	ok, err := t.get(bucketContainers, id, c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errdefs.NotFoundf("No such container: %s", id)
	}
	return c, nil
}

// ContainerByName returns the ID of the container called name.
func (t *Tx) ContainerByName(name string) (string, bool, error) {
	var id string
	ok, err := t.get(bucketContainerNames, name, &id)
	return id, ok, err
}

// Containers calls fn for every container.
func (t *Tx) Containers(fn func(c *Container) error) error {
	return each(t, bucketContainers, func(_ string, c *Container) error { return fn(c) })
}

// ContainerIDs returns the IDs that start with prefix, at most max of
// them, in order. It reads only keys, so resolving a short ID costs the
// same beside a thousand containers as beside one.
func (t *Tx) ContainerIDs(prefix string, max int) []string {
	bk := t.tx.Bucket(bucketContainers)
	if bk == nil || prefix == "" {
		return nil
	}
	var ids []string
	c := bk.Cursor()
	for k, _ := c.Seek([]byte(prefix)); k != nil && len(ids) < max && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
		ids = append(ids, string(k))
	}
	return ids
}

// DeleteContainer removes container c's record and frees its name.
func (t *Tx) DeleteContainer(c *Container) error {
	for _, b := range [][]byte{bucketContainers, bucketContainerNames} {
		if err := t.ensure(b); err != nil {
			return err
		}
	}
	if err := t.del(bucketContainerNames, c.Name); err != nil {
		return err
	}
	return t.del(bucketContainers, c.ID)
}

// RenameContainer gives c a new name, freeing the old one.
func (t *Tx) RenameContainer(c *Container, name string) error {
	if err := t.ensure(bucketContainerNames); err != nil {
		return err
	}
	old := c.Name
	c.Name = name
	if err := t.PutContainer(c); err != nil {
		c.Name = old
		return err
	}
	return t.del(bucketContainerNames, old)
}
