// Package metadata keeps berth's records (image names, images, layer
// snapshots) in one bbolt database, so that every change is one atomic
// transaction: a command killed at any instant leaves the old records or
// the new ones, never half of each.
//
// bbolt lets one process hold a database open for writing, so every
// command opens it only for the length of a transaction and closes it
// again: two shells pulling at once take turns for milliseconds, not for
// the length of a download.
package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"berth/internal/errdefs"
)

// Buckets, one per kind of record.
var (
	bucketImages    = []byte("images")    // image ID -> Image
	bucketNames     = []byte("names")     // full reference -> image ID
	bucketSnapshots = []byte("snapshots") // chain ID -> Snapshot
	bucketMeta      = []byte("meta")      // counters
)

// DB is the database file at a path.
type DB struct {
	path string
}

// Open names the database at path; it is created on first use.
func Open(path string) *DB { return &DB{path: path} }

// lockWait is how long a command waits for another one's transaction.
const lockWait = 30 * time.Second

func (db *DB) open(readOnly bool) (*bolt.DB, error) {
	b, err := bolt.Open(db.path, 0o600, &bolt.Options{Timeout: lockWait, ReadOnly: readOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: another berth command has held it for %s", db.path, lockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", db.path, err)
	}
	return b, nil
}

// Update runs fn in a read-write transaction; fn's error rolls it back.
func (db *DB) Update(fn func(*Tx) error) error {
	b, err := db.open(false)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketImages, bucketNames, bucketSnapshots, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return fn(&Tx{tx: tx})
	})
}

// View runs fn in a read-only transaction, which other readers may share.
func (db *DB) View(fn func(*Tx) error) error {
	if _, err := os.Stat(db.path); errors.Is(err, fs.ErrNotExist) {
		return db.Update(fn) // creates the database and its buckets
	}
	b, err := db.open(true)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is one transaction.
type Tx struct {
	tx *bolt.Tx
}

func (t *Tx) put(bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucket).Put([]byte(key), b)
}

func (t *Tx) get(bucket []byte, key string, v any) (bool, error) {
	bk := t.tx.Bucket(bucket)
	if bk == nil {
		return false, nil // a database no update has completed in yet
	}
	b := bk.Get([]byte(key))
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("record %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func (t *Tx) del(bucket []byte, key string) error {
	return t.tx.Bucket(bucket).Delete([]byte(key))
}

func each[T any](t *Tx, bucket []byte, fn func(key string, v *T) error) error {
	bk := t.tx.Bucket(bucket)
	if bk == nil {
		return nil
	}
	return bk.ForEach(func(k, b []byte) error {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("record %s/%s: %w", bucket, k, err)
		}
		return fn(string(k), v)
	})
}

// NextID returns a new number from the counter name, unique for the life
// of the database.
func (t *Tx) NextID(name string) (uint64, error) {
	b := t.tx.Bucket(bucketMeta)
	var n uint64
	if v := b.Get([]byte(name)); v != nil {
		if err := json.Unmarshal(v, &n); err != nil {
			return 0, err
		}
	}
	n++
	return n, t.put(bucketMeta, name, n)
}

func notFound(kind, key string) error {
	return errdefs.NotFoundf("no such %s: %s", kind, key)
}
