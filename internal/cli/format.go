package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"

	"berth/internal/errdefs"
)

// templateFuncs are the functions Docker's --format templates offer.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"split": strings.Split,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"println": fmt.Sprintln,
}

// lister writes rows the way Docker's list commands do: a table with
// the default columns, a --format Go template (with "table" in front for
// headers), or "json" for one JSON object per row.
type lister struct {
	w       io.Writer
	format  string
	headers map[string]string // template field -> column header
}

// write renders rows (values whose methods or fields the templates name)
// with format, or with def when format is empty.
func (l *lister) write(def string, rows []any) error {
	// One write per row or table cell would be thousands of system calls
	// for a long list.
	bw := bufio.NewWriter(l.w)
	if err := l.render(bw, def, rows); err != nil {
		bw.Flush()
		return err
	}
	return bw.Flush()
}

func (l *lister) render(w io.Writer, def string, rows []any) error {
	format := l.format
	if format == "" {
		format = def
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	table := strings.HasPrefix(format, "table")
	if table {
		format = strings.TrimSpace(strings.TrimPrefix(format, "table"))
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return errdefs.Invalidf("invalid --format template: %v", err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		if err := l.header(out, format); err != nil {
			return err
		}
	}
	for _, r := range rows {
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, r); err != nil {
			return errdefs.Invalidf("--format template: %v", err)
		}
		buf.WriteByte('\n')
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// header writes a table's header line: the template with each {{.Field}}
// replaced by its column name.
func (l *lister) header(w io.Writer, format string) error {
	h := format
	for field, name := range l.headers {
		h = strings.ReplaceAll(h, "{{."+field+"}}", name)
	}
	_, err := fmt.Fprintln(w, h)
	return err
}

// printDockerJSON writes v indented as Docker's inspect commands do.
func printDockerJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// inspectEach looks up every argument with one and prints what it found
// as inspectOut does; then, as Docker does, it returns the errors of the
// arguments it could not inspect, joined.
func inspectEach(w io.Writer, format string, args []string, one func(arg string) (any, error)) error {
	var items []any
	var errs []error
	for _, arg := range args {
		item, err := one(arg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		items = append(items, item)
	}
	if err := inspectOut(w, format, items); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// eachArg runs fn for every argument, printing each one it succeeded
// for, and then joins the errors, as Docker's commands that take several
// names do.
func eachArg(w io.Writer, args []string, fn func(arg string) error) error {
	return eachResult(w, args, func(arg string) (any, error) { return arg, fn(arg) })
}

// eachResult runs fn for every argument, printing what it returned for
// each one it succeeded for (nothing for nil), and then joins the errors.
func eachResult(w io.Writer, args []string, fn func(arg string) (any, error)) error {
	var errs []error
	for _, arg := range args {
		v, err := fn(arg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v != nil {
			fmt.Fprintln(w, v)
		}
	}
	return errors.Join(errs...)
}

// inspectOut prints inspect results: a JSON array, or each through a
// --format template.
func inspectOut(w io.Writer, format string, items []any) error {
	if format == "" {
		if items == nil {
			items = []any{}
		}
		return printDockerJSON(w, items)
	}
	if format == "json" {
		return printDockerJSON(w, items)
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return errdefs.Invalidf("invalid --format template: %v", err)
	}
	for _, it := range items {
		// Templates see the JSON field names, as Docker's do.
		var generic any
		b, _ := json.Marshal(it)
		// Numbers stay as written (20971520, not 2.097152e+07).
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		dec.Decode(&generic)
		if err := tmpl.Execute(w, generic); err != nil {
			return errdefs.Invalidf("--format template: %v", err)
		}
		fmt.Fprintln(w)
	}
	return nil
}
