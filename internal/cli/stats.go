package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/metadata"
)

// statsRow is one line of stats, with the fields --format names. The
// fields are in alphabetical order, so that --format json prints them in
// the order Docker's does.
type statsRow struct {
	BlockIO, CPUPerc, Container, ID, MemPerc, MemUsage, Name, NetIO, PIDs string
}

var statsHeaders = map[string]string{
	"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// Stats are read every second while streaming, as Docker reads them. CPU %
// needs two readings; with --no-stream they are half a second apart, so
// that the one table comes quickly.
const (
	statsInterval         = time.Second
	statsNoStreamInterval = 500 * time.Millisecond
)

// statsTarget is one container that stats shows: key is the CONTAINER
// column (what the user named, or the short ID), c is nil when the name
// no longer finds it.
type statsTarget struct {
	key string
	c   *metadata.Container
}

func newStatsCommand(a *app) *cobra.Command {
	var (
		all, noStream, noTrunc bool
		format                 string
	)
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			// Containers named that do not exist are an error before
			// anything is shown, as in Docker.
			var errs []error
			for _, arg := range args {
				if _, err := e.Lookup(arg); err != nil {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			targets := func() ([]statsTarget, error) {
				if len(args) > 0 {
					var out []statsTarget
					for _, arg := range args {
						t := statsTarget{key: arg}
						if c, err := e.Lookup(arg); err == nil {
							t.c = c
						}
						out = append(out, t)
					}
					return out, nil
				}
				list, err := e.List()
				if err != nil {
					return nil, err
				}
				var out []statsTarget
				for _, s := range list {
					switch s.Status {
					case engine.StatusRunning, engine.StatusPaused, engine.StatusRestarting:
					default:
						if !all {
							continue
						}
					}
					out = append(out, statsTarget{key: s.ID[:12], c: s.Container})
				}
				return out, nil
			}
			prev := map[string]*engine.ContainerStats{}
			read := func() ([]any, error) {
				ts, err := targets()
				if err != nil {
					return nil, err
				}
				next := map[string]*engine.ContainerStats{}
				var rows []any
				for _, t := range ts {
					var s *engine.ContainerStats
					if t.c != nil {
						s, _ = e.Stats(t.c)
					}
					if s == nil {
						rows = append(rows, invalidStatsRow(t.key, t.c, noTrunc))
						continue
					}
					rows = append(rows, statsRowOf(t.key, s, prev[s.ID], noTrunc))
					next[s.ID] = s
				}
				prev = next
				return rows, nil
			}
			if format == "table" {
				format = ""
			}
			interval := statsInterval
			if noStream {
				interval = statsNoStreamInterval
			}
			if _, err := read(); err != nil {
				return err
			}
			for {
				time.Sleep(interval)
				rows, err := read()
				if err != nil {
					return err
				}
				// One write per frame, so that a terminal does not flicker.
				var buf bytes.Buffer
				if !noStream && a.isTerminal {
					buf.WriteString("\033[2J\033[H")
				}
				l := &lister{w: &buf, format: format, headers: statsHeaders}
				if err := l.write(statsTable, rows); err != nil {
					return err
				}
				if _, err := a.out.Write(buf.Bytes()); err != nil || noStream {
					return err
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

// statsRowOf formats a reading as Docker's stats does, with CPU % since
// the reading prev (none: 0%).
func statsRowOf(key string, s, prev *engine.ContainerStats, noTrunc bool) statsRow {
	name := s.Name
	if name == "" {
		name = "--"
	}
	pair := func(a, b uint64) string {
		return units.HumanSizeWithPrecision(float64(a), 3) + " / " + units.HumanSizeWithPrecision(float64(b), 3)
	}
	return statsRow{
		Container: key, ID: statsID(s.ID, noTrunc), Name: name,
		CPUPerc:  fmt.Sprintf("%.2f%%", s.CPUPercent(prev)),
		MemUsage: units.BytesSize(float64(s.Memory)) + " / " + units.BytesSize(float64(s.MemoryLimit)),
		MemPerc:  fmt.Sprintf("%.2f%%", s.MemoryPercent()),
		NetIO:    pair(s.NetRx, s.NetTx),
		BlockIO:  pair(s.BlockRead, s.BlockWrite),
		PIDs:     strconv.FormatUint(s.Pids, 10),
	}
}

// invalidStatsRow is a container that could not be read, which Docker
// shows as dashes.
func invalidStatsRow(key string, c *metadata.Container, noTrunc bool) statsRow {
	r := statsRow{Container: key, Name: "--", CPUPerc: "--", MemUsage: "-- / --", MemPerc: "--",
		NetIO: "--", BlockIO: "--", PIDs: "--"}
	if c != nil {
		r.ID, r.Name = statsID(c.ID, noTrunc), c.Name
	}
	return r
}

func statsID(id string, noTrunc bool) string {
	if !noTrunc && len(id) > 12 {
		return id[:12]
	}
	return id
}
