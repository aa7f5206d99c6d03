package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/reference"
	"berth/internal/registry"
	"berth/internal/runcli"
)

// DefaultRegistriesConfig is berth's registry configuration file: mirrors,
// insecure hosts and CAs per registry. BERTH_REGISTRIES_CONFIG overrides it.
const DefaultRegistriesConfig = "/etc/berth/registries.json"

// registryClient makes a client with berth's registry configuration.
func (a *app) registryClient(opts ...registry.Option) (*registry.Client, error) {
	cfg, err := registry.LoadConfig(envOr("BERTH_REGISTRIES_CONFIG", DefaultRegistriesConfig))
	if err != nil {
		return nil, err
	}
	return registry.NewClient(cfg, append([]registry.Option{registry.WithVersion(runcli.Version)}, opts...)...), nil
}

func newPullCommand(a *app) *cobra.Command {
	var (
		quiet   bool
		platfrm string
	)
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := reference.Parse(args[0])
			if err != nil {
				return err
			}
			if ref.Tag() == "" && ref.Digest() == "" {
				if ref, err = ref.WithTag("latest"); err != nil {
					return err
				}
			}
			_, err = a.pull(cmd, ref, platfrm, quiet)
			return err
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	cmd.Flags().StringVar(&platfrm, "platform", "", "pull the image for this platform (os/arch[/variant]) from an index")
	return cmd
}

// pull pulls ref with Docker's output, for pull and for run's --pull.
func (a *app) pull(cmd *cobra.Command, ref reference.Ref, platfrm string, quiet bool) (*image.PullResult, error) {
	var opts []registry.Option
	if platfrm != "" {
		p, err := image.ParsePlatform(platfrm)
		if err != nil {
			return nil, err
		}
		opts = append(opts, registry.WithPlatform(*p))
	}
	st, err := a.images()
	if err != nil {
		return nil, err
	}
	c, err := a.registryClient(opts...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if !quiet {
		what := ref.Tag()
		if ref.Digest() != "" {
			what = ref.Digest().String()
		}
		fmt.Fprintf(a.out, "%s: Pulling from %s\n", what, ref.Path())
	}
	prog, wait := newProgress(a, quiet)
	res, err := st.Pull(cmd.Context(), c, ref, nil, prog)
	wait()
	if err != nil {
		return nil, err
	}
	if quiet {
		fmt.Fprintln(a.out, ref.String())
		return res, nil
	}
	fmt.Fprintf(a.out, "Digest: %s\n", res.Digest)
	if res.UpToDate {
		fmt.Fprintf(a.out, "Status: Image is up to date for %s\n", ref.Familiar())
	} else {
		fmt.Fprintf(a.out, "Status: Downloaded newer image for %s\n", ref.Familiar())
	}
	fmt.Fprintln(a.out, ref.String())
	return res, nil
}

func newPushCommand(a *app) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := reference.Parse(args[0])
			if err != nil {
				return err
			}
			if ref.Digest() != "" {
				return errdefs.Invalidf("push %s: push a name with a tag, not a digest", args[0])
			}
			if ref.Tag() == "" {
				if ref, err = ref.WithTag("latest"); err != nil {
					return err
				}
			}
			st, err := a.images()
			if err != nil {
				return err
			}
			c, err := a.registryClient()
			if err != nil {
				return err
			}
			defer c.Close()
			if !quiet {
				fmt.Fprintf(a.out, "The push refers to repository [%s]\n", ref.Name().Familiar())
			}
			var prog registry.Progress
			if !quiet {
				prog = pushLines(a.out)
			}
			d, err := st.Push(cmd.Context(), c, ref, prog)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(a.out, ref.String())
				return nil
			}
			img, err := st.Lookup(ref.String())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s: digest: %s size: %d\n", ref.Tag(), d, img.Manifest.Size)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

// pushLines prints a line per blob as Docker does: Pushed, Layer already
// exists, Mounted from.
func pushLines(w io.Writer) registry.Progress {
	var mu sync.Mutex
	return func(u registry.Update) {
		var msg string
		switch u.State {
		case registry.Complete:
			msg = "Pushed"
		case registry.Exists:
			msg = "Layer already exists"
		case registry.Mounted:
			msg = "Mounted"
		default:
			return
		}
		mu.Lock()
		fmt.Fprintf(w, "%s: %s\n", image.ShortID(u.Descriptor.Digest), msg)
		mu.Unlock()
	}
}

func newImageCopyCommand(a *app) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "copy [OPTIONS] SOURCE DESTINATION",
		Short: "Copy an image (or all its platforms) from one registry to another, without unpacking it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var refs [2]reference.Ref
			for i, s := range args {
				ref, err := reference.Parse(s)
				if err != nil {
					return err
				}
				if ref.Tag() == "" && ref.Digest() == "" {
					ref, _ = ref.WithTag("latest")
				}
				refs[i] = ref
			}
			c, err := a.registryClient()
			if err != nil {
				return err
			}
			defer c.Close()
			var prog registry.Progress
			if !quiet {
				prog = pushLines(a.out)
			}
			d, err := c.Copy(cmd.Context(), refs[0], refs[1], registry.CopyOptions{Progress: prog})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s@%s\n", refs[1].Repository(), d)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print the copied digest")
	return cmd
}

func newLoginCommand(a *app) *cobra.Command {
	var (
		user, password string
		passwordStdin  bool
	)
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (Docker Hub when no server is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := "docker.io"
			if len(args) == 1 {
				host = args[0]
			}
			if passwordStdin {
				if password != "" {
					return errdefs.Invalidf("--password and --password-stdin are mutually exclusive")
				}
				if user == "" {
					return errdefs.Invalidf("--password-stdin needs --username")
				}
				b, err := io.ReadAll(a.in)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" {
				u, err := prompt(a, "Username: ", false)
				if err != nil {
					return err
				}
				user = u
			}
			if password == "" {
				p, err := prompt(a, "Password: ", true)
				if err != nil {
					return err
				}
				password = p
			}
			c, err := a.registryClient()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Login(cmd.Context(), host, user, password); err != nil {
				return err
			}
			fmt.Fprintln(a.out, "Login Succeeded")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "username")
	f.StringVarP(&password, "password", "p", "", "password (prefer --password-stdin: a password on the command line is visible to other users)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from STDIN")
	return cmd
}

// prompt asks for a value on the terminal; a password is not echoed.
func prompt(a *app, label string, secret bool) (string, error) {
	f, ok := a.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errdefs.Invalidf("cannot ask for the %s: stdin is not a terminal; use --username and --password-stdin", strings.ToLower(strings.TrimSuffix(label, ": ")))
	}
	fmt.Fprint(a.err, label)
	if secret {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.err)
		return string(b), err
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line), err
}

func newLogoutCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry (Docker Hub when no server is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := "docker.io"
			if len(args) == 1 {
				host = args[0]
			}
			c, err := a.registryClient()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Logout(host); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "Removing login credentials for %s\n", registry.CanonicalHost(host))
			return nil
		},
	}
}
