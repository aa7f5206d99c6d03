package sysfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 100000} {
		want := bytes.Repeat([]byte{'x'}, size)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Read of %d bytes: %d bytes, %v", size, len(got), err)
		}
	}
	// procfs files say they are empty and are not.
	if b, err := Read("/proc/self/stat"); err != nil || len(b) == 0 {
		t.Errorf("Read /proc/self/stat: %q, %v", b, err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("after Write: %q, want the old contents replaced by %q", b, "new")
	}
	err := Write(filepath.Join(t.TempDir(), "missing"), []byte("x"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write of a missing file: %v, want a not-exist error", err)
	}
}
