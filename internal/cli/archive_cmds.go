package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/reference"
)

func newSaveCommand(a *app) *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.images()
			if err != nil {
				return err
			}
			var items []image.SaveItem
			for _, arg := range args {
				img, err := st.Lookup(arg)
				if err != nil {
					return err
				}
				it := image.SaveItem{Image: img}
				if ref, err := reference.Parse(arg); err == nil && ref.Digest() == "" && !strings.HasPrefix(img.ID.Encoded(), arg) {
					it.Names = []string{ref.String()}
				}
				items = append(items, it)
			}
			if output == "" {
				if f, ok := a.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errdefs.Invalidf("cowardly refusing to save to a terminal: use the -o flag or redirect")
				}
				return st.Save(a.out, items, image.SaveFormat(format))
			}
			return writeFileAtomic(output, func(w io.Writer) error {
				return st.Save(w, items, image.SaveFormat(format))
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of STDOUT")
	cmd.Flags().StringVar(&format, "format", string(image.DockerArchive), "archive format: docker-archive (docker load reads it) or oci-archive")
	return cmd
}

// writeFileAtomic writes a file through fn into a temporary file beside
// it, renamed into place only when fn succeeds: a failed save leaves no
// half-written archive behind.
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newLoadCommand(a *app) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = a.in
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if f, ok := a.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return errdefs.Invalidf("requested load from stdin, but stdin is a terminal: use -i FILE or redirect")
			}
			st, err := a.images()
			if err != nil {
				return err
			}
			loaded, err := st.Load(cmd.Context(), r, nil)
			if err != nil {
				return err
			}
			if quiet {
				return nil
			}
			for _, l := range loaded {
				if len(l.Names) == 0 {
					fmt.Fprintf(a.out, "Loaded image ID: %s\n", l.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintf(a.out, "Loaded image: %s\n", n)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

func newImportCommand(a *app) *cobra.Command {
	var (
		changes          []string
		message, platfrm string
	)
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := image.ImportOptions{Comment: message}
			if opts.Comment == "" {
				opts.Comment = "Imported from " + args[0]
				if args[0] != "-" && !strings.Contains(args[0], "://") {
					opts.Comment = "Imported from -"
				}
			}
			if err := image.ApplyChanges(&opts.Config, changes); err != nil {
				return err
			}
			if platfrm != "" {
				p, err := image.ParsePlatform(platfrm)
				if err != nil {
					return err
				}
				opts.Platform = p
			}
			if len(args) == 2 {
				ref, err := reference.Parse(args[1])
				if err != nil {
					return err
				}
				if ref.Digest() != "" {
					return errdefs.Invalidf("import: %s: a name with a digest cannot be given to a new image", args[1])
				}
				opts.Names = []string{ref.String()}
			}
			r, closer, err := openImportSource(a, args[0])
			if err != nil {
				return err
			}
			defer closer()
			st, err := a.images()
			if err != nil {
				return err
			}
			img, err := st.Import(cmd.Context(), r, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	f.StringVarP(&message, "message", "m", "", "set the commit message of the imported image")
	f.StringVar(&platfrm, "platform", "", "set the platform of the image (os/arch[/variant])")
	return cmd
}

// openImportSource opens what import reads: "-" for stdin, an http(s)
// URL, or a file.
func openImportSource(a *app, src string) (io.Reader, func(), error) {
	switch {
	case src == "-":
		return a.in, func() {}, nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		resp, err := http.Get(src)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, nil, fmt.Errorf("import %s: %s", src, resp.Status)
		}
		return resp.Body, func() { resp.Body.Close() }, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
