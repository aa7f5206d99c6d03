package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchLayer is a layer shaped like a slice of /usr: 200 directories,
// 2,000 files from 256 bytes to 128 KiB and four of 8 MiB, about 85 MB,
// half of each file compressible.
func benchLayer(b *testing.B) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var entries []entry
	for d := range 200 {
		name := fmt.Sprintf("usr/lib/pkg%03d/", d)
		entries = append(entries, dir(name))
		for f := range 10 {
			size := 1 << (8 + rng.IntN(10)) // 256 B to 128 KiB
			if d%50 == 0 && f == 0 {
				size = 8 << 20
			}
			body := make([]byte, size)
			for i := 0; i < size/2; i += 8 {
				v := rng.Uint64()
				for j := 0; j < 8 && i+j < size; j++ {
					body[i+j] = byte(v >> (8 * j))
				}
			}
			copy(body[size/2:], bytes.Repeat([]byte("text of a library "), size/36+1))
			entries = append(entries, reg(fmt.Sprintf("%sfile%02d.so", name, f), string(body)))
		}
		entries = append(entries, symlink(name+"link.so", "file00.so"))
	}
	return makeTar(b, entries...)
}

// BenchmarkApply unpacks the same layer with Apply and with tar -x, side
// by side: the ratio of their times is what to look at.
func BenchmarkApply(b *testing.B) {
	layer := benchLayer(b)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	run := func(b *testing.B, data []byte, apply func(dir string, data []byte) error) {
		b.SetBytes(int64(len(layer)))
		base := b.TempDir()
		for i := 0; b.Loop(); i++ {
			dir := filepath.Join(base, fmt.Sprint(i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := apply(dir, data); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(dir)
			b.StartTimer()
		}
	}
	berth := func(dir string, data []byte) error {
		rc, _, err := Decompress(bytes.NewReader(data))
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = Apply(context.Background(), dir, rc, Limits{})
		return err
	}
	tar := func(flags string) func(dir string, data []byte) error {
		return func(dir string, data []byte) error {
			cmd := exec.Command("tar", flags, "-C", dir)
			cmd.Stdin = bytes.NewReader(data)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("tar %s: %v: %s", flags, err, out)
			}
			return nil
		}
	}
	// As a load from a file unpacks an uncompressed layer: through a
	// Splitter, hashed in the splitting goroutine.
	split := func(dir string, data []byte) error {
		h := sha256.New()
		sp := Split(bytes.NewReader(data), io.Discard, h)
		if _, err := Apply(context.Background(), dir, sp, Limits{}); err != nil {
			sp.Close()
			return err
		}
		return sp.Finish()
	}
	// Hashed as it is read, as a layer is unpacked from a blob.
	hashed := func(dir string, data []byte) error {
		_, err := Apply(context.Background(), dir, io.TeeReader(bytes.NewReader(data), sha256.New()), Limits{})
		return err
	}
	b.Run("berth", func(b *testing.B) { run(b, layer, berth) })
	b.Run("berth-hash", func(b *testing.B) { run(b, layer, hashed) })
	b.Run("berth-split", func(b *testing.B) { run(b, layer, split) })
	b.Run("berth-gzip", func(b *testing.B) { run(b, gz.Bytes(), berth) })
	if _, err := exec.LookPath("tar"); err != nil {
		b.Log("no tar to compare with")
		return
	}
	b.Run("tar", func(b *testing.B) { run(b, layer, tar("-xf-")) })
	b.Run("tar-gzip", func(b *testing.B) { run(b, gz.Bytes(), tar("-xzf-")) })
}
