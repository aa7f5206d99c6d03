package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/internal/image"
)

// app carries what Docker-style commands share: where state lives and
// the standard streams.
type app struct {
	root func() string
	in   io.Reader
	out  io.Writer
	err  io.Writer
	// isTerminal says whether out is a terminal, for progress bars.
	isTerminal bool
	store      *image.Store
}

// images opens the image store under --root, once.
func (a *app) images() (*image.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	st, err := image.Open(a.root())
	if err != nil {
		return nil, err
	}
	a.store = st
	return st, nil
}

// addImageCommands adds the image commands at the top level, as Docker
// has them (pull, images, rmi...), and under `image`.
func addImageCommands(root *cobra.Command, a *app) {
	img := &cobra.Command{Use: "image", Short: "Manage images"}
	for _, mk := range []func(*app) *cobra.Command{
		newPullCommand, newPushCommand, newImagesCommand, newRmiCommand, newTagCommand,
		newHistoryCommand, newSaveCommand, newLoadCommand, newImportCommand,
	} {
		top := mk(a)
		root.AddCommand(top)
		sub := mk(a)
		switch sub.Name() {
		case "images":
			sub.Use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
			sub.Aliases = []string{"list"}
		case "rmi":
			sub.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
			sub.Aliases = []string{"remove"}
		}
		img.AddCommand(sub)
	}
	img.AddCommand(newImageInspectCommand(a), newImagePruneCommand(a), newImageCopyCommand(a))
	root.AddCommand(img, newLoginCommand(a), newLogoutCommand(a))
	insp := newImageInspectCommand(a)
	insp.Short = "Return low-level information on images"
	root.AddCommand(insp)
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
