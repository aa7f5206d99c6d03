package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/engine"
)

func newCpCommand(a *app) *cobra.Command {
	var opts engine.CopyOptions
	var quiet bool
	cmd := &cobra.Command{
		Use: `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
	berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Args:                  cobra.ExactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				// As Docker: no summary unless someone is watching.
				quiet = !isTerminal(a.out)
			}
			srcCtr, srcPath := splitCpArg(args[0])
			dstCtr, dstPath := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr == "" && dstCtr == "":
				return errors.New("must specify at least one container source")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			if srcCtr != "" {
				c, err := e.Lookup(srcCtr)
				if err != nil {
					return err
				}
				stats, err := e.CopyFromContainer(cmd.Context(), c, srcPath, dstPath, a.out, opts)
				if err != nil {
					return err
				}
				if !quiet && dstPath != "-" {
					fmt.Fprint(a.err, copySummary(stats, localPath(dstPath)))
				}
				return nil
			}
			c, err := e.Lookup(dstCtr)
			if err != nil {
				return err
			}
			stats, err := e.CopyToContainer(cmd.Context(), c, srcPath, a.in, dstPath, opts)
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprint(a.err, copySummary(stats, dstCtr+":"+dstPath))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.FollowLink, "follow-link", "L", false, "Always follow symlinks in SRC_PATH")
	f.BoolVarP(&opts.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH, as Docker does: a path that is
// absolute, or starts with ".", is local even with a colon in it
// (./file:name.txt).
func splitCpArg(arg string) (container, path string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// localPath is p made absolute as Docker shows it, with the trailing
// "/" or "/." that p had.
func localPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	switch {
	case p == "." || strings.HasSuffix(p, "/."):
		if abs != "/" {
			return abs + "/."
		}
		return "/."
	case strings.HasSuffix(p, "/") && abs != "/":
		return abs + "/"
	}
	return abs
}

// copySummary is Docker's last line of a copy.
func copySummary(s engine.CopyStats, dest string) string {
	if s.Size != s.Transferred {
		return fmt.Sprintf("Successfully copied %s (transferred %s) to %s\n", humanSize(s.Size), humanSize(s.Transferred), dest)
	}
	return fmt.Sprintf("Successfully copied %s to %s\n", humanSize(s.Size), dest)
}
