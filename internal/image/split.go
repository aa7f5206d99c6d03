package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/errdefs"
	"berth/internal/snapshot"
)

// An uncompressed layer read from a file (load -i, import FILE) is not
// kept as a blob: it is unpacked once, with a split record of its tar
// (headers and padding, see internal/archive) beside its files, and
// save and push rebuild the blob from the two, checking its digest. So
// the layer's bytes are written once, not twice. When the files cannot
// give the tar back (an entry replaced an earlier one, say), the layer
// is read again from the file and kept as a blob, as before. An input
// that cannot be read again (a pipe) is stored as a blob first.

// errNotRebuildable says that a layer unpacked, but that its tar could
// not be rebuilt from its files.
var errNotRebuildable = errors.New("the layer's tar cannot be rebuilt from its files")

// rereadable returns r as a source that can be read again from where it
// is now, and that offset, when it is one (a file, not a pipe).
func rereadable(r io.Reader) (io.ReaderAt, int64, bool) {
	rs, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		return nil, 0, false
	}
	off, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, false
	}
	return rs, off, true
}

// isPlainTar says whether a stream starting with head is an
// uncompressed (ustar or GNU) tar.
func isPlainTar(head []byte) bool {
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// unpackSplit unpacks the uncompressed layer tar r into a temporary
// snapshot, with its split record, and returns it with its digest
// (both the blob's and the diff ID) and sizes. The files are not synced:
// the layer is committed unsynced (see unsynced). A layer that unpacks
// but cannot be rebuilt is discarded with errNotRebuildable.
func (s *Store) unpackSplit(ctx context.Context, r io.Reader) (pre preUnpacked, err error) {
	tmp, err := s.Snaps.Temp()
	if err != nil {
		return pre, err
	}
	defer func() {
		if err != nil {
			s.Snaps.Discard(tmp)
		}
	}()
	rec, err := os.OpenFile(filepath.Join(tmp, snapshot.SplitRecord), os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return pre, err
	}
	defer rec.Close()
	// The Splitter's goroutine hashes the stream, beside the unpacking
	// rather than before it.
	cr := &byteCounter{r: r}
	h := digest.SHA256.Digester()
	sp := archive.Split(cr, rec, h.Hash())
	res, err := archive.Apply(ctx, filepath.Join(tmp, "fs"), sp, s.Limits)
	if err != nil {
		sp.Close()
		return pre, err
	}
	// Apply read the stream to its end, bounding what follows the tar.
	if err := sp.Finish(); err != nil {
		return pre, err
	}
	if err := rec.Close(); err != nil {
		return pre, err
	}
	if !res.Rebuildable {
		return pre, errNotRebuildable
	}
	return preUnpacked{tmp: tmp, diffID: h.Digest(), size: res.Bytes, split: true, blobSize: cr.n}, nil
}

// byteCounter counts what is read through it.
type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// unsynced returns what layers unpacked with split records are
// committed as (snapshot.Pending.Unsynced): this boot's ID, so that the
// command does not wait for their files to reach the disk. When the
// boot ID cannot be read, their files are synced here instead, and it
// returns "".
func (s *Store) unsynced() (string, error) {
	boot, err := s.Snaps.BootID()
	if err == nil {
		return boot, nil
	}
	if err := archive.Syncfs(s.Snaps.Root()); err != nil {
		return "", fmt.Errorf("sync unpacked layers: %w", err)
	}
	return "", nil
}

// hasBlob says whether blob d is stored, as a blob or as a split record
// of an unpacked layer.
func (s *Store) hasBlob(d digest.Digest) bool {
	if s.Content.Has(d) {
		return true
	}
	_, err := s.Snaps.WithRecord(d)
	return err == nil
}

// splitSize is the size of blob d, kept as a split record, or an
// errdefs.ErrNotFound error.
func (s *Store) splitSize(d digest.Digest) (int64, error) {
	snap, err := s.Snaps.WithRecord(d)
	if err != nil {
		return 0, err
	}
	rec, err := os.Open(s.Snaps.Record(snap))
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", d, err)
	}
	defer rec.Close()
	return archive.RecordSize(rec)
}

// openBlob opens blob d, of size bytes: from the content store, or
// rebuilt from an unpacked layer and its split record, checked against
// d and size as it is read.
func (s *Store) openBlob(ctx context.Context, d digest.Digest, size int64) (io.ReadCloser, error) {
	f, err := s.Content.Open(d)
	if !errdefs.IsNotFound(err) {
		return f, err
	}
	snap, serr := s.Snaps.WithRecord(d)
	if serr != nil {
		return nil, err
	}
	rec, err := os.Open(s.Snaps.Record(snap))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	pipe := newChunkPipe()
	b := &rebuilt{pipe: pipe, d: d, size: size, res: make(chan rebuildResult, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer rec.Close()
		// The hashing is done here, beside the writing of what is
		// read.
		hw := &hashingWriter{w: pipe, h: digest.SHA256.Digester()}
		err := archive.Rebuild(ctx, hw, s.Snaps.Dir(snap), rec)
		if err == nil {
			err = pipe.flush()
		}
		b.res <- rebuildResult{d: hw.h.Digest(), n: hw.n, err: err}
		pipe.closeWrite(err)
	}()
	return b, nil
}

// chunkPipeSize is the size of the pieces a chunkPipe hands over, and
// chunkPipeQueue how many may wait.
const (
	chunkPipeSize  = 1 << 20
	chunkPipeQueue = 8
)

// chunkPipe hands what one goroutine writes to another in large pieces,
// several of them ahead: unlike io.Pipe, whose writer waits until the
// reader has taken all of each write, neither side waits for the other
// while there is room, so the two work at the same time.
type chunkPipe struct {
	cur   []byte // being filled by the writer
	queue chan []byte
	free  chan []byte // pieces the reader is done with
	stop  chan struct{}
	once  sync.Once
	err   error  // the writer's, set before queue is closed
	rcur  []byte // what is left of the piece being read
	rbuf  []byte // that piece, to give back
}

func newChunkPipe() *chunkPipe {
	return &chunkPipe{queue: make(chan []byte, chunkPipeQueue), free: make(chan []byte, chunkPipeQueue+2), stop: make(chan struct{})}
}

func (c *chunkPipe) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.cur == nil {
			select {
			case c.cur = <-c.free:
			default:
				c.cur = make([]byte, 0, chunkPipeSize)
			}
		}
		m := min(len(p), cap(c.cur)-len(c.cur))
		c.cur = append(c.cur, p[:m]...)
		p = p[m:]
		if len(c.cur) == cap(c.cur) {
			if err := c.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush hands over what is written so far.
func (c *chunkPipe) flush() error {
	if len(c.cur) == 0 {
		return nil
	}
	select {
	case c.queue <- c.cur:
		c.cur = nil
		return nil
	case <-c.stop:
		return io.ErrClosedPipe
	}
}

// closeWrite ends the stream: the reader gets err after what was
// handed over, or EOF when err is nil.
func (c *chunkPipe) closeWrite(err error) {
	c.err = err
	close(c.queue)
}

func (c *chunkPipe) Read(p []byte) (int, error) {
	for len(c.rcur) == 0 {
		if c.rbuf != nil {
			select {
			case c.free <- c.rbuf[:0]:
			default:
			}
			c.rbuf = nil
		}
		b, ok := <-c.queue
		if !ok {
			if c.err != nil {
				return 0, c.err
			}
			return 0, io.EOF
		}
		c.rbuf, c.rcur = b, b
	}
	n := copy(p, c.rcur)
	c.rcur = c.rcur[n:]
	return n, nil
}

// closeRead gives up reading: the writer's next hand-over fails.
func (c *chunkPipe) closeRead() { c.once.Do(func() { close(c.stop) }) }

// hashingWriter hashes and counts what it writes.
type hashingWriter struct {
	w io.Writer
	h digest.Digester
	n int64
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	w.h.Hash().Write(p)
	w.n += int64(len(p))
	return w.w.Write(p)
}

// rebuilt reads a rebuilt blob, and fails at its end unless it is the
// blob it should be.
type rebuilt struct {
	pipe    *chunkPipe
	d       digest.Digest
	size    int64
	n       int64
	res     chan rebuildResult
	checked bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// rebuildResult is what the rebuilding wrote, once it is done.
type rebuildResult struct {
	d   digest.Digest
	n   int64
	err error
}

// Read checks the blob before it gives its last bytes, so that a reader
// that stops at its size without reading EOF gets no other blob: a
// mismatch gives an error and none of the bytes of that Read.
func (b *rebuilt) Read(p []byte) (int, error) {
	n, err := b.pipe.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.size:
		return 0, b.mismatch()
	case b.checked:
	case b.n == b.size:
		b.checked = true
		// The stream must end here: read on to its end, which comes
		// once the rebuilding has said what it wrote.
		for err == nil {
			var one [1]byte
			var m int
			if m, err = b.pipe.Read(one[:]); m > 0 {
				return 0, b.mismatch()
			}
		}
		if !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("blob %s: %w", b.d, err)
		}
		if err := b.result(); err != nil {
			return 0, err
		}
	case errors.Is(err, io.EOF):
		b.checked = true
		if err := b.result(); err != nil {
			return 0, err
		}
		return 0, b.mismatch() // short
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("blob %s: %w", b.d, err)
	}
	return n, err
}

// result checks what the rebuilding wrote, once it is done.
func (b *rebuilt) result() error {
	r := <-b.res
	if r.err != nil {
		return fmt.Errorf("blob %s: %w", b.d, r.err)
	}
	if r.d != b.d || r.n != b.size {
		return b.mismatch()
	}
	return nil
}

func (b *rebuilt) mismatch() error {
	return fmt.Errorf("blob %s, rebuilt from its unpacked layer, is not the layer's tar: the layer's files were changed", b.d)
}

func (b *rebuilt) Close() error {
	b.cancel()
	b.pipe.closeRead()
	<-b.done
	return nil
}
