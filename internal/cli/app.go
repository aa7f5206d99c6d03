package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/internal/engine"
	"berth/internal/image"
)

// app carries what Docker-style commands share: where state lives and
// the standard streams.
type app struct {
	root func() string
	// runtimeDir is where the runtime keeps per-container state.
	runtimeDir func() string
	in         io.Reader
	out        io.Writer
	err        io.Writer
	// isTerminal says whether out is a terminal, for progress bars.
	isTerminal bool
	store      *image.Store
	eng        *engine.Engine
}

// engine opens the engine under --root, once.
func (a *app) engine() (*engine.Engine, error) {
	if a.eng != nil {
		return a.eng, nil
	}
	e, err := engine.Open(a.root(), a.runtimeDir())
	if err != nil {
		return nil, err
	}
	a.eng, a.store = e, e.Images
	return e, nil
}

// images opens the image store under --root, once, through the engine,
// which tells it which images containers use.
func (a *app) images() (*image.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	e, err := a.engine()
	if err != nil {
		return nil, err
	}
	return e.Images, nil
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
	root.AddCommand(newInspectCommand(a))
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth is the width of the terminal w writes to, or 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}
