package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"berth/internal/errdefs"
	"github.com/klauspost/compress/gzip"
)

func TestApplyMaxBytes(t *testing.T) {
	const limit = 1 << 20
	small := reg("small", strings.Repeat("s", limit/2))
	big := reg("big", strings.Repeat("b", limit/2+1))
	data := makeTar(t, small, big)

	dir := t.TempDir()
	_, err := applyBytes(dir, data, Limits{MaxBytes: limit})
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "1048576") || !strings.Contains(err.Error(), `"big"`) {
		t.Fatalf("Apply past MaxBytes = %v, want an invalid-argument error naming the limit and the entry", err)
	}
	// The header's size is checked before the file is made.
	if _, err := os.Lstat(filepath.Join(dir, "big")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lstat(big) = %v, want not exist", err)
	}

	res, err := applyBytes(t.TempDir(), data, Limits{MaxBytes: limit + 1})
	if err != nil || res.Bytes != limit+1 {
		t.Errorf("Apply at MaxBytes = %+v, %v, want %d bytes", res, err, limit+1)
	}
}

func TestApplyMaxEntries(t *testing.T) {
	data := makeTar(t, dir("a/"), reg("a/1", "1"), reg("a/2", "2"), reg("a/3", "3"))
	if res, err := applyBytes(t.TempDir(), data, Limits{MaxEntries: 4}); err != nil || res.Entries != 4 {
		t.Errorf("Apply with 4 entries, MaxEntries 4 = %+v, %v", res, err)
	}
	_, err := applyBytes(t.TempDir(), data, Limits{MaxEntries: 3})
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "more than 3 entries") {
		t.Errorf("Apply with 4 entries, MaxEntries 3 = %v, want an invalid-argument error naming the limit", err)
	}
}

// TestApplyGzipBomb: a file of 1 GiB of zeros gzips to about 1 MiB. Apply
// refuses it from its header, without decompressing the rest.
func TestApplyGzipBomb(t *testing.T) {
	const size, chunk = 1 << 30, 64 << 20
	// gzip members concatenated are one stream: compress the header, one
	// chunk of zeros and the end once each, and repeat the chunk.
	gzipped := func(data []byte) []byte {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		must(t, err)
		_, err = zw.Write(data)
		must(t, err)
		must(t, zw.Close())
		return buf.Bytes()
	}
	var header bytes.Buffer
	must(t, tar.NewWriter(&header).WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bomb", Mode: 0o644, Size: size}))
	bomb := gzipped(header.Bytes())
	zeros := gzipped(make([]byte, chunk))
	for range size / chunk {
		bomb = append(bomb, zeros...)
	}
	bomb = append(bomb, gzipped(make([]byte, 1024))...)

	counted := &countingReader{r: bytes.NewReader(bomb)}
	rc, c, err := Decompress(counted)
	if err != nil || c != Gzip {
		t.Fatalf("Decompress = %v, %v, want gzip", c, err)
	}
	defer rc.Close()
	dir := t.TempDir()
	_, err = Apply(context.Background(), dir, rc, Limits{MaxBytes: 64 << 20})
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "67108864") {
		t.Fatalf("Apply(bomb) = %v, want an invalid-argument error naming the limit", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Apply(bomb) left %d entries", len(entries))
	}
	if counted.n > int64(len(bomb))/2 {
		t.Errorf("Apply(bomb) read %d of its %d bytes", counted.n, len(bomb))
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestApplyTruncated(t *testing.T) {
	full := makeTar(t, dir("d/"), reg("d/f", strings.Repeat("x", 1000)), reg("g", "g"))
	// Entries: d/ header at 0; d/f header at 512, content 1024-2047
	// (1000 bytes, padded); g header at 2048, content at 2560; the
	// end-of-archive marker at 3072.
	const marker = 3072
	if !bytes.Equal(full[marker:marker+1024], make([]byte, 1024)) {
		t.Fatal("the test's tar layout is not what it expects")
	}
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"whole", full, true},
		{"one marker block", full[:marker+512], true},
		{"no marker", full[:marker], false},
		{"half a marker block", full[:marker+100], false},
		{"inside content", full[:1500], false},
		{"inside a header", full[:600], false},
		{"after a header", full[:1024], false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		_, err := applyBytes(t.TempDir(), c.data, Limits{})
		if c.ok && err != nil {
			t.Errorf("Apply(%s) = %v", c.name, err)
		}
		if !c.ok && (!errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "truncated")) {
			t.Errorf("Apply(%s) = %v, want an invalid-argument error that says truncated", c.name, err)
		}
	}
}

// TestApplyReadsToEnd: a caller that hashes the stream sees all of it,
// the padding that follows the tar included.
func TestApplyReadsToEnd(t *testing.T) {
	data := append(makeTar(t, reg("f", "f")), make([]byte, 10240)...)
	r := bytes.NewReader(data)
	if _, err := Apply(context.Background(), t.TempDir(), r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Errorf("Apply left %d bytes unread", r.Len())
	}
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(makeTar(t, reg("f", "f"))), Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply(canceled) = %v, want %v", err, context.Canceled)
	}
}
