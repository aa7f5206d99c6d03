// Package engine is berth's use cases: it wires images, the OCI runtime
// and (later) networks and volumes into containers, keeps their records,
// and takes the locks. The command line is a thin face over it.
package engine

import (
	"crypto/rand"
	"encoding/hex"

	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/metadata"
	"berth/internal/volume"
)

// Engine is berth's state under one root.
type Engine struct {
	root    string
	Images  *image.Store
	Runtime *container.Runtime
	DB      *metadata.DB
	Volumes *volume.Store
	// InitPath is the static init that --init runs as a container's
	// PID 1; empty, berth-init beside berth or in PATH (init.go).
	InitPath string
}

// Open opens the engine whose state lives under root, with the runtime's
// per-container state under runtimeDir (a tmpfs by default, so that a
// reboot forgets processes that are gone).
func Open(root, runtimeDir string) (*Engine, error) {
	st, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	e := &Engine{root: root, Images: st, Runtime: &container.Runtime{Root: runtimeDir}, DB: st.DB}
	st.Users = e
	if err := os.MkdirAll(filepath.Join(root, "containers"), 0o711); err != nil {
		return nil, err
	}
	if e.Volumes, err = volume.Open(root, st.DB); err != nil {
		return nil, err
	}
	return e, nil
}

// dir is container id's directory: its bundle, layers and logs.
func (e *Engine) dir(id string) string { return filepath.Join(e.root, "containers", id) }

// ImageUser says which container uses image id (image.Users).
func (e *Engine) ImageUser(tx *metadata.Tx, id digest.Digest) (string, bool, error) {
	var user string
	var running bool
	err := tx.Containers(func(c *metadata.Container) error {
		if c.Image == id && (user == "" || !running) {
			user = c.ID[:12]
			running = e.status(c) == StatusRunning
		}
		return nil
	})
	return user, running, err
}

// PinnedChains are the layers of every container's image (image.Pinner).
func (e *Engine) PinnedChains(tx *metadata.Tx) ([]digest.Digest, error) {
	var out []digest.Digest
	err := tx.Containers(func(c *metadata.Container) error {
		out = append(out, c.Chain...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A removed container in the trash keeps its layers, to be restored.
	err = tx.TrashedAll(func(tr *metadata.Trashed) error {
		out = append(out, tr.Container.Chain...)
		return nil
	})
	return out, err
}

// newID returns a container ID: 64 random hex digits, as Docker's.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Lookup finds the container a user means: a full ID, a unique ID prefix,
// or a name (with or without Docker's leading slash).
func (e *Engine) Lookup(arg string) (*metadata.Container, error) {
	var c *metadata.Container
	err := e.DB.View(func(tx *metadata.Tx) error {
		var err error
		c, err = lookup(tx, arg)
		return err
	})
	return c, err
}

func lookup(tx *metadata.Tx, arg string) (*metadata.Container, error) {
	name := arg
	if len(name) > 0 && name[0] == '/' {
		name = name[1:]
	}
	if id, ok, err := tx.ContainerByName(name); err != nil {
		return nil, err
	} else if ok {
		return tx.Container(id)
	}
	if c, err := tx.Container(arg); err == nil {
		return c, nil
	}
	switch ids := tx.ContainerIDs(arg, 2); len(ids) {
	case 0:
		return nil, errdefs.NotFoundf("No such container: %s", arg)
	case 1:
		return tx.Container(ids[0])
	}
	return nil, errdefs.Invalidf("multiple containers found with provided prefix: %s", arg)
}

// update changes container id's record in one transaction.
func (e *Engine) update(id string, fn func(c *metadata.Container) error) error {
	return e.DB.Update(func(tx *metadata.Tx) error {
		c, err := tx.Container(id)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		return tx.PutContainer(c)
	})
}

// shortID is a container ID as Docker prints it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
