package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/vbatts/tar-split/tar/storage"
	"golang.org/x/sys/unix"
)

// Rebuild writes to w the tar stream that the split record rec
// describes, taking each file's content from dir, the directory that
// Apply unpacked the stream into. A file is opened inside dir as Apply
// made it (symlinks resolved inside dir, the last component not
// followed), and must be a regular file of the size its header gives.
// The caller checks what Rebuild wrote against the layer's digest: that
// is what proves the files unchanged.
func Rebuild(ctx context.Context, w io.Writer, dir string, rec io.Reader) error {
	zr, err := gzip.NewReader(rec)
	if err != nil {
		return fmt.Errorf("split record: %w", err)
	}
	defer zr.Close()
	rt, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(rt)
	dec := json.NewDecoder(zr)
	buf := make([]byte, copyBufferSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var e storage.Entry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("split record: %w", err)
		}
		switch e.Type {
		case storage.SegmentType:
			if _, err := w.Write(e.Payload); err != nil {
				return err
			}
		case storage.FileType:
			if e.Size == 0 {
				continue
			}
			if err := copyContent(w, rt, e.GetName(), e.Size, buf); err != nil {
				return fmt.Errorf("rebuild layer: %q: %w", e.GetName(), err)
			}
		default:
			return fmt.Errorf("split record: entry of unknown type %d", e.Type)
		}
	}
}

// copyContent writes the size bytes of the regular file name, inside
// the directory rt, to w.
func copyContent(w io.Writer, rt int, name string, size int64, buf []byte) error {
	p, err := cleanName(name)
	if err != nil {
		return err
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	for {
		fd, err = unix.Openat2(rt, p, &how)
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		return fmt.Errorf("not the regular file of %d bytes that the layer had", size)
	}
	n, err := io.CopyBuffer(w, io.LimitReader(fdReader(fd), size), buf)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%d bytes, not the %d bytes that the layer had", n, size)
	}
	return nil
}

// RecordSize returns the size of the tar stream that the split record
// rec describes.
func RecordSize(rec io.Reader) (int64, error) {
	zr, err := gzip.NewReader(rec)
	if err != nil {
		return 0, fmt.Errorf("split record: %w", err)
	}
	defer zr.Close()
	dec := json.NewDecoder(zr)
	var n int64
	for {
		var e storage.Entry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return 0, fmt.Errorf("split record: %w", err)
		}
		switch e.Type {
		case storage.SegmentType:
			n += int64(len(e.Payload))
		case storage.FileType:
			n += e.Size
		}
	}
}
