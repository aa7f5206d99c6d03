package cli

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
)

// psRow is one line of ps, with the fields --format names.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Ports, Names, Labels, Size string
	Mounts, Networks                                                                     string
}

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES",
	"Labels": "LABELS", "Size": "SIZE", "Mounts": "MOUNTS", "Networks": "NETWORKS",
}

func newPsCommand(a *app) *cobra.Command {
	var (
		all, quiet, latest, noTrunc, size bool
		last                              int
		filters                           []string
		format                            string
	)
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			list, err := e.List()
			if err != nil {
				return err
			}
			match, err := psFilter(filters)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			var rows []any
			for _, s := range list {
				if last > 0 && len(rows) >= last {
					break
				}
				if !all && last <= 0 && s.Status != engine.StatusRunning && s.Status != engine.StatusPaused && !hasStatusFilter(filters) {
					continue
				}
				if !match(s) {
					continue
				}
				if quiet {
					id := s.ID
					if !noTrunc {
						id = id[:12]
					}
					fmt.Fprintln(a.out, id)
					rows = append(rows, nil)
					continue
				}
				row := psRowOf(s, noTrunc)
				if strings.Contains(format, ".Networks") {
					row.Networks = strings.Join(e.ContainerNetworks(s.Container), ",")
				}
				rows = append(rows, row)
			}
			if quiet {
				return nil
			}
			def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if size {
				def += "\t{{.Size}}"
			}
			l := &lister{w: a.out, format: format, headers: psHeaders}
			return l.write(def, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	f.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&size, "size", "s", false, "display total file sizes")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output: status=, name=, label=KEY[=VALUE], ancestor=IMAGE, exited=CODE, id=")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

func psRowOf(s engine.Summary, noTrunc bool) psRow {
	id, cmd := s.ID, strconv.Quote(s.Command)
	if !noTrunc {
		id = id[:12]
		if r := []rune(s.Command); len(r) > 20 {
			cmd = strconv.Quote(string(r[:19]) + "…")
		}
	}
	var labels []string
	for k, v := range s.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	return psRow{
		ID: id, Image: s.ImageName, Command: cmd,
		CreatedAt:  s.Created.Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: since(s.Created), Status: s.StatusText(), State: s.Status,
		Ports: s.Ports, Names: s.Name, Labels: strings.Join(labels, ","), Size: "0B",
	}
}

func hasStatusFilter(filters []string) bool {
	for _, f := range filters {
		if strings.HasPrefix(f, "status=") || strings.HasPrefix(f, "exited=") {
			return true
		}
	}
	return false
}

// psFilter builds the predicate of ps's --filter flags.
func psFilter(filters []string) (func(engine.Summary) bool, error) {
	byKey, err := filterValues(filters, func(k, v string) error {
		switch k {
		case "status", "name", "label", "ancestor", "exited", "id", "health":
		default:
			return errdefs.Invalidf("invalid filter %q: berth knows status, name, label, ancestor, exited, id and health", k)
		}
		if k == "health" {
			switch v {
			case "starting", "healthy", "unhealthy", "none":
			default:
				return errdefs.Invalidf("invalid filter 'health=%s': want starting, healthy, unhealthy or none", v)
			}
		}
		if k == "status" {
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return errdefs.Invalidf("invalid filter 'status=%s': want created, restarting, running, removing, paused, exited or dead", v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return matchFilters(byKey, func(s engine.Summary, k, v string) bool {
		switch k {
		case "status":
			return s.Status == v
		case "name":
			return strings.Contains(s.Name, strings.TrimPrefix(v, "/"))
		case "id":
			return strings.HasPrefix(s.ID, v)
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			got, ok := s.Config.Labels[lk]
			return ok && (!hasV || got == lv)
		case "ancestor":
			ok, _ := path.Match(v, s.ImageName)
			return ok || s.ImageName == v || strings.HasPrefix(s.Image.Encoded(), strings.TrimPrefix(v, "sha256:"))
		case "exited":
			return s.Status == engine.StatusExited && strconv.Itoa(s.State.ExitCode) == v
		case "health":
			if s.Health == nil {
				return v == "none"
			}
			return s.Health.Status == v
		}
		return false
	}), nil
}
