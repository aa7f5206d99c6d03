package compose

import (
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/engine"
)

// maxFileSize bounds a secret or config read into a container.
const maxFileSize = 1 << 20

// files are the service's secrets (at /run/secrets/NAME) and configs
// (at /NAME), from a file, the environment or inline content, with the
// uid, gid and mode asked for (0444, root by default).
func files(p *types.Project, s types.ServiceConfig) ([]engine.File, error) {
	var out []engine.File
	add := func(field string, ref types.FileReferenceConfig, obj types.FileObjectConfig, dir string) error {
		bad := func(format string, args ...any) error {
			return fieldError(p, s.Name, field, "%s: %s", ref.Source, fmt.Sprintf(format, args...))
		}
		f := engine.File{Destination: ref.Target, Mode: 0o444}
		if f.Destination == "" {
			f.Destination = ref.Source
		}
		if !path.IsAbs(f.Destination) {
			f.Destination = path.Join(dir, f.Destination)
		}
		if ref.Mode != nil {
			f.Mode = os.FileMode(*ref.Mode) & os.ModePerm
		}
		var err error
		for _, id := range []struct {
			s string
			n *int
		}{{ref.UID, &f.UID}, {ref.GID, &f.GID}} {
			if id.s != "" {
				if *id.n, err = strconv.Atoi(id.s); err != nil || *id.n < 0 {
					return bad("uid and gid must be numbers, not %q", id.s)
				}
			}
		}
		switch {
		case obj.File != "":
			fh, err := os.Open(obj.File)
			if err != nil {
				return bad("%v", err)
			}
			defer fh.Close()
			if f.Content, err = io.ReadAll(io.LimitReader(fh, maxFileSize+1)); err != nil {
				return bad("%v", err)
			}
			if len(f.Content) > maxFileSize {
				return bad("%s is larger than %d bytes", obj.File, maxFileSize)
			}
		case obj.Environment != "":
			f.Content = []byte(p.Environment[obj.Environment])
		default:
			f.Content = []byte(obj.Content)
		}
		out = append(out, f)
		return nil
	}
	for _, ref := range s.Secrets {
		if err := add("secrets", types.FileReferenceConfig(ref), types.FileObjectConfig(p.Secrets[ref.Source]), "/run/secrets"); err != nil {
			return nil, err
		}
	}
	for _, ref := range s.Configs {
		if err := add("configs", types.FileReferenceConfig(ref), types.FileObjectConfig(p.Configs[ref.Source]), "/"); err != nil {
			return nil, err
		}
	}
	return out, nil
}
