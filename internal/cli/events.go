package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
)

func newEventsCommand(a *app) *cobra.Command {
	var (
		sinceS, untilS, format string
		filters                []string
	)
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events: container create, start, die, kill, destroy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			since, err := parseTime(sinceS, "--since")
			if err != nil {
				return err
			}
			until, err := parseTime(untilS, "--until")
			if err != nil {
				return err
			}
			if sinceS == "" {
				since = time.Now() // only new events, as Docker
			}
			match, err := eventFilter(filters)
			if err != nil {
				return err
			}
			stop := func() bool { return !until.IsZero() && time.Now().After(until) }
			return e.Events(since, true, stop, func(ev engine.Event) {
				if (!until.IsZero() && ev.TimeNano > until.UnixNano()) || !match(ev) {
					return
				}
				if format != "" {
					l := &lister{w: a.out, format: format}
					l.write(format, []any{ev})
					return
				}
				fmt.Fprintln(a.out, eventLine(ev))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&sinceS, "since", "", "show events since a timestamp or a duration ago (10m)")
	f.StringVar(&untilS, "until", "", "stream events until this timestamp or duration")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter: container=NAME|ID, event=ACTION, image=NAME, type=container")
	f.StringVar(&format, "format", "", "format output: json, or a Go template")
	return cmd
}

// eventLine is Docker's default event line.
func eventLine(ev engine.Event) string {
	keys := make([]string, 0, len(ev.Actor.Attributes))
	for k := range ev.Actor.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var attrs []string
	for _, k := range keys {
		attrs = append(attrs, k+"="+ev.Actor.Attributes[k])
	}
	t := time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000-07:00")
	return fmt.Sprintf("%s %s %s %s (%s)", t, ev.Type, ev.Action, ev.Actor.ID, strings.Join(attrs, ", "))
}

// eventFilter builds the predicate of events' --filter flags.
func eventFilter(filters []string) (func(engine.Event) bool, error) {
	byKey, err := filterValues(filters, func(k, v string) error {
		switch k {
		case "container", "event", "image", "type":
			return nil
		}
		return errdefs.Invalidf("invalid filter %q: berth knows container, event, image and type", k)
	})
	if err != nil {
		return nil, err
	}
	return matchFilters(byKey, func(ev engine.Event, k, v string) bool {
		switch k {
		case "container":
			return ev.Actor.Attributes["name"] == v || strings.HasPrefix(ev.Actor.ID, v)
		case "event":
			return ev.Action == v
		case "image":
			return ev.Actor.Attributes["image"] == v
		case "type":
			return ev.Type == v
		}
		return false
	}), nil
}
