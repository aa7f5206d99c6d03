package cli

import (
	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/metadata"
)

func newAttachCommand(a *app) *cobra.Command {
	var opts engine.AttachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			res, err := e.Attach(c, a.attachStdio(!opts.NoStdin), opts)
			return attachEnd(res, err)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.DetachKeys, "detach-keys", "", "override the key sequence for detaching a container (default ctrl-p,ctrl-q)")
	fl.BoolVar(&opts.NoStdin, "no-stdin", false, "do not attach STDIN")
	fl.BoolVar(&opts.SigProxy, "sig-proxy", true, "proxy all received signals to the process")
	return cmd
}

// attachStdio is the command's own stdio, stdin only when asked for.
func (a *app) attachStdio(stdin bool) engine.AttachStdio {
	s := engine.AttachStdio{Out: a.out, Err: a.err}
	if stdin && a.in != nil {
		s.In = a.in
	}
	return s
}

// startAttached starts c under its monitor and attaches to it (run -i or
// -t, start -a), and exits as the container does; after a detach, with
// 0 and nothing printed, as Docker does.
func (a *app) startAttached(e *engine.Engine, c *metadata.Container, stdin bool, opts engine.AttachOptions) error {
	opts.CloseStdin = stdin
	res, err := e.StartAttached(c, a.attachStdio(stdin), opts)
	if err != nil {
		return ownError(err)
	}
	return attachEnd(res, nil)
}

// attachEnd turns how an attachment ended into the command's exit.
func attachEnd(res engine.AttachResult, err error) error {
	switch {
	case err != nil:
		return err
	case res.Detached:
		return nil
	case res.ExitCode != 0:
		return &ExitError{Code: res.ExitCode}
	}
	return nil
}
