package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"
)

// FuzzApply: whatever the stream, Apply creates, removes and changes
// nothing outside the layer directory, error or not. The layer's parent
// holds a sentinel file, directory and symlink to notice it by.
func FuzzApply(f *testing.F) {
	whiteout := func(name string) entry { return reg(name, "") }
	for _, entries := range [][]entry{
		richLayer(f),
		{symlink("up", ".."), reg("up/sentinel", "x"), dir("up/sentinel-dir/"), reg("up/sentinel-dir/f", "x")},
		{symlink("root", "/"), reg("root/tmp/x", "x"), symlink("l", "up/../.."), reg("l/sentinel", "x")},
		{symlink("s", "../sentinel"), reg("s", "x"), symlink("d", "../sentinel-dir"), dir("d/"), reg("d/f", "x")},
		{reg("../sentinel", "x"), reg("/../sentinel", "x"), reg("a/../../sentinel", "x")},
		{symlink("up", ".."), hardlink("h", "up/sentinel"), hardlink("h2", "../sentinel"), hardlink("h3", "/")},
		{symlink("up", ".."), whiteout("up/.wh.sentinel"), whiteout("up/.wh..wh..opq"), whiteout(".wh.up")},
		{dir("d/"), reg("d/f", "f"), reg("d", "file"), dir("d/"), symlink("d/x", ".."), reg("d/x/sentinel", "x")},
		{symlink("a", "b"), symlink("b", "a"), reg("a/f", "loop")},
		{dir("./"), reg(".", "root"), symlink(".", "..")},
		{reg(strings.Repeat("x/", 200)+"f", "x"), reg("big", string(make([]byte, 2<<20)))},
		{dir("x/"), symlink("x/d", "../../sentinel"), dir("a/"), entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: "a/d/", Mode: 0o555}}, symlink("a", "x")},
	} {
		f.Add(makeTar(f, entries...))
	}
	truncated := makeTar(f, reg("f", "data"), reg("g", "more"))
	f.Add(truncated[:700])
	f.Add(truncated[:1024])

	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSandbox(t)
		Apply(context.Background(), s.layer, bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxEntries: 1000})
		s.check(t)
	})
}
