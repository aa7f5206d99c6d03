package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// holeBlock is the size of the zero blocks that are left as holes rather
// than written: the block size of the filesystems that layers live on.
const holeBlock = 4096

var zeroBlock [holeBlock]byte

// writeFile copies size bytes from r into the new, empty file fd through
// buf. Blocks of zeros are skipped rather than written, leaving holes. A
// layer cannot say that a file was sparse (archive/tar expands sparse
// entries, and Docker writes none), so this is how a sparse file, such as
// a 1 TiB /var/log/lastlog, stays a few blocks on disk rather than
// filling it.
func writeFile(ctx context.Context, fd int, r io.Reader, size int64, buf []byte) error {
	// off: where buf starts in the file; end: where the data written so far
	// ends, when that is also where a buffer ended.
	var off, end int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(min(int64(len(buf)), size-off))
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("the layer is truncated in its content: %w", io.ErrUnexpectedEOF)
			}
			return err
		}
		start := -1 // of the run of non-zero blocks being gathered
		for i := 0; i < n; i += holeBlock {
			b := buf[i:min(i+holeBlock, n)]
			zero := bytes.Equal(b, zeroBlock[:len(b)])
			switch {
			case !zero && start < 0:
				start = i
			case zero && start >= 0:
				if err := pwriteAll(fd, buf[start:i], off+int64(start)); err != nil {
					return err
				}
				start = -1
			}
		}
		if start >= 0 {
			if err := pwriteAll(fd, buf[start:n], off+int64(start)); err != nil {
				return err
			}
			end = off + int64(n)
		}
		off += int64(n)
	}
	if end < size {
		// The file ends in a hole: give it its length.
		return unix.Ftruncate(fd, size)
	}
	return nil
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}
