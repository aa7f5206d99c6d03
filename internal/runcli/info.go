package runcli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"

	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/seccomp"
	"berth/internal/spec"
)

func psCmd(g *Globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [flags] ID [PS_OPTIONS...]",
		Short: "List the processes of a container (ps options default to -ef)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pids, err := g.runtime().Pids(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				fmt.Fprintf(out, "%s\n", b)
				return nil
			case "table":
				psArgs := args[1:]
				if len(psArgs) == 0 {
					psArgs = []string{"-ef"}
				}
				return psTable(out, psArgs, pids)
			}
			return errdefs.Invalidf("--format %q: want table or json", format)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

// psTable runs the host's ps and keeps the header and the container's rows.
func psTable(out io.Writer, psArgs []string, pids []int) error {
	raw, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	if !sc.Scan() {
		return nil
	}
	header := sc.Text()
	col := -1
	for i, f := range strings.Fields(header) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return errdefs.Invalidf("ps output has no PID column; include it in the ps options")
	}
	in := map[string]bool{}
	for _, p := range pids {
		in[strconv.Itoa(p)] = true
	}
	fmt.Fprintln(out, header)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if col < len(f) && in[f[col]] {
			fmt.Fprintln(out, sc.Text())
		}
	}
	return nil
}

func specCmd() *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Write a default config.json into the bundle directory",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return errdefs.Conflictf("%s already exists; remove it first", path)
			}
			s := spec.Default(rootless, uint32(os.Getuid()), uint32(os.Getgid()))
			b, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(b, '\n'), 0o666)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory to write config.json into")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "a config for running as an unprivileged user")
	return cmd
}

func eventsCmd(g *Globals) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [flags] ID",
		Short: "Print a container's resource statistics as JSON events",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt := g.runtime()
			enc := json.NewEncoder(cmd.OutOrStdout())
			for first := true; ; first = false {
				st, err := rt.Stats(args[0])
				if err != nil {
					if stats || first {
						return err
					}
					return nil // the container is gone: the stream ends
				}
				if err := enc.Encode(map[string]any{"type": "stats", "id": args[0], "data": st}); err != nil {
					return err
				}
				if stats {
					return nil
				}
				time.Sleep(interval)
			}
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between statistics events")
	return cmd
}

func featuresCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print what this runtime supports, as the runtime spec's features JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printJSON(cmd.OutOrStdout(), runtimeFeatures())
		},
	}
}

func runtimeFeatures() *features.Features {
	yes, no := true, false
	ns := []string{}
	for _, t := range []specs.LinuxNamespaceType{specs.CgroupNamespace, specs.IPCNamespace, specs.MountNamespace,
		specs.NetworkNamespace, specs.PIDNamespace, specs.TimeNamespace, specs.UserNamespace, specs.UTSNamespace} {
		ns = append(ns, string(t))
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: []string{"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
			"iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
			"nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
			"ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodev",
			"rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro",
			"rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
			"rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
			"symfollow", "sync", "unbindable"},
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: container.CapabilityNames(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp:      seccomp.Features(),
			Apparmor:     &features.Apparmor{Enabled: &yes},
			Selinux:      &features.Selinux{Enabled: &yes},
			IntelRdt:     &features.IntelRdt{Enabled: &no},
		},
		Annotations: map[string]string{"org.opencontainers.runtime-spec.features.runtime": "berth"},
	}
}

type updateFlags struct {
	resources                          string
	memory, memoryReservation, memSwap string
	kernelMemory, kernelMemoryTCP      string
	cpuShares, cpuPeriod, cpuRtPeriod  uint64
	cpuQuota, cpuRtRuntime, pidsLimit  int64
	cpusetCpus, cpusetMems             string
	blkioWeight                        uint16
	l3CacheSchema, memBwSchema         string
}

func updateCmd(g *Globals) *cobra.Command {
	var u updateFlags
	cmd := &cobra.Command{
		Use:   "update [flags] ID",
		Short: "Change a running container's resource limits",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := u.build(cmd)
			if err != nil {
				return err
			}
			return g.runtime().Update(args[0], res)
		},
	}
	u.register(cmd)
	return cmd
}

func (u *updateFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&u.resources, "resources", "r", "", `path to a JSON file of linux.resources ("-" for stdin)`)
	f.StringVar(&u.memory, "memory", "", "memory limit (bytes, or with k, m, g suffix; -1 for none)")
	f.StringVar(&u.memoryReservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&u.memSwap, "memory-swap", "", "memory plus swap limit (-1 for unlimited)")
	f.StringVar(&u.kernelMemory, "kernel-memory", "", "accepted for runc compatibility; ignored by current kernels")
	f.StringVar(&u.kernelMemoryTCP, "kernel-memory-tcp", "", "accepted for runc compatibility; ignored")
	f.Uint64Var(&u.cpuShares, "cpu-share", 0, "CPU shares (relative weight)")
	f.Uint64Var(&u.cpuPeriod, "cpu-period", 0, "CPU CFS period in microseconds")
	f.Int64Var(&u.cpuQuota, "cpu-quota", 0, "CPU CFS quota in microseconds per period")
	f.Uint64Var(&u.cpuRtPeriod, "cpu-rt-period", 0, "CPU realtime period in microseconds")
	f.Int64Var(&u.cpuRtRuntime, "cpu-rt-runtime", 0, "CPU realtime runtime in microseconds")
	f.StringVar(&u.cpusetCpus, "cpuset-cpus", "", "CPUs the container may use (0-3, 0,1)")
	f.StringVar(&u.cpusetMems, "cpuset-mems", "", "memory nodes the container may use")
	f.Int64Var(&u.pidsLimit, "pids-limit", 0, "maximum number of processes (-1 or 0 for none)")
	f.Uint16Var(&u.blkioWeight, "blkio-weight", 0, "block IO weight, 10 to 1000")
	f.StringVar(&u.l3CacheSchema, "l3-cache-schema", "", "Intel RDT (not supported)")
	f.StringVar(&u.memBwSchema, "mem-bw-schema", "", "Intel RDT (not supported)")
}

func (u *updateFlags) build(cmd *cobra.Command) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	if u.resources != "" {
		var r io.Reader = os.Stdin
		if u.resources != "-" {
			f, err := os.Open(u.resources)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			r = f
		}
		if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(res); err != nil {
			return nil, errdefs.Invalidf("--resources: %v", err)
		}
	}
	if u.l3CacheSchema != "" || u.memBwSchema != "" {
		return nil, errdefs.Unsupportedf("Intel RDT is not supported")
	}
	changed := cmd.Flags().Changed
	mem := func(flag, val string, dst **int64) error {
		if !changed(flag) {
			return nil
		}
		n, err := ParseBytes(val)
		if err != nil {
			return errdefs.Invalidf("--%s: %v", flag, err)
		}
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		*dst = &n
		return nil
	}
	if res.Memory == nil && (changed("memory") || changed("memory-reservation") || changed("memory-swap")) {
		res.Memory = &specs.LinuxMemory{}
	}
	if res.Memory != nil {
		if err := mem("memory", u.memory, &res.Memory.Limit); err != nil {
			return nil, err
		}
		if err := mem("memory-reservation", u.memoryReservation, &res.Memory.Reservation); err != nil {
			return nil, err
		}
		if err := mem("memory-swap", u.memSwap, &res.Memory.Swap); err != nil {
			return nil, err
		}
	}
	cpu := func() *specs.LinuxCPU {
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		return res.CPU
	}
	if changed("cpu-share") {
		cpu().Shares = &u.cpuShares
	}
	if changed("cpu-period") {
		cpu().Period = &u.cpuPeriod
	}
	if changed("cpu-quota") {
		cpu().Quota = &u.cpuQuota
	}
	if changed("cpu-rt-period") {
		cpu().RealtimePeriod = &u.cpuRtPeriod
	}
	if changed("cpu-rt-runtime") {
		cpu().RealtimeRuntime = &u.cpuRtRuntime
	}
	if changed("cpuset-cpus") {
		cpu().Cpus = u.cpusetCpus
	}
	if changed("cpuset-mems") {
		cpu().Mems = u.cpusetMems
	}
	if changed("pids-limit") {
		res.Pids = &specs.LinuxPids{Limit: &u.pidsLimit}
	}
	if changed("blkio-weight") {
		if u.blkioWeight < 10 || u.blkioWeight > 1000 {
			return nil, errdefs.Invalidf("--blkio-weight %d: want 10 to 1000", u.blkioWeight)
		}
		res.BlockIO = &specs.LinuxBlockIO{Weight: &u.blkioWeight}
	}
	return res, nil
}

// ParseBytes reads sizes as runc and Docker do: plain bytes, or a number
// with a binary suffix (b, k, m, g, t, with an optional trailing "b");
// -1 means unlimited.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	t := strings.TrimSuffix(s, "b")
	if t != s && t == "" {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	for suffix, m := range map[string]int64{"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40} {
		if strings.HasSuffix(t, suffix) {
			mult, t = m, strings.TrimSuffix(t, suffix)
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}
