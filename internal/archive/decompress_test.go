package archive

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestDecompress(t *testing.T) {
	plain := bytes.Repeat([]byte("a layer's tar stream "), 10000)
	var gz, gz2, zst bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	// Two gzip members, as pigz and concatenated blobs make, are one stream.
	for _, half := range [][]byte{plain[:1000], plain[1000:]} {
		zw := gzip.NewWriter(&gz2)
		zw.Write(half)
		zw.Close()
	}
	enc, err := zstd.NewWriter(&zst)
	must(t, err)
	enc.Write(plain)
	enc.Close()

	for _, c := range []struct {
		name string
		in   []byte
		want Compression
		out  []byte
	}{
		{"plain", plain, None, plain},
		{"gzip", gz.Bytes(), Gzip, plain},
		{"gzip members", gz2.Bytes(), Gzip, plain},
		{"zstd", zst.Bytes(), Zstd, plain},
		{"empty", nil, None, nil},
		{"one byte", []byte{0x1f}, None, []byte{0x1f}},
	} {
		rc, got, err := Decompress(bytes.NewReader(c.in))
		if err != nil || got != c.want {
			t.Errorf("Decompress(%s) = %v, %v, want %v", c.name, got, err, c.want)
			continue
		}
		out, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(out, c.out) {
			t.Errorf("Decompress(%s) read %d bytes, %v, want %d bytes", c.name, len(out), err, len(c.out))
		}
		must(t, rc.Close())
	}
}

func TestDecompressCorrupt(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("x"), 100000))
	zw.Close()
	data := gz.Bytes()
	data[len(data)-6] ^= 0xff // the CRC
	rc, _, err := Decompress(bytes.NewReader(data))
	must(t, err)
	if _, err := io.ReadAll(rc); err == nil {
		t.Error("Decompress(a gzip stream with a bad checksum) read it all without an error")
	}
	if _, _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("Decompress(a cut gzip header) = nil error")
	}
}

func TestCompressionString(t *testing.T) {
	for c, want := range map[Compression]string{None: "none", Gzip: "gzip", Zstd: "zstd", 7: "Compression(7)"} {
		if got := c.String(); got != want {
			t.Errorf("Compression(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}
