package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// A layer unpacked with its split record (load -i, import FILE) may be
// committed before its files are on the disk, so that the command does
// not wait for the disk: its record says so, with the ID of the boot
// that wrote it (Pending.Unsynced). Within that boot the layer is whole
// whatever happens to the command, since a killed process leaves its
// writes in the page cache. The next command that writes to the store
// makes such layers durable with one syncfs (Settle). A layer still
// unsynced from an earlier boot may have lost, in a power loss or a
// crash of the machine, anything that had not reached the disk, file
// contents and metadata alike: before it is used it is unpacked anew
// from its own tar, rebuilt from its split record and files and checked
// against its diff ID; a layer that fails the check is lost, and its
// record goes (Check).

// ReadBootID returns the kernel's ID of this boot of the machine, which
// changes at every boot.
func ReadBootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read the boot ID: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", errors.New("read the boot ID: /proc/sys/kernel/random/boot_id is empty")
	}
	return id, nil
}

// Settle makes the layers that this boot committed unsynced durable: one
// syncfs(2) of the store's file system, after which their records say
// that they are on the disk. When the syncfs fails they stay unsynced,
// for the next command to try again.
func (s *Store) Settle() error {
	boot, err := s.BootID()
	if err != nil {
		return err
	}
	var chains []digest.Digest
	err = s.db.View(func(tx *metadata.Tx) error {
		return tx.Snapshots(func(snap *metadata.Snapshot) error {
			if snap.Unsynced == boot {
				chains = append(chains, snap.Chain)
			}
			return nil
		})
	})
	if err != nil || len(chains) == 0 {
		return err
	}
	if err := archive.Syncfs(s.root); err != nil {
		return err
	}
	return s.db.Update(func(tx *metadata.Tx) error {
		for _, c := range chains {
			snap, err := tx.Snapshot(c)
			if errdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if snap.Unsynced != boot {
				continue
			}
			snap.Unsynced = ""
			if err := tx.PutSnapshot(snap); err != nil {
				return err
			}
		}
		return nil
	})
}

// Check makes sure that each of snaps is whole before it is used: a
// layer unsynced from an earlier boot is unpacked anew from its tar (rebuilt from its split record and files,
// checked against its diff ID) into a directory that, once synced, takes
// the place of its files; its record then says that it is on the disk.
// A layer whose tar cannot be rebuilt is lost: its record goes, so that
// loading or pulling its image again unpacks it anew, and the error
// says so.
func (s *Store) Check(snaps []*metadata.Snapshot) error {
	var boot string
	for _, snap := range snaps {
		if snap.Unsynced == "" {
			continue
		}
		if boot == "" {
			var err error
			if boot, err = s.BootID(); err != nil {
				return err
			}
		}
		if snap.Unsynced == boot {
			continue
		}
		if err := s.renew(snap); err != nil {
			return err
		}
	}
	return nil
}

// renew unpacks snap anew, or drops its record when its tar cannot be
// rebuilt.
func (s *Store) renew(snap *metadata.Snapshot) error {
	if s.Hold != nil {
		release, err := s.Hold()
		if err != nil {
			return err
		}
		defer release()
	}
	tmp, err := s.Temp()
	if err != nil {
		return err
	}
	defer s.Discard(tmp)
	lost, err := s.unpackAgain(snap, tmp)
	if lost != nil {
		return s.drop(snap, lost)
	}
	if err == nil {
		err = archive.Syncfs(tmp)
	}
	if err != nil {
		return fmt.Errorf("check layer %s: %w", snap.DiffID, err)
	}
	return s.db.Update(func(tx *metadata.Tx) error {
		cur, err := tx.Snapshot(snap.Chain)
		if err != nil {
			return err
		}
		if cur.Unsynced == "" {
			return nil // another command checked it meanwhile
		}
		if cur.Dir != snap.Dir {
			return fmt.Errorf("check layer %s: it was removed and unpacked again meanwhile", snap.DiffID)
		}
		dir := filepath.Join(s.root, cur.Dir)
		// The old files end up in tmp, which goes.
		if err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(tmp, "fs"), unix.AT_FDCWD, filepath.Join(dir, "fs"), unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("check layer %s: %w", snap.DiffID, err)
		}
		if err := os.Rename(filepath.Join(tmp, SplitRecord), filepath.Join(dir, SplitRecord)); err != nil {
			return fmt.Errorf("check layer %s: %w", snap.DiffID, err)
		}
		if err := syncPath(dir); err != nil {
			return fmt.Errorf("check layer %s: %w", snap.DiffID, err)
		}
		cur.Unsynced = ""
		return tx.PutSnapshot(cur)
	})
}

// errGaveUp is what the rebuilding of a layer gets when the unpacking
// stopped reading it.
var errGaveUp = errors.New("the unpacking stopped")

// unpackAgain rebuilds snap's tar from its split record and files and
// unpacks it into tmp/fs, copying the record to tmp. lost says why the
// tar could not be rebuilt; err is any other error.
func (s *Store) unpackAgain(snap *metadata.Snapshot, tmp string) (lost, err error) {
	rec, err := os.Open(s.Record(snap))
	if errors.Is(err, fs.ErrNotExist) {
		return err, nil
	}
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	copyTo, err := os.OpenFile(filepath.Join(tmp, SplitRecord), os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	defer copyTo.Close()
	cp := &recordCopy{w: copyTo}
	pr, pw := io.Pipe()
	rebuilt := make(chan error, 1)
	go func() {
		h := digest.SHA256.Digester()
		in := io.TeeReader(rec, cp)
		err := archive.Rebuild(context.Background(), io.MultiWriter(pw, h.Hash()), s.Dir(snap), in)
		if err == nil {
			_, err = io.Copy(io.Discard, in) // the whole record, copied
		}
		if err == nil && h.Digest() != snap.DiffID {
			err = fmt.Errorf("its files and split record give a tar of digest %s", h.Digest())
		}
		pw.CloseWithError(err)
		rebuilt <- err
	}()
	_, err = archive.Apply(context.Background(), filepath.Join(tmp, "fs"), pr, archive.Limits{})
	if err != nil {
		pr.CloseWithError(errGaveUp)
	}
	rerr := <-rebuilt
	switch {
	case cp.err != nil:
		return nil, cp.err
	case rerr != nil && !errors.Is(rerr, errGaveUp):
		return rerr, nil
	case err != nil:
		return nil, err
	}
	return nil, copyTo.Close()
}

// recordCopy writes a copy of a split record, keeping its first error
// apart from the errors of reading the record.
type recordCopy struct {
	w   io.Writer
	err error
}

func (c *recordCopy) Write(p []byte) (int, error) {
	if c.err == nil {
		_, c.err = c.w.Write(p)
	}
	return len(p), nil
}

// drop removes the record of snap, whose tar cannot be rebuilt, and says
// that it is lost; its directory is garbage for the next collection. A
// snap that another command checked meanwhile is whole: its files were
// being replaced while they were read.
func (s *Store) drop(snap *metadata.Snapshot, why error) error {
	checked := false
	err := s.db.Update(func(tx *metadata.Tx) error {
		cur, err := tx.Snapshot(snap.Chain)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Dir != snap.Dir || cur.Unsynced != snap.Unsynced {
			checked = true
			return nil
		}
		return tx.DeleteSnapshot(snap.Chain)
	})
	if err != nil || checked {
		return err
	}
	return errdefs.NotFoundf("layer %s is lost: its files did not all reach the disk before the machine went down (%v); load or pull its image again", snap.DiffID, why)
}
