package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"berth/internal/container"
	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/reference"
	"berth/internal/volume"
)

// addContainerCommands adds the container commands at the top level, as
// Docker has them, and under `container`.
func addContainerCommands(root *cobra.Command, a *app) {
	ctr := &cobra.Command{Use: "container", Short: "Manage containers"}
	for _, mk := range []func(*app) *cobra.Command{
		newRunCommand, newCreateCommand, newStartCommand, newPsCommand, newStopCommand,
		newKillCommand, newRmCommand, newExecCommand, newLogsCommand, newWaitCommand, newRenameCommand,
		newTopCommand, func(a *app) *cobra.Command { return newPauseCommand(a, true) },
		func(a *app) *cobra.Command { return newPauseCommand(a, false) },
		newUpdateCommand, newStatsCommand, newAttachCommand,
		newCpCommand, newDiffCommand, newCommitCommand, newExportCommand, newPortCommand,
	} {
		root.AddCommand(mk(a))
		sub := mk(a)
		switch sub.Name() {
		case "ps":
			sub.Use = "ls [OPTIONS]"
			sub.Aliases = []string{"list", "ps"}
		case "rm":
			sub.Aliases = []string{"remove"}
		}
		ctr.AddCommand(sub)
	}
	ctr.AddCommand(newContainerInspectCommand(a), newContainerPruneCommand(a), newRestoreCommand(a), newTrashCommand(a))
	system := &cobra.Command{Use: "system", Short: "Manage berth"}
	system.AddCommand(newEventsCommand(a), newDfCommand(a), newSystemPruneCommand(a))
	root.AddCommand(ctr, newRestartCommand(a), newBootCommand(a), newEventsCommand(a), system)
	root.AddCommand(monitorCommands(a)...)
}

// monitorCommands are the hidden commands a detached container's monitor
// runs: `__start ID` creates and starts the container on the monitor's
// pipes and reports its pid on fd 3; `__cleanup ID` records its end;
// `__health ID` runs its health check once.
func monitorCommands(a *app) []*cobra.Command {
	start := &cobra.Command{
		Use: "__start ID", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			report := os.NewFile(3, "report")
			if err := e.StartChild(args[0], report); err != nil {
				fmt.Fprintf(report, "%v\n", err)
				return err
			}
			return nil
		},
	}
	cleanup := &cobra.Command{
		Use: "__cleanup ID", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Cleanup(args[0])
		},
	}
	health := &cobra.Command{
		Use: "__health ID", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.CheckHealth(args[0])
		},
	}
	return []*cobra.Command{start, cleanup, health}
}

func newRestartCommand(a *app) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := givenInt(cmd, "time", &timeout)
			return a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error {
				if err := e.Stop(c, t); err != nil {
					return err
				}
				c, err := e.Lookup(c.ID)
				if err != nil {
					return err
				}
				return e.StartDetached(c)
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for the container to stop before killing it")
	return cmd
}

// exitCoded is an error with the exit code Docker gives it: 125 for
// berth's own failure in run, create or start, 126 or 127 when the
// container's command cannot run.
type exitCoded struct {
	code int
	err  error
}

func (e *exitCoded) Error() string { return e.err.Error() }
func (e *exitCoded) Unwrap() error { return e.err }

// ownError marks err as berth's own (exit 125), unless it is the
// container's failure to run its command (126, 127).
func ownError(err error) error {
	if err == nil {
		return nil
	}
	var ie *container.InitError
	if errors.As(err, &ie) && ie.ExitCode != 0 {
		return &exitCoded{code: ie.ExitCode, err: err}
	}
	return &exitCoded{code: 125, err: err}
}

// runFlags are the flags run and create share.
type runFlags struct {
	name, workdir, user, hostname, entrypoint string
	env, envFiles, labels                     []string
	tty, interactive, rm, readOnly            bool
	pull, platform, stopSignal, restart       string
	stopTimeout                               int
	network, ip, ip6, macAddress              string
	networkAliases                            []string
	memory, memorySwap, cpusetCpus            string
	memoryReservation, userns                 string
	cpus                                      float64
	cpuShares, pidsLimit                      int64
	shmSize                                   string
	privileged, init                          bool
	capAdd, capDrop, securityOpt              []string
	devices, deviceCgroupRules                []string
	ulimits, tmpfs, addHosts                  []string
	cidfile                                   string
	volumes, mounts, publish, expose          []string
	volumesFrom                               []string
	publishAll                                bool
	dns, dnsSearch, dnsOptions, dnsOpt        []string
	health                                    healthFlags
}

func (f *runFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.SetInterspersed(false) // flags after the image belong to the command
	fl.StringVar(&f.name, "name", "", "assign a name to the container")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "user name or uid, with an optional group: name|uid[:group|gid]")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the image's entrypoint")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (VAR=value, or VAR to pass berth's own)")
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "set a label (KEY=VALUE)")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a terminal")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem read-only")
	fl.StringVar(&f.pull, "pull", "missing", "pull the image before running: always, missing or never")
	fl.StringVar(&f.platform, "platform", "", "platform of the image to pull (os/arch[/variant])")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container (default SIGTERM)")
	fl.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	fl.IntVar(&f.stopTimeout, "stop-timeout", -1, "seconds to wait for the container to stop before killing it (default 10)")
	fl.StringVar(&f.network, "network", "", "connect the container to a network: bridge (the default), none, host, container:NAME, or a network's name or ID")
	fl.StringVar(&f.network, "net", "", "same as --network")
	fl.MarkHidden("net")
	fl.StringArrayVar(&f.networkAliases, "network-alias", nil, "a name the container answers to on its user-defined network")
	fl.StringArrayVar(&f.networkAliases, "net-alias", nil, "same as --network-alias")
	fl.MarkHidden("net-alias")
	fl.StringVar(&f.ip, "ip", "", "the container's IPv4 address on its user-defined network")
	fl.StringVar(&f.ip6, "ip6", "", "the container's IPv6 address on its user-defined network")
	fl.StringVar(&f.macAddress, "mac-address", "", "the container's MAC address (such as 02:42:0a:d9:00:05)")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (such as 64m, 1g)")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit, kept under pressure (below --memory)")
	fl.StringVar(&f.userns, "userns", "", "user namespace mode: host (the only one until user namespaces come)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap (default: twice --memory)")
	fl.Float64Var(&f.cpus, "cpus", 0, "number of CPUs (such as 1.5)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "limit on the number of processes (-1 for unlimited)")
	fl.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	fl.BoolVar(&f.privileged, "privileged", false, "give the container every capability and host device, without seccomp or masked paths")
	fl.StringArrayVar(&f.capAdd, "cap-add", nil, "add a Linux capability (NET_ADMIN, or ALL)")
	fl.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop a Linux capability (CHOWN, or ALL)")
	fl.StringArrayVar(&f.securityOpt, "security-opt", nil, "security option: no-new-privileges[=true|false], seccomp=unconfined, seccomp=PROFILE.json, label=..., apparmor=...")
	fl.StringArrayVar(&f.devices, "device", nil, "add a host device: HOST[:CONTAINER][:PERMS]")
	fl.StringArrayVar(&f.deviceCgroupRules, "device-cgroup-rule", nil, "allow devices in the device cgroup ('c 1:3 rwm')")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "resource limit: NAME=SOFT[:HARD] (nofile=1024:2048)")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: PATH[:OPTIONS]")
	fl.BoolVar(&f.init, "init", false, "run an init as PID 1 that forwards signals and reaps zombies")
	fl.StringArrayVar(&f.addHosts, "add-host", nil, "add a line to /etc/hosts: NAME:IP (IP host-gateway: the host)")
	fl.StringVar(&f.cidfile, "cidfile", "", "write the container ID to the file, which must not exist")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "mount a volume or a host path: [NAME:|/HOST:]/CONTAINER[:ro|rw,nocopy,U,z,Z,PROPAGATION] (see docs/VOLUMES.md)")
	fl.StringArrayVar(&f.mounts, "mount", nil, "mount: type=volume|bind|tmpfs,source=NAME|/HOST,target=/CONTAINER[,readonly,volume-nocopy,bind-propagation=P,tmpfs-size=N,tmpfs-mode=M]")
	fl.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "mount the volumes and binds of a container: CONTAINER[:ro|rw]")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port(s) to the host: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], ports may be ranges")
	fl.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish every exposed port (the image's and --expose's) to a free host port")
	fl.StringArrayVar(&f.expose, "expose", nil, "expose a port or a range of ports: PORT[-PORT][/PROTO]")
	fl.StringArrayVar(&f.dns, "dns", nil, "a DNS server for the container's /etc/resolv.conf")
	fl.StringArrayVar(&f.dnsSearch, "dns-search", nil, "a DNS search domain")
	fl.StringArrayVar(&f.dnsOptions, "dns-option", nil, "a DNS resolver option")
	fl.StringArrayVar(&f.dnsOpt, "dns-opt", nil, "same as --dns-option")
	fl.MarkHidden("dns-opt")
	f.health.add(fl)
	// -h is --hostname here, as in Docker; --help keeps no shorthand.
	fl.Bool("help", false, "print usage")
}

// options checks the flags and makes the engine's create options;
// nothing is created when one is wrong.
func (f *runFlags) options(cmd *cobra.Command, a *app, args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{Image: args[0], Args: args[1:], Name: f.name, WorkingDir: f.workdir,
		User: f.user, Hostname: f.hostname, Labels: map[string]string{}}
	if cmd.Flags().Changed("entrypoint") {
		o.Entrypoint = []string{f.entrypoint}
	}
	for _, file := range f.envFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			return o, errdefs.Invalidf("--env-file: %v", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				o.Env = append(o.Env, line)
			}
		}
	}
	o.Env = append(o.Env, f.env...)
	for _, kv := range o.Env {
		if strings.HasPrefix(kv, "=") {
			return o, errdefs.Invalidf("--env %q: the variable has no name", kv)
		}
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return o, errdefs.Invalidf("--label %q: the label has no key", l)
		}
		o.Labels[k] = v
	}
	switch f.pull {
	case "always", "missing", "never":
	default:
		return o, errdefs.Invalidf("--pull %q: want always, missing or never", f.pull)
	}
	o.Network = engine.NetworkRequest{Network: f.network, Aliases: f.networkAliases, IPv4: f.ip, IPv6: f.ip6,
		MAC: f.macAddress, HostnameGiven: f.hostname != "", DNSGiven: len(f.dns) > 0,
		ExtraHostsGiven: len(f.addHosts) > 0, PublishRequested: len(f.publish) > 0 || f.publishAll}
	if f.network == "host" && len(f.publish) > 0 {
		fmt.Fprintln(a.err, "WARNING: Published ports are discarded when using host network mode")
	}
	if f.userns != "" && f.userns != "host" {
		return o, errdefs.Unsupportedf("--userns %q: containers share the host's user namespace until berth has user namespaces; only \"host\" is accepted", f.userns)
	}
	if f.stopSignal != "" {
		if _, err := ParseSignal(f.stopSignal); err != nil {
			return o, errdefs.Invalidf("--stop-signal: %v", err)
		}
	}
	if _, err := engine.ParseRestart(f.restart); err != nil {
		return o, err
	}
	o.Config = engine.Config{Tty: f.tty, OpenStdin: f.interactive, AutoRemove: f.rm, ReadOnly: f.readOnly,
		StopSignal: f.stopSignal, Restart: f.restart}
	res, err := f.resources(cmd)
	if err != nil {
		return o, err
	}
	o.Config.Resources = res
	if f.shmSize != "" {
		n, err := ParseBytes(f.shmSize)
		if err != nil || n <= 0 {
			return o, errdefs.Invalidf("--shm-size %q: want a size such as 64m", f.shmSize)
		}
		o.Config.ShmSize = n
	}
	if f.stopTimeout >= 0 {
		t := f.stopTimeout
		o.Config.StopTimeout = &t
	}
	if o.Config.Healthcheck, err = f.health.config(); err != nil {
		return o, err
	}
	if o.Config.HostOptions, err = f.hostOptions(); err != nil {
		return o, err
	}
	if err := f.storage(&o.Config); err != nil {
		return o, err
	}
	if slices.ContainsFunc(o.Config.Binds, func(m engine.Bind) bool { return m.Relabel }) {
		fmt.Fprintln(a.err, "WARNING: :z and :Z ask for SELinux relabelling, which berth does not do; they are ignored")
	}
	e, err := a.engine()
	if err != nil {
		return o, err
	}
	warnings, err := e.CheckHostOptions(&o.Config.HostOptions)
	if err != nil {
		return o, err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.err, "WARNING: %s\n", w)
	}
	o.Found, err = a.ensureImage(cmd, f.pull, f.platform, args[0])
	return o, err
}

// hostOptions reads the flags that shape the container's spec beyond its
// process and limits: privileges, devices, rlimits, tmpfs mounts, the
// init and /etc/hosts entries.
func (f *runFlags) hostOptions() (engine.HostOptions, error) {
	h := engine.HostOptions{Privileged: f.privileged, Init: f.init,
		DeviceCgroupRules: f.deviceCgroupRules, ContainerIDFile: f.cidfile}
	var err error
	if h.CapAdd, err = engine.NormalizeCapabilities("cap-add", f.capAdd); err != nil {
		return h, err
	}
	if h.CapDrop, err = engine.NormalizeCapabilities("cap-drop", f.capDrop); err != nil {
		return h, err
	}
	for _, o := range f.securityOpt {
		o, err := readSeccompProfile(o)
		if err != nil {
			return h, err
		}
		h.SecurityOpt = append(h.SecurityOpt, o)
	}
	for _, r := range f.deviceCgroupRules {
		if _, err := engine.ParseDeviceCgroupRule(r); err != nil {
			return h, err
		}
	}
	for _, s := range f.devices {
		d, err := engine.ParseDevice(s)
		if err != nil {
			return h, err
		}
		h.Devices = append(h.Devices, d)
	}
	for _, s := range f.ulimits {
		u, err := engine.ParseUlimit(s)
		if err != nil {
			return h, err
		}
		// A name given twice takes the last limit, as in Docker.
		h.Ulimits = slices.DeleteFunc(h.Ulimits, func(o engine.Ulimit) bool { return o.Name == u.Name })
		h.Ulimits = append(h.Ulimits, u)
	}
	for _, s := range f.tmpfs {
		dest, opts, err := engine.ParseTmpfs(s)
		if err != nil {
			return h, err
		}
		if h.Tmpfs == nil {
			h.Tmpfs = map[string]string{}
		}
		h.Tmpfs[dest] = opts
	}
	for _, s := range f.addHosts {
		x, err := engine.ParseAddHost(s)
		if err != nil {
			return h, err
		}
		h.ExtraHosts = append(h.ExtraHosts, x)
	}
	return h, nil
}

// readSeccompProfile puts the contents of the file that
// --security-opt seccomp=PROFILE.json names in place of its name, as
// Docker's CLI does: the container keeps the profile it was created
// with, whatever becomes of the file.
func readSeccompProfile(opt string) (string, error) {
	k, v, ok := strings.Cut(opt, "=")
	if !ok {
		k, v, ok = strings.Cut(opt, ":") // Docker's older separator
	}
	if !ok || k != "seccomp" || v == "unconfined" || v == "builtin" || v == "" {
		return opt, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return "", errdefs.Invalidf("--security-opt %s: %v", opt, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return "", errdefs.Invalidf("--security-opt %s: the profile is not JSON: %v", opt, err)
	}
	return "seccomp=" + compact.String(), nil
}

// create creates the container and writes its ID to --cidfile. The file
// is made first, and must not exist, as Docker requires, so that two
// runs cannot both claim it; it is removed again when no container was
// made.
func (f *runFlags) create(e *engine.Engine, o engine.CreateOptions) (*metadata.Container, error) {
	if f.cidfile == "" {
		return e.Create(o)
	}
	file, err := os.OpenFile(f.cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, errdefs.Conflictf("--cidfile: container ID file found, make sure the other container isn't running or delete %s", f.cidfile)
	}
	if err != nil {
		return nil, errdefs.Invalidf("--cidfile: %v", err)
	}
	c, err := e.Create(o)
	if err == nil {
		_, err = file.WriteString(c.ID)
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if c == nil {
		os.Remove(f.cidfile)
	}
	return c, err
}

// prepare reads the flags into the container's options and opens the
// engine, as create and run both begin.
func (f *runFlags) prepare(cmd *cobra.Command, a *app, args []string) (*engine.Engine, engine.CreateOptions, error) {
	o, err := f.options(cmd, a, args)
	if err != nil {
		return nil, o, err
	}
	e, err := a.engine()
	return e, o, err
}

// ensureImage pulls image name as pull (always, missing or never) says,
// and returns it when it was there already.
func (a *app) ensureImage(cmd *cobra.Command, pull, platform, name string) (*metadata.Image, error) {
	st, err := a.images()
	if err != nil {
		return nil, err
	}
	img, lookErr := st.Lookup(name)
	if pull == "never" || (pull == "missing" && lookErr == nil) {
		return img, lookErr
	}
	ref, err := reference.Parse(name)
	if err != nil {
		return nil, err
	}
	if ref.Tag() == "" && ref.Digest() == "" {
		ref, _ = ref.WithTag("latest")
	}
	if lookErr != nil {
		fmt.Fprintf(a.err, "Unable to find image '%s' locally\n", ref.Familiar())
	}
	saved := a.out
	a.out = a.err // pull's progress goes to stderr, as Docker's does in run
	defer func() { a.out = saved }()
	_, err = a.pull(cmd, ref, platform, false)
	return nil, err
}

func newCreateCommand(a *app) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, o, err := f.prepare(cmd, a, args)
			if err != nil {
				return ownError(err)
			}
			c, err := f.create(e, o)
			if err != nil {
				return ownError(err)
			}
			fmt.Fprintln(a.out, c.ID)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newRunCommand(a *app) *cobra.Command {
	var f runFlags
	var detach bool
	var attach engine.AttachOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, o, err := f.prepare(cmd, a, args)
			if err != nil {
				return ownError(err)
			}
			if detach && f.rm && o.Config.Restart != "" && o.Config.Restart != "no" {
				return ownError(errdefs.Invalidf("conflicting options: --restart and --rm"))
			}
			// Under a monitor, attached: detach keys work, the output
			// is logged, and with --sig-proxy=false a signal that
			// ends berth leaves the container running.
			monitored := !detach && (f.tty || f.interactive || !attach.SigProxy)
			foreground := !detach && !monitored
			o.Starting = foreground
			c, err := f.create(e, o)
			if err != nil {
				return ownError(err)
			}
			if monitored {
				return a.startAttached(e, c, f.interactive, attach)
			}
			if foreground {
				return a.runAttached(e, c, f.interactive)
			}
			if err := e.StartDetached(c); err != nil {
				if rc, lerr := e.Lookup(c.ID); lerr == nil && o.Config.AutoRemove {
					e.Remove(rc, engine.RemoveOptions{Force: true})
				}
				return ownError(err)
			}
			fmt.Fprintln(a.out, c.ID)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its ID")
	cmd.Flags().StringVar(&attach.DetachKeys, "detach-keys", "", "override the key sequence for detaching a container (default ctrl-p,ctrl-q)")
	cmd.Flags().BoolVar(&attach.SigProxy, "sig-proxy", true, "proxy received signals to the process (without a terminal)")
	return cmd
}

// runAttached runs c in the foreground and exits with its code.
func (a *app) runAttached(e *engine.Engine, c *metadata.Container, interactive bool) error {
	stdio := engine.Stdio{Out: os.Stdout, Err: os.Stderr}
	if f, ok := a.out.(*os.File); ok {
		stdio.Out = f
	}
	if f, ok := a.err.(*os.File); ok {
		stdio.Err = f
	}
	if interactive {
		stdio.In = os.Stdin
	}
	code, err := e.RunAttached(c, stdio)
	cfg := e.ConfigOf(c)
	if cfg != nil && cfg.AutoRemove {
		if rc, lerr := e.Lookup(c.ID); lerr == nil {
			e.Remove(rc, engine.RemoveOptions{Force: true})
		}
	}
	if err != nil {
		return ownError(err)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

func newStartCommand(a *app) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if !attach && !interactive {
				return a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error {
					return e.StartDetached(c)
				})
			}
			if len(args) != 1 {
				return errdefs.Invalidf("you cannot start and attach multiple containers at once")
			}
			c, err := e.Lookup(args[0])
			if err != nil {
				return err
			}
			return a.startAttached(e, c, interactive, engine.AttachOptions{DetachKeys: detachKeys, SigProxy: true})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach the container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container (default ctrl-p,ctrl-q)")
	return cmd
}

// container opens the engine and looks up the container arg names.
func (a *app) container(arg string) (*engine.Engine, *metadata.Container, error) {
	e, err := a.engine()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Lookup(arg)
	if err != nil {
		return nil, nil, err
	}
	return e, c, nil
}

// eachContainer runs fn for every named container, as eachArg does.
func (a *app) eachContainer(args []string, fn func(e *engine.Engine, c *metadata.Container) error) error {
	e, err := a.engine()
	if err != nil {
		return err
	}
	return eachArg(a.out, args, func(arg string) error {
		c, err := e.Lookup(arg)
		if err != nil {
			return err
		}
		return fn(e, c)
	})
}

func newStopCommand(a *app) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := givenInt(cmd, "time", &timeout)
			return a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error { return e.Stop(c, t) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

func newKillCommand(a *app) *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := ParseSignal(sig)
			if err != nil {
				return err
			}
			return a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error { return e.Kill(c, s) })
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send")
	return cmd
}

func newRmCommand(a *app) *cobra.Command {
	var force, purge, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error {
				return e.Remove(c, engine.RemoveOptions{Force: force, Purge: purge, Volumes: volumes})
			})
		},
	}
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the container's anonymous volumes too (named volumes stay)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container, then remove it")
	cmd.Flags().BoolVar(&purge, "purge", false, "free the container now instead of keeping it in the trash (see container restore)")
	return cmd
}

// resources turns the quota flags into OCI resources, with Docker's
// meanings (engine.Limits): sizes are read here, so that an error quotes
// what the user typed.
func (f *runFlags) resources(cmd *cobra.Command) (*specs.LinuxResources, error) {
	var l engine.Limits
	size := func(flag, s string, min int64, want string) (int64, error) {
		if s == "" {
			return 0, nil
		}
		n, err := ParseBytes(s)
		if err != nil || (n < min && n != -1) || n == 0 {
			return 0, errdefs.Invalidf("--%s %q: %s", flag, s, want)
		}
		return n, nil
	}
	var err error
	if l.Memory, err = size("memory", f.memory, 6<<20, "want a size of at least 6m, such as 64m"); err != nil {
		return nil, err
	}
	if l.Memory == -1 {
		return nil, errdefs.Invalidf("--memory %q: want a size of at least 6m, such as 64m", f.memory)
	}
	if l.MemorySwap, err = size("memory-swap", f.memorySwap, 0, "want -1 or a size no smaller than --memory"); err != nil {
		return nil, err
	}
	if l.MemorySwap != 0 && l.MemorySwap != -1 && l.MemorySwap < l.Memory {
		return nil, errdefs.Invalidf("--memory-swap %q: want -1 or a size no smaller than --memory", f.memorySwap)
	}
	if l.MemoryReservation, err = size("memory-reservation", f.memoryReservation, 1, "want a size such as 32m"); err != nil {
		return nil, err
	}
	if l.MemoryReservation == -1 {
		return nil, errdefs.Invalidf("--memory-reservation %q: want a size such as 32m", f.memoryReservation)
	}
	if l.Memory != 0 && l.MemoryReservation > l.Memory {
		return nil, errdefs.Invalidf("--memory-reservation %q: it must be below --memory", f.memoryReservation)
	}
	if cmd.Flags().Changed("cpus") {
		if f.cpus <= 0 {
			return nil, errdefs.Invalidf("--cpus %v: want a number above 0", f.cpus)
		}
		l.CPUs = f.cpus
	}
	l.CPUShares, l.CpusetCpus = f.cpuShares, f.cpusetCpus
	if cmd.Flags().Changed("pids-limit") {
		n := f.pidsLimit
		l.PidsLimit = &n
	}
	return l.Resources()
}

func newBootCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Start the containers whose restart policy is always or unless-stopped (run at host start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			names, err := e.Boot()
			for _, n := range names {
				fmt.Fprintln(a.out, n)
			}
			return err
		},
	}
}

// storage reads -v, --mount, -p, -P, --expose and the DNS flags.
func (f *runFlags) storage(cfg *engine.Config) error {
	for _, v := range f.volumes {
		b, err := engine.ParseVolume(v)
		if err != nil {
			return err
		}
		cfg.Binds = append(cfg.Binds, b)
	}
	for _, m := range f.mounts {
		b, err := engine.ParseMount(m)
		if err != nil {
			return err
		}
		cfg.Binds = append(cfg.Binds, b)
	}
	for _, v := range f.volumesFrom {
		if _, _, err := volume.ParseVolumesFrom(v); err != nil {
			return err
		}
	}
	cfg.VolumesFrom = f.volumesFrom
	if err := f.ports(&cfg.PortOptions); err != nil {
		return err
	}
	cfg.DNS, cfg.DNSSearch, cfg.DNSOptions = f.dns, f.dnsSearch, append(f.dnsOptions, f.dnsOpt...)
	return nil
}
