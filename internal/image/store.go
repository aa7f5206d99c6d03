// Package image is berth's image store: it brings images in (from a
// registry or an archive), names them, lists and inspects them, and
// frees what no image or container uses any more.
//
// It ties three stores together: content (blobs by digest), snapshot
// (layers unpacked once, keyed by chain ID) and metadata (names and
// image records, changed in atomic transactions). Files are always
// written before the record that points at them, and removed after the
// record is gone, so a crash leaves at worst unreferenced files, which
// the next garbage collection removes.
package image

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/content"
	"berth/internal/metadata"
	"berth/internal/snapshot"
)

// Store is the image store under one berth root.
type Store struct {
	root    string
	Content *content.Store
	DB      *metadata.DB
	Snaps   *snapshot.Store
	// Limits bound each layer's unpacked size and entry count.
	Limits archive.Limits
	// Parallel is how many layers are fetched and unpacked at once.
	Parallel int
	// Users, when set, says which images containers use.
	Users Users
	// settle makes the first writing of a command settle the layers
	// that earlier ones left unsynced.
	settle sync.Once
}

// Open opens the image store under root, creating it if need be.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	cs, err := content.New(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	db := metadata.Open(filepath.Join(root, "metadata.db"))
	snaps, err := snapshot.New(filepath.Join(root, "snapshots"), db)
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, Content: cs, DB: db, Snaps: snaps, Parallel: 4}
	snaps.Hold = s.writing
	return s, nil
}

// The garbage lock keeps garbage collection from freeing what a running
// pull, load or import has written but not yet recorded: each of those
// holds it shared for its whole length, and collection takes it
// exclusively. It is a flock(2), so a killed command releases it.
func (s *Store) lock(how int) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.root, "gc.lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// writing holds the garbage lock shared, for a command that writes
// blobs or layers. The first time, it makes durable the layers that
// earlier commands of this boot left unsynced (snapshot.Store.Settle),
// not those that this command commits; when that fails, they stay
// unsynced, to be checked before their next use after a reboot.
func (s *Store) writing() (func(), error) {
	release, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	s.settle.Do(func() { s.Snaps.Settle() })
	return release, nil
}
