package engine

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"berth/internal/errdefs"
)

// File is content given to a container at create, such as a compose
// secret or config: it is written into the container's directory with
// its mode and owner, and bound read-only at Destination, as /etc/hosts
// is, so a read-only root filesystem does not stop it and the container
// cannot change it.
type File struct {
	Destination string
	Content     []byte
	Mode        os.FileMode
	UID, GID    int
}

// fileBinds are the binds that place files, from the container's
// directory dir.
func fileBinds(dir string, files []File) ([]Bind, error) {
	var binds []Bind
	for i, f := range files {
		if !path.IsAbs(f.Destination) {
			return nil, errdefs.Invalidf("file %q: the container path is not absolute", f.Destination)
		}
		binds = append(binds, Bind{Source: filepath.Join(dir, "files", strconv.Itoa(i)), Destination: f.Destination, ReadOnly: true})
	}
	return binds, nil
}

// writeFiles writes files where fileBinds said.
func writeFiles(dir string, files []File) error {
	if len(files) == 0 {
		return nil
	}
	if err := os.Mkdir(filepath.Join(dir, "files"), 0o700); err != nil {
		return err
	}
	for i, f := range files {
		p := filepath.Join(dir, "files", strconv.Itoa(i))
		if err := os.WriteFile(p, f.Content, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", f.Destination, err)
		}
		if err := os.Chown(p, f.UID, f.GID); err != nil {
			return fmt.Errorf("write %s: %w", f.Destination, err)
		}
		if err := os.Chmod(p, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Destination, err)
		}
	}
	return nil
}
