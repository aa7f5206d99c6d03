package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// tableHeader writes a Markdown table header: the lead columns, one
// column per runtime, then the trail column if it is not empty.
func (r *report) tableHeader(w io.Writer, lead []string, trail string) {
	cols := append([]string(nil), lead...)
	for _, n := range r.runtimes {
		cols = append(cols, "`"+n+"`")
	}
	if trail != "" {
		cols = append(cols, trail)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

// write renders the report as the Markdown of docs/CONFORMANCE.md.
func (r *report) write(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	base := r.runtimes[0]
	others := r.runtimes[1:]

	p("# OCI runtime conformance\n\n")
	p("The OCI runtime-tools validation suite (`validation/` of\n")
	p("github.com/opencontainers/runtime-tools, one program per test that drives\n")
	p("a runtime through runc's command line and prints TAP), run against %s\n", strings.Join(quoteAll(r.runtimes), ", "))
	p("side by side: each test runs for every runtime before the next test starts.\n")
	p("`%s` is the baseline: the goal is that every other runtime passes every\n", base)
	p("test it passes. This file is written by `conformance/run.sh` (`make\n")
	p("conformance`, as root); see the end for how to read and rerun it.\n\n")

	p("## The run\n\n| | |\n|---|---|\n")
	for _, kv := range r.meta {
		p("| %s | %s |\n", kv[0], mdCell(kv[1]))
	}
	for _, n := range r.runtimes {
		p("| runtime `%s` | %s (`%s`) |\n", n, mdCell(r.runtime[n][1]), mdCell(r.runtime[n][0]))
	}
	p("\n")

	// Totals.
	p("## Totals\n\n")
	p("A test passes when it ran to its plan with no failing assertion; it is\n")
	p("skipped when every assertion was skipped. Assertions are TAP lines: `ok`,\n")
	p("`not ok`, and skips (`# SKIP`, plus `# TODO`, the suite's expected\n")
	p("failures). A test that exits non-zero, times out or stops short of its\n")
	p("plan fails even with no `not ok` line. Some tests print no result line:\n")
	p("the hook tests report an error as a bare YAML block (counted here as one\n")
	p("`not ok`), and the `*_fail` tests print nothing and answer by their exit\n")
	p("status, so exit status 0 with no error is a pass with no assertions.\n\n")
	p("| runtime | tests passed | tests failed | tests skipped | assertions ok | not ok | skipped | time |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, n := range r.runtimes {
		st := map[string]int{}
		var pass, fail, skip int
		var secs float64
		for _, t := range r.tests {
			x := r.runs[n][t]
			s := x.status()
			if s == "timeout" {
				s = "fail"
			}
			st[s]++
			a, b, c := x.counts()
			pass, fail, skip = pass+a, fail+b, skip+c
			f, _ := strconv.ParseFloat(x.secs, 64)
			secs += f
		}
		p("| `%s` | %d | %d | %d | %d | %d | %d | %.0f s |\n", n, st["pass"], st["fail"], st["skip"], pass, fail, skip, secs)
	}
	p("\n")
	for _, n := range others {
		var worse, better []string
		for _, t := range r.tests {
			b, x := r.runs[base][t].status(), r.runs[n][t].status()
			if b == "pass" && x != "pass" {
				worse = append(worse, "`"+t+"`")
			}
			if x == "pass" && b != "pass" {
				better = append(better, "`"+t+"`")
			}
		}
		if len(worse) == 0 {
			p("- `%s` passes every test that `%s` passes.\n", n, base)
		} else {
			p("- `%s` fails %d test(s) that `%s` passes: %s.\n", n, len(worse), base, strings.Join(worse, ", "))
		}
		if len(better) > 0 {
			p("- `%s` passes %d test(s) that `%s` does not: %s.\n", n, len(better), base, strings.Join(better, ", "))
		}
	}
	p("\n")

	// Per-test table.
	p("## Per test\n\n")
	p("Each cell: the test's outcome, then ok / not ok / skipped assertions.\n\n")
	r.tableHeader(w, []string{"test"}, "notes")
	for _, t := range r.tests {
		p("| `%s` |", t)
		var notes []string
		for _, n := range r.runtimes {
			x := r.runs[n][t]
			a, b, c := x.counts()
			cell := fmt.Sprintf("%s %d/%d/%d", x.status(), a, b, c)
			if x.status() == "fail" || x.status() == "timeout" {
				cell = "**" + cell + "**"
			}
			p(" %s |", cell)
			if pr := x.problem(); pr != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", n, pr))
			} else if len(x.results) == 0 {
				notes = append(notes, fmt.Sprintf("%s: no TAP result, exit status 0", n))
			}
			if len(x.leftover) > 0 {
				notes = append(notes, fmt.Sprintf("%s: left %s", n, summarizeLeftovers(x.leftover)))
			}
		}
		p(" %s |\n", mdCell(strings.Join(notes, "; ")))
	}
	p("\n")

	// What the others fail and the baseline does not.
	for _, n := range others {
		p("## `%s`: failures that `%s` does not have\n\n", n, base)
		p("Each failing assertion of `%s` that `%s` passes (or does not reach),\n", n, base)
		p("with the diagnostic the suite printed, trimmed: for a test that runs\n")
		p("`runtimetest` inside the container, only the inner `not ok` lines are kept.\n\n")
		any := false
		for _, t := range r.tests {
			b, x := r.runs[base][t], r.runs[n][t]
			bf := map[string]bool{}
			for _, k := range b.failures() {
				bf[k] = true
			}
			var keys []string
			for _, k := range x.failures() {
				if !bf[k] {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 {
				continue
			}
			any = true
			bc := "passes"
			switch b.status() {
			case "fail":
				bc = "fails there too, with other failures"
			case "timeout":
				bc = "times out there too"
			case "skip":
				bc = "skips it"
			}
			p("### `%s` (`%s` %s)\n\n", t, base, bc)
			const maxShown = 8
			for i, k := range keys {
				if i == maxShown {
					p("... and %d more failing assertion(s) like these.\n\n", len(keys)-maxShown)
					break
				}
				res := x.find(k)
				if res == nil {
					p("- the test %s\n\n", strings.TrimPrefix(k, "test "))
					continue
				}
				if res.orphan {
					p("- %s\n\n", oneLine(res.desc, 300))
				} else {
					p("- `not ok %d - %s`\n\n", res.num, oneLine(res.desc, 300))
				}
				if d := trimDiag(res.diag); d != "" {
					p("```\n%s\n```\n\n", d)
				}
			}
			if x.problem() != "" || len(x.results) == 0 {
				if e := headTail(x.errText, 8, 6); e != "" {
					p("stderr of the test:\n\n```\n%s\n```\n\n", e)
				}
				var hung []string
				for _, l := range x.leftover {
					if a, ok := strings.CutPrefix(l, "unfinished-call "); ok {
						hung = append(hung, n+" "+a)
					}
				}
				if len(hung) > 0 {
					p("runtime calls that had not returned when the test ended:\n\n```\n%s\n```\n\n", strings.Join(hung, "\n"))
				}
			}
			{
				var last []string
				for _, c := range r.calls[n] {
					if c.test == t {
						l := fmt.Sprintf("%s %s  => exit %d", n, c.args, c.rc)
						if c.note != "" {
							l += ", " + c.note
						}
						if c.stderr != "" {
							l += ": " + oneLine(firstLine(c.stderr), 200)
						}
						last = append(last, l)
					}
				}
				if len(last) > 6 {
					last = last[len(last)-6:]
				}
				if len(last) > 0 {
					p("the test's last runtime calls that returned:\n\n```\n%s\n```\n\n", strings.Join(last, "\n"))
				}
			}
		}
		if !any {
			p("None.\n\n")
		}
	}

	// Shared failures, briefly.
	p("## Tests that `%s` fails\n\n", base)
	p("Each runtime's outcome and first failure (for a test that exits early,\n")
	p("the last error it printed). Where all fail alike, the cause is usually\n")
	p("the host (a controller or LSM it lacks) or the suite's own expectations.\n\n")
	shared := false
	for _, t := range r.tests {
		if r.runs[base][t].status() == "pass" || r.runs[base][t].status() == "skip" {
			continue
		}
		if !shared {
			r.tableHeader(w, []string{"test"}, "")
			shared = true
		}
		p("| `%s` |", t)
		for _, n := range r.runtimes {
			x := r.runs[n][t]
			f := x.failures()
			cell := x.status()
			if len(f) > 0 {
				first := strings.TrimSuffix(f[0], "#1")
				if strings.HasPrefix(first, "test ") {
					if e := lastError(x.errText); e != "" {
						first += ": " + e
					}
				}
				cell = fmt.Sprintf("%d failing: %s", len(f), oneLine(first, 240))
			}
			p(" %s |", mdCell(cell))
		}
		p("\n")
	}
	if !shared {
		p("None.\n")
	}
	p("\n")

	// Skips.
	p("## Skips\n\n")
	p("Every distinct skip reason (`# TODO` lines included), the tests that gave\n")
	p("it, and how many assertions it covered for each runtime (per reason, when\n")
	p("a row holds several).\n\n")
	r.tableHeader(w, []string{"reason", "tests"}, "")
	type skipRow struct {
		tests  []string
		counts map[string]int
	}
	skips := map[string]*skipRow{}
	var skipOrder []string
	for _, t := range r.tests {
		for _, n := range r.runtimes {
			for _, x := range r.runs[n][t].results {
				if !x.skip {
					continue
				}
				row := skips[x.desc]
				if row == nil {
					row = &skipRow{counts: map[string]int{}}
					skips[x.desc] = row
					skipOrder = append(skipOrder, x.desc)
				}
				if len(row.tests) == 0 || row.tests[len(row.tests)-1] != "`"+t+"`" {
					row.tests = append(row.tests, "`"+t+"`")
				}
				row.counts[n]++
			}
		}
	}
	if len(skipOrder) == 0 {
		p("| none | |")
		for range r.runtimes {
			p(" |")
		}
		p("\n")
	}
	// Reasons given by the same tests, as often by each runtime, share a row.
	type group struct {
		reasons []string
		row     *skipRow
	}
	var groups []*group
	bySig := map[string]*group{}
	for _, why := range skipOrder {
		row := skips[why]
		sig := strings.Join(row.tests, ",")
		for _, n := range r.runtimes {
			sig += fmt.Sprintf(" %d", row.counts[n])
		}
		g := bySig[sig]
		if g == nil {
			g = &group{row: row}
			bySig[sig] = g
			groups = append(groups, g)
		}
		g.reasons = append(g.reasons, oneLine(why, 200))
	}
	for _, g := range groups {
		p("| %s | %s |", mdCell(strings.Join(g.reasons, "<br>")), strings.Join(g.row.tests, ", "))
		for _, n := range r.runtimes {
			p(" %d |", g.row.counts[n])
		}
		p("\n")
	}
	p("\n")

	// Arguments a runtime refused.
	p("## Command lines a runtime refused\n\n")
	p("Every runtime call goes through a wrapper that logs it. These are the\n")
	p("command line shapes (ids and paths as X) that some runtime refused with\n")
	p("an error that reads like a refused command, flag or argument count, and\n")
	p("what each runtime did with that shape. A shape every runtime refuses is\n")
	p("one of the suite's own negative checks (such as `state` with no id).\n\n")
	type seen struct {
		example, err        string
		ok, refused, failed int
	}
	shapes := map[string]map[string]*seen{} // shape -> runtime -> seen
	var shapeOrder []string
	for _, n := range r.runtimes {
		for _, c := range r.calls[n] {
			sh := shape(c.args)
			if shapes[sh] == nil {
				shapes[sh] = map[string]*seen{}
				shapeOrder = append(shapeOrder, sh)
			}
			x := shapes[sh][n]
			if x == nil {
				x = &seen{example: c.test + ": " + n + " " + c.args}
				shapes[sh][n] = x
			}
			switch {
			case c.rc == 0:
				x.ok++
			case refusedArgs.MatchString(c.stderr):
				if x.refused == 0 {
					x.err = firstLine(c.stderr)
				}
				x.refused++
			default:
				x.failed++
			}
		}
	}
	refused := false
	for _, sh := range shapeOrder {
		any := false
		for _, x := range shapes[sh] {
			any = any || x.refused > 0
		}
		if !any {
			continue
		}
		if !refused {
			r.tableHeader(w, []string{"command line"}, "")
			refused = true
		}
		p("| `%s` |", mdCode(sh))
		for _, n := range r.runtimes {
			x := shapes[sh][n]
			switch {
			case x == nil:
				p(" not called |")
			case x.refused > 0:
				p(" refused %d of %d: %s; e.g. `%s` |", x.refused, x.ok+x.refused+x.failed, mdCell(oneLine(x.err, 200)), mdCode(oneLine(x.example, 200)))
			default:
				p(" accepted: %d ok, %d failed with other errors |", x.ok, x.failed)
			}
		}
		p("\n")
	}
	if !refused {
		p("None: no runtime refused a command, flag or argument count the suite used.\n")
	}
	p("\n")

	p("## How to rerun and read it\n\n")
	p("`make conformance` (as root) builds berth, then runs `conformance/run.sh`,\n")
	p("which builds the suite pinned in `conformance/go.mod` (test programs and\n")
	p("the static `runtimetest` into `conformance/.build/`), runs every test for\n")
	p("every runtime with a per-test timeout, each runtime under its own `--root`\n")
	p("through a logging wrapper, cleans up after each test (containers still in\n")
	p("the state root, bundles, the suite's fixed cgroups `cgrouptest` and\n")
	p("`testdir`, and the test's process group), and writes this file. The\n")
	p("suite unpacks `rootfs-amd64.tar.gz` (busybox, shipped in the module) for\n")
	p("each container and copies `runtimetest` into it. `CONFORMANCE_TESTS`,\n")
	p("`CONFORMANCE_RUNTIMES`, `CONFORMANCE_TIMEOUT` and `CONFORMANCE_OUT` (keep\n")
	p("the raw TAP, stderr and call logs) are described at the top of the script;\n")
	p("a run of one test: `CONFORMANCE_TESTS=pidfile CONFORMANCE_REPORT=- conformance/run.sh`.\n")
}

var refusedArgs = regexp.MustCompile(`(?i)unknown (shorthand )?flag|unknown command|flag needs an argument|invalid argument .* for .*flag|accepts \d+ arg|requires (at least|at most|exactly|between) \d+|needs (at least|at most|exactly) |incorrect usage|flag provided but not defined|no such option`)

// logPrefix is the logrus prefix runc puts before its error messages.
var logPrefix = regexp.MustCompile(`^time="[^"]*" level=\w+ msg=`)

// shape is a command line with its variable parts (ids, paths, numbers)
// blanked, so that one refused flag counts once however many ids it saw.
func shape(args string) string {
	var out []string
	for _, f := range strings.Fields(args) {
		if strings.HasPrefix(f, "-") || regexp.MustCompile(`^[a-z]+$`).MatchString(f) {
			out = append(out, f)
		} else {
			out = append(out, "X")
		}
	}
	return strings.Join(out, " ")
}

func summarizeLeftovers(l []string) string {
	counts := map[string]int{}
	for _, x := range l {
		kind, _, _ := strings.Cut(x, " ")
		counts[kind]++
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s(s)", counts[k], k))
	}
	return strings.Join(parts, ", ") + " behind"
}

// trimDiag turns a result's diagnostic lines into a short text. JSON
// blocks are decoded; a string in them that holds runtimetest's own TAP is
// cut to its failing results.
func trimDiag(lines []string) string {
	var yaml, other []string
	in := false
	for _, l := range lines {
		t := strings.TrimPrefix(l, "  ")
		switch {
		case t == "---":
			in = true
		case t == "...":
			in = false
		case in:
			yaml = append(yaml, t)
		default:
			other = append(other, l)
		}
	}
	var parts []string
	if len(other) > 0 {
		parts = append(parts, strings.Join(other, "\n"))
	}
	if len(yaml) > 0 {
		text := strings.Join(yaml, "\n")
		var v any
		if err := json.Unmarshal([]byte(text), &v); err == nil {
			v = trimValue(v)
			b, _ := json.MarshalIndent(v, "", "  ")
			text = string(b)
		}
		parts = append(parts, text)
	}
	return limit(strings.Join(parts, "\n"), 60, 6000)
}

func trimValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = trimValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = trimValue(e)
		}
		return x
	case string:
		if strings.Contains(x, "\nok ") || strings.Contains(x, "\nnot ok ") || strings.HasPrefix(x, "TAP version") {
			return innerFailures(x)
		}
		return byteList.ReplaceAllStringFunc(x, decodeBytes)
	}
	return v
}

// byteList is a []byte as %v prints it, which some tests put in their
// diagnostics (command output); decodeBytes turns it back into text.
var byteList = regexp.MustCompile(`\[\d{1,3}(?: \d{1,3}){3,}\]`)

func decodeBytes(s string) string {
	var b []byte
	for _, f := range strings.Fields(strings.Trim(s, "[]")) {
		n, err := strconv.Atoi(f)
		if err != nil || n > 255 || (n < 32 && n != '\n' && n != '\t') {
			return s
		}
		b = append(b, byte(n))
	}
	return strconv.Quote(strings.TrimRight(string(b), "\n"))
}

// innerFailures keeps runtimetest's failing results and their diagnostics.
func innerFailures(tap string) any {
	results, _ := parseTAP(tap)
	var out []string
	pass, skip := 0, 0
	for _, r := range results {
		switch {
		case r.skip:
			skip++
		case r.ok:
			pass++
		default:
			out = append(out, fmt.Sprintf("not ok %d - %s", r.num, r.desc))
			for _, d := range r.diag {
				out = append(out, "  "+d)
			}
		}
	}
	out = append(out, fmt.Sprintf("(runtimetest: %d ok, %d skipped, %d not ok)", pass, skip, len(results)-pass-skip))
	return out
}

func limit(s string, maxLines, maxChars int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], fmt.Sprintf("... (%d more lines)", len(lines)-maxLines))
	}
	s = strings.Join(lines, "\n")
	if len(s) > maxChars {
		s = s[:maxChars] + "\n... (cut)"
	}
	return s
}

// headTail keeps the first head and the last tail lines of s.
func headTail(s string, head, tail int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > head+tail+1 {
		cut := len(lines) - head - tail
		lines = append(append(lines[:head:head], fmt.Sprintf("... (%d lines)", cut)), lines[len(lines)-tail:]...)
	}
	return limit(strings.Join(lines, "\n"), head+tail+1, 3000)
}

// lastError is the last line of a test's stderr that says more than
// "exit status N" or "failed to create the container".
func lastError(s string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(logPrefix.ReplaceAllString(strings.TrimSpace(lines[i]), ""))
		if l == "" || strings.HasPrefix(l, "exit status ") || strings.HasPrefix(l, "failed to ") {
			continue
		}
		return l
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return logPrefix.ReplaceAllString(l, "")
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func mdCode(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "`", "'"), "|", `\|`)
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = "`" + x + "`"
	}
	return q
}
