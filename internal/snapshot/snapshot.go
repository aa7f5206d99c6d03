// Package snapshot keeps image layers unpacked, each once, in directories
// that overlayfs stacks into a container's root filesystem.
//
// A layer is unpacked into a temporary directory and committed under its
// chain ID (the digest of it and every layer below it), so every image
// whose layers up to this one are the same shares the directory. Commit
// is one metadata transaction: a layer another process committed first is
// kept, and the newcomer's copy is discarded. Directories have short
// numeric names, so that an overlay mount of many layers fits within the
// one page the kernel allows for mount options.
package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// Store is the directory of snapshots and their records.
type Store struct {
	root string
	db   *metadata.DB
	// BootID returns the ID of this boot of the machine (ReadBootID):
	// layers written without a wait for the disk are trusted in the boot
	// that wrote them only.
	BootID func() (string, error)
	// Hold, when set, keeps garbage collection from removing the
	// temporary directory that a layer is checked in (see LowerDirs)
	// until the returned function is called.
	Hold func() (release func(), err error)
}

const tmpPrefix = "tmp-"

// SplitRecord names the file beside fs/ that holds the tar-split record
// of a layer whose uncompressed blob is not kept: the layer's tar is
// rebuilt from the record and the files (see internal/archive).
const SplitRecord = "tar-split.json.gz"

// New opens the snapshot directory root, whose records live in db.
func New(root string, db *metadata.DB) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return &Store{root: root, db: db, BootID: ReadBootID}, nil
}

// Chain returns the chain IDs of layers with the given diff IDs, bottom
// first, as the image spec defines them.
func Chain(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// Temp makes a directory to unpack one layer into; its fs/ subdirectory
// is the layer's root. Commit it, or remove it with Discard.
func (s *Store) Temp() (string, error) {
	dir, err := os.MkdirTemp(s.root, tmpPrefix)
	if err != nil {
		return "", fmt.Errorf("snapshot store: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "fs"), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("snapshot store: %w", err)
	}
	return dir, nil
}

// Discard removes a temporary directory from Temp.
func (s *Store) Discard(tmp string) {
	if strings.HasPrefix(filepath.Base(tmp), tmpPrefix) {
		os.RemoveAll(tmp)
	}
}

// Commit records the layer unpacked in tmp as snapshot chain. When chain
// is already there, tmp is discarded and the existing one returned; its
// split record goes to the existing one first if that has none, since
// the caller may have kept no other copy of the layer's tar (both
// directories hold the same files: the same chain is the same tars).
func (s *Store) Commit(tmp string, chain, parent, diffID digest.Digest, size int64) (*metadata.Snapshot, error) {
	snaps, err := s.CommitAll([]Pending{{Tmp: tmp, Chain: chain, Parent: parent, DiffID: diffID, Size: size}})
	if err != nil {
		return nil, err
	}
	return snaps[0], nil
}

// Pending is a layer unpacked in Tmp, to be committed as snapshot Chain.
type Pending struct {
	Tmp                   string
	Chain, Parent, DiffID digest.Digest
	Size                  int64
	// Unsynced is the boot ID when Tmp's files are not known to be on
	// the disk; then Tmp must hold the layer's split record (see
	// LowerDirs). Empty when they are synced.
	Unsynced string
}

// CommitAll commits several layers as Commit does each, in one
// transaction, and returns their snapshots in order.
func (s *Store) CommitAll(ps []Pending) ([]*metadata.Snapshot, error) {
	snaps := make([]*metadata.Snapshot, len(ps))
	err := s.db.Update(func(tx *metadata.Tx) error {
		for i, p := range ps {
			if old, err := tx.Snapshot(p.Chain); err == nil {
				snaps[i] = old
				if err := s.adoptRecord(p.Tmp, old); err != nil {
					return err
				}
				continue
			}
			n, err := tx.NextID("snapshot")
			if err != nil {
				return err
			}
			snap := &metadata.Snapshot{Chain: p.Chain, Parent: p.Parent, DiffID: p.DiffID, Dir: strconv.FormatUint(n, 10), Size: p.Size, Unsynced: p.Unsynced}
			if err := os.Rename(p.Tmp, filepath.Join(s.root, snap.Dir)); err != nil {
				return fmt.Errorf("commit layer %s: %w", p.DiffID, err)
			}
			if err := tx.PutSnapshot(snap); err != nil {
				return err
			}
			snaps[i] = snap
		}
		return nil
	})
	for _, p := range ps {
		s.Discard(p.Tmp) // gone already unless another process had the layer
	}
	if err != nil {
		return nil, err
	}
	return snaps, nil
}

// adoptRecord moves tmp's split record into snap's directory, which has
// none.
func (s *Store) adoptRecord(tmp string, snap *metadata.Snapshot) error {
	src := filepath.Join(tmp, SplitRecord)
	if _, err := os.Lstat(src); err != nil {
		return nil
	}
	dst := s.Record(snap)
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	// On the disk before the record of the image that needs it: the
	// record may have been written without a wait for the disk, and
	// snap's files may have been synced long ago.
	if err := syncPath(src); err != nil {
		return fmt.Errorf("commit layer %s: %w", snap.DiffID, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("commit layer %s: %w", snap.DiffID, err)
	}
	if err := syncPath(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("commit layer %s: %w", snap.DiffID, err)
	}
	return nil
}

// syncPath fsyncs the file or directory p.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Record is where snap's split record is, when it has one.
func (s *Store) Record(snap *metadata.Snapshot) string {
	return filepath.Join(s.root, snap.Dir, SplitRecord)
}

// WithRecord returns a snapshot of the layer diffID that has a split
// record, or an errdefs.ErrNotFound error.
func (s *Store) WithRecord(diffID digest.Digest) (*metadata.Snapshot, error) {
	var found *metadata.Snapshot
	err := s.db.View(func(tx *metadata.Tx) error {
		return tx.Snapshots(func(snap *metadata.Snapshot) error {
			if found == nil && snap.DiffID == diffID {
				if _, err := os.Lstat(s.Record(snap)); err == nil {
					found = snap
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, errdefs.NotFoundf("no unpacked layer %s with a split record", diffID)
	}
	return found, nil
}

// Get returns snapshot chain, or an errdefs.ErrNotFound error.
func (s *Store) Get(chain digest.Digest) (*metadata.Snapshot, error) {
	var snap *metadata.Snapshot
	err := s.db.View(func(tx *metadata.Tx) error {
		var err error
		snap, err = tx.Snapshot(chain)
		return err
	})
	return snap, err
}

// Root is the directory that holds the snapshots.
func (s *Store) Root() string { return s.root }

// Dir is the root directory of a snapshot's layer.
func (s *Store) Dir(snap *metadata.Snapshot) string {
	return filepath.Join(s.root, snap.Dir, "fs")
}

// LowerDirs returns the layer directories of chain, top first, as
// overlayfs's lowerdir option lists them. A layer written in an earlier
// boot and never known to have reached the disk is checked, and unpacked
// anew, first (see Check).
func (s *Store) LowerDirs(chain []digest.Digest) ([]string, error) {
	dirs := make([]string, 0, len(chain))
	var suspect []*metadata.Snapshot
	err := s.db.View(func(tx *metadata.Tx) error {
		for i := len(chain) - 1; i >= 0; i-- {
			snap, err := tx.Snapshot(chain[i])
			if err != nil {
				return err
			}
			if snap.Unsynced != "" {
				suspect = append(suspect, snap)
			}
			dirs = append(dirs, s.Dir(snap))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.Check(suspect); err != nil {
		return nil, err
	}
	return dirs, nil
}

// Sweep removes directories that no record names: layers whose commit
// or removal was cut short, and temporary directories older than age.
// The caller must hold off every commit meanwhile (the image store's
// garbage lock): a directory renamed into place after Sweep read the
// records would look like garbage.
func (s *Store) Sweep(age time.Duration) error {
	known := map[string]bool{}
	err := s.db.View(func(tx *metadata.Tx) error {
		return tx.Snapshots(func(snap *metadata.Snapshot) error {
			known[snap.Dir] = true
			return nil
		})
	})
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-age)
	for _, e := range entries {
		name := e.Name()
		if known[name] {
			continue
		}
		if strings.HasPrefix(name, tmpPrefix) {
			fi, err := e.Info()
			if err != nil || fi.ModTime().After(cutoff) {
				continue
			}
			// A build killed mid-step leaves its layer mounted at
			// rootfs: unmount it, so that removal neither walks into
			// the mount nor stops at its busy mount point.
			unix.Unmount(filepath.Join(s.root, name, "rootfs"), unix.MNT_DETACH)
		}
		if err := os.RemoveAll(filepath.Join(s.root, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
