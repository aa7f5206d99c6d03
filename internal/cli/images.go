package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"berth/internal/errdefs"
	"berth/internal/image"
)

// imageRow is one line of `images`, with the fields --format names.
type imageRow struct {
	Repository   string
	Tag          string
	ID           string
	Digest       string
	CreatedSince string
	CreatedAt    string
	Size         string
	Containers   string
	full         image.Summary
}

var imageHeaders = map[string]string{
	"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
}

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}

// splitName splits a familiar "repo:tag" at its tag's colon.
func splitName(n string) (repo, tag string) {
	i := strings.LastIndex(n, ":")
	if i < 0 || strings.Contains(n[i:], "/") {
		return n, "<none>"
	}
	return n[:i], n[i+1:]
}

func newImagesCommand(a *app) *cobra.Command {
	var (
		all, quiet, digests, noTrunc bool
		filters                      []string
		format                       string
	)
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.images()
			if err != nil {
				return err
			}
			sums, err := st.List()
			if err != nil {
				return err
			}
			match, err := imageFilter(st, sums, filters, args)
			if err != nil {
				return err
			}
			var rows []any
			seen := map[string]bool{}
			for _, s := range sums {
				for _, r := range imageRows(s, noTrunc) {
					if !match(s, r) {
						continue
					}
					if quiet {
						if !seen[r.ID] {
							fmt.Fprintln(a.out, r.ID)
						}
						seen[r.ID] = true
						continue
					}
					rows = append(rows, r)
				}
			}
			if quiet {
				return nil
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			l := &lister{w: a.out, format: format, headers: imageHeaders}
			return l.write(def, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all images (berth keeps no intermediate images, so the same as without)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&digests, "digests", false, "show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

// imageRows makes one row per name of an image, or one <none> row.
func imageRows(s image.Summary, noTrunc bool) []imageRow {
	id := image.ShortID(s.ID)
	if noTrunc {
		id = s.ID.String()
	}
	base := imageRow{
		ID: id, Digest: "<none>", Size: humanSize(s.Size), Containers: "N/A",
		CreatedSince: since(s.Created), CreatedAt: s.Created.Format("2006-01-02 15:04:05 -0700 MST"), full: s,
	}
	digestOf := func(repo string) string {
		for _, rd := range s.RepoDigests {
			if r, d, ok := strings.Cut(rd, "@"); ok && r == repo {
				return d
			}
		}
		return "<none>"
	}
	if len(s.RepoTags) == 0 {
		r := base
		r.Repository, r.Tag = "<none>", "<none>"
		if len(s.RepoDigests) > 0 {
			repo, d, _ := strings.Cut(s.RepoDigests[0], "@")
			r.Repository, r.Digest = repo, d
		}
		return []imageRow{r}
	}
	tags := append([]string(nil), s.RepoTags...)
	sort.Strings(tags)
	var out []imageRow
	for _, t := range tags {
		r := base
		r.Repository, r.Tag = splitName(t)
		r.Digest = digestOf(r.Repository)
		out = append(out, r)
	}
	return out
}

// imageFilter builds the predicate of --filter and the REPOSITORY[:TAG]
// argument.
func imageFilter(st *image.Store, sums []image.Summary, filters, args []string) (func(image.Summary, imageRow) bool, error) {
	var preds []func(image.Summary, imageRow) bool
	if len(args) == 1 {
		want := args[0]
		preds = append(preds, func(_ image.Summary, r imageRow) bool {
			if ok, _ := path.Match(want, r.Repository); ok {
				return true
			}
			ok, _ := path.Match(want, r.Repository+":"+r.Tag)
			return ok
		})
	}
	for _, f := range filters {
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "dangling":
			if val != "true" && val != "false" {
				return nil, errdefs.Invalidf("invalid filter 'dangling=%s': want true or false", val)
			}
			want := val == "true"
			preds = append(preds, func(s image.Summary, _ imageRow) bool { return (len(s.RepoTags) == 0) == want })
		case "reference":
			if _, err := path.Match(val, ""); err != nil {
				return nil, errdefs.Invalidf("invalid filter 'reference=%s': %v", val, err)
			}
			preds = append(preds, func(_ image.Summary, r imageRow) bool {
				ok1, _ := path.Match(val, r.Repository)
				ok2, _ := path.Match(val, r.Repository+":"+r.Tag)
				return ok1 || ok2
			})
		case "label":
			k, v, hasV := strings.Cut(val, "=")
			preds = append(preds, func(s image.Summary, _ imageRow) bool {
				got, ok := s.Labels[k]
				return ok && (!hasV || got == v)
			})
		case "before", "since":
			img, err := st.Lookup(val)
			if err != nil {
				return nil, err
			}
			var at time.Time
			for _, s := range sums {
				if s.ID == img.ID {
					at = s.Created
				}
			}
			before := key == "before"
			preds = append(preds, func(s image.Summary, _ imageRow) bool {
				if before {
					return s.Created.Before(at)
				}
				return s.Created.After(at)
			})
		default:
			return nil, errdefs.Invalidf("invalid filter %q: berth knows dangling, reference, label, before and since", key)
		}
	}
	return func(s image.Summary, r imageRow) bool {
		for _, p := range preds {
			if !p(s, r) {
				return false
			}
		}
		return true
	}, nil
}

func newRmiCommand(a *app) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.images()
			if err != nil {
				return err
			}
			var errs []error
			for _, arg := range args {
				del, err := st.Remove(arg, force)
				for _, d := range del {
					if d.Untagged != "" {
						fmt.Fprintf(a.out, "Untagged: %s\n", d.Untagged)
					} else {
						fmt.Fprintf(a.out, "Deleted: %s\n", d.Deleted)
					}
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the image even if it has several names or a stopped container uses it")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "accepted for Docker compatibility; berth keeps no untagged parents")
	return cmd
}

func newTagCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.images()
			if err != nil {
				return err
			}
			return st.Tag(args[0], args[1])
		},
	}
}

func newImageInspectCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.images()
			if err != nil {
				return err
			}
			return inspectEach(a.out, format, args, func(arg string) (any, error) {
				img, err := st.Lookup(arg)
				if err != nil {
					return nil, err
				}
				return st.Inspect(img)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json, or a Go template")
	return cmd
}

func newHistoryCommand(a *app) *cobra.Command {
	var (
		human, noTrunc, quiet bool
		format                string
	)
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.images()
			if err != nil {
				return err
			}
			img, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			hist, err := st.History(img)
			if err != nil {
				return err
			}
			var rows []any
			for _, h := range hist {
				r := historyRow{ID: h.ID, CreatedBy: h.CreatedBy, Comment: h.Comment}
				if !noTrunc && r.ID != "<missing>" {
					r.ID = image.ShortID(img.ID)
				}
				if quiet {
					fmt.Fprintln(a.out, r.ID)
					continue
				}
				if human {
					r.CreatedSince, r.Size = since(h.Created), humanSize(h.Size)
				} else {
					r.CreatedSince, r.Size = h.Created.Format(time.RFC3339), fmt.Sprint(h.Size)
				}
				r.CreatedAt = h.Created.Format(time.RFC3339)
				if !noTrunc && len(r.CreatedBy) > 45 {
					r.CreatedBy = r.CreatedBy[:44] + "…"
				}
				rows = append(rows, r)
			}
			if quiet {
				return nil
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{
				"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
				"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
			}}
			return l.write("table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

func newImagePruneCommand(a *app) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				msg := "WARNING! This will remove all dangling images."
				if all {
					msg = "WARNING! This will remove all images without at least one container associated to them."
				}
				if !confirm(a.in, a.out, msg) {
					return nil
				}
			}
			st, err := a.images()
			if err != nil {
				return err
			}
			rep, err := st.Prune(all)
			if rep != nil {
				printDeleted(a.out, "Deleted Images:", imagePruneLines(rep.Deleted))
				fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(rep.SpaceReclaimed))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

// confirm asks a yes/no question on out and reads the answer from in.
func confirm(in io.Reader, out io.Writer, msg string) bool {
	fmt.Fprintf(out, "%s\nAre you sure you want to continue? [y/N] ", msg)
	line, _ := bufio.NewReader(in).ReadString('\n')
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes"
}
