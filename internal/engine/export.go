package engine

import (
	"context"
	"fmt"
	"io"

	"berth/internal/archive"
	"berth/internal/metadata"
)

// Export writes container c's whole filesystem, as the container sees
// it (its image's layers and its own, merged: what it deleted is gone,
// and no whiteouts are left), to w as a tar stream, as `docker export`
// does. `import` makes an image of it again.
func (e *Engine) Export(ctx context.Context, c *metadata.Container, w io.Writer) error {
	return e.withRootfs(c, func(rootfs string) error {
		if err := archive.Tar(ctx, w, rootfs); err != nil {
			return fmt.Errorf("export %s: %w", c.Name, err)
		}
		return nil
	})
}
