package cli

import (
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/metadata"
)

func newUpdateCommand(a *app) *cobra.Command {
	var (
		memory, memorySwap, memoryReservation, cpusetCpus, restart string
		cpus                                                       float64
		cpuShares, pidsLimit                                       int64
	)
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var o engine.UpdateOptions
			changed := false
			for _, name := range []string{"memory", "memory-swap", "memory-reservation", "cpus", "cpu-shares", "cpuset-cpus", "pids-limit", "restart"} {
				changed = changed || fl.Changed(name)
			}
			if !changed {
				return errdefs.Invalidf("you must provide one or more flags when using this command")
			}
			var err error
			for _, s := range []struct {
				flag, value string
				dst         *int64
			}{{"--memory", memory, &o.Memory}, {"--memory-swap", memorySwap, &o.MemorySwap},
				{"--memory-reservation", memoryReservation, &o.MemoryReservation}} {
				if s.value == "" {
					continue
				}
				*s.dst, err = ParseBytes(s.value)
				if err != nil || *s.dst == 0 || (*s.dst < 0 && s.flag != "--memory-swap") {
					return errdefs.Invalidf("%s %q: want a size such as 64m", s.flag, s.value)
				}
			}
			if fl.Changed("cpus") {
				if cpus <= 0 || math.IsNaN(cpus) || math.IsInf(cpus, 0) {
					return errdefs.Invalidf("--cpus %v: want a number above 0", cpus)
				}
				o.NanoCPUs = int64(math.Round(cpus * 1e9))
			}
			if fl.Changed("cpu-shares") {
				if cpuShares < 2 {
					return errdefs.Invalidf("--cpu-shares %d: want at least 2", cpuShares)
				}
				o.CPUShares = cpuShares
			}
			if fl.Changed("cpuset-cpus") && cpusetCpus == "" {
				return errdefs.Invalidf("--cpuset-cpus \"\": want CPUs such as 0-3 or 0,1")
			}
			o.CpusetCpus = cpusetCpus
			if fl.Changed("pids-limit") {
				if pidsLimit == 0 || pidsLimit < -1 {
					return errdefs.Invalidf("--pids-limit %d: want a limit above 0, or -1 for none", pidsLimit)
				}
				o.PidsLimit = pidsLimit
			}
			if fl.Changed("restart") {
				if restart == "" {
					return errdefs.Invalidf("--restart \"\": want no, on-failure[:N], always or unless-stopped")
				}
				if _, err := engine.ParseRestart(restart); err != nil {
					return err
				}
				o.Restart = restart
			}
			var warnings []string
			err = a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error {
				w, err := e.Update(c, o)
				warnings = append(warnings, w...)
				return err
			})
			// Warnings go to stderr, so that stdout is only the names of
			// the containers updated.
			for _, w := range warnings {
				fmt.Fprintln(a.err, "WARNING:", w)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&memory, "memory", "m", "", "memory limit (such as 64m, 1g)")
	f.StringVar(&memorySwap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap")
	f.StringVar(&memoryReservation, "memory-reservation", "", "memory soft limit")
	f.Float64Var(&cpus, "cpus", 0, "number of CPUs (such as 1.5)")
	f.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "limit on the number of processes (-1 for unlimited)")
	f.StringVar(&restart, "restart", "", "restart policy to apply when the container exits: no, on-failure[:N], always, unless-stopped")
	return cmd
}
