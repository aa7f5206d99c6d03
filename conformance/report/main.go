// Command report reads the raw results that conformance/run.sh leaves in a
// directory and prints docs/CONFORMANCE.md: the run's host and versions, a
// per-test table for every runtime, the totals, and every failure of a
// runtime that the baseline (the first runtime) does not share, with the
// failing assertion's diagnostic, trimmed.
//
//	report DIR
//
// DIR holds meta (key=value lines), tests (one name a line), and for each
// runtime NAME: NAME/TEST.tap, NAME/TEST.err, NAME/TEST.rc, NAME/TEST.secs,
// NAME/TEST.leftover and NAME/calls.log (one runtime call a line: test,
// exit code, base64 stderr or "-", a note such as the status state
// printed or "-", shell-quoted arguments).
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: report DIR")
		os.Exit(2)
	}
	r, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	var buf strings.Builder
	r.write(&buf)
	text := buf.String()
	// Paths under the run's temp dir say nothing about the host: name it.
	if r.work != "" {
		text = strings.ReplaceAll(text, r.work, "$WORK")
	}
	if _, err := io.WriteString(os.Stdout, text); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// result is one TAP test line and the diagnostic lines under it.
type result struct {
	num    int
	ok     bool
	skip   bool // "# SKIP", or "# TODO" (an expected failure, not counted as one)
	orphan bool // an error block outside any result, counted as a failure
	desc   string
	diag   []string
}

// run is one validation test run against one runtime.
type run struct {
	results  []result
	plan     int // the sum of the plan lines; -1 when there was none
	rc       int
	secs     string
	errText  string
	leftover []string
}

func (r *run) counts() (pass, fail, skip int) {
	for _, x := range r.results {
		switch {
		case x.skip:
			skip++
		case x.ok:
			pass++
		default:
			fail++
		}
	}
	return
}

// problem says why a run that has no failing assertion still failed, or "".
func (r *run) problem() string {
	switch {
	case r.rc == 124 || r.rc == 137:
		return "timed out"
	case r.rc != 0:
		return fmt.Sprintf("exited with status %d", r.rc)
	}
	n := 0
	for _, x := range r.results {
		if !x.orphan {
			n++
		}
	}
	if r.plan >= 0 && r.plan != n {
		return fmt.Sprintf("planned %d results, printed %d", r.plan, n)
	}
	return ""
}

func (r *run) status() string {
	pass, fail, skip := r.counts()
	switch {
	case r.rc == 124 || r.rc == 137:
		return "timeout"
	case fail > 0 || r.problem() != "":
		return "fail"
	case pass == 0 && skip > 0:
		return "skip"
	}
	return "pass"
}

// failures are the keys of the failing assertions: the description and
// which occurrence of it this is, so that runs whose numbering differs
// still match. A run that failed without a failing assertion adds one.
func (r *run) failures() []string {
	var keys []string
	seen := map[string]int{}
	for _, x := range r.results {
		seen[x.desc]++
		if !x.ok && !x.skip {
			keys = append(keys, fmt.Sprintf("%s#%d", x.desc, seen[x.desc]))
		}
	}
	if p := r.problem(); p != "" {
		keys = append(keys, "test "+p)
	}
	return keys
}

func (r *run) find(key string) *result {
	seen := map[string]int{}
	for i, x := range r.results {
		seen[x.desc]++
		if fmt.Sprintf("%s#%d", x.desc, seen[x.desc]) == key {
			return &r.results[i]
		}
	}
	return nil
}

type call struct {
	test, stderr, note, args string
	rc                       int
}

type report struct {
	work     string // the run's temp dir
	meta     [][2]string
	runtimes []string
	runtime  map[string][2]string // name -> path, version
	tests    []string
	runs     map[string]map[string]*run // runtime -> test -> run
	calls    map[string][]call
}

func load(dir string) (*report, error) {
	r := &report{runtime: map[string][2]string{}, runs: map[string]map[string]*run{}, calls: map[string][]call{}}
	meta, err := os.ReadFile(filepath.Join(dir, "meta"))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(meta)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if k == "work" {
			r.work = v
			continue
		}
		if k == "runtime" {
			f := strings.SplitN(v, "\t", 3)
			for len(f) < 3 {
				f = append(f, "")
			}
			r.runtimes = append(r.runtimes, f[0])
			r.runtime[f[0]] = [2]string{f[1], f[2]}
			continue
		}
		r.meta = append(r.meta, [2]string{k, v})
	}
	tests, err := os.ReadFile(filepath.Join(dir, "tests"))
	if err != nil {
		return nil, err
	}
	r.tests = strings.Fields(string(tests))
	for _, n := range r.runtimes {
		r.runs[n] = map[string]*run{}
		for _, t := range r.tests {
			x, err := loadRun(filepath.Join(dir, n, t))
			if err != nil {
				return nil, err
			}
			r.runs[n][t] = x
		}
		r.calls[n], err = loadCalls(filepath.Join(dir, n, "calls.log"))
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

var resultLine = regexp.MustCompile(`^(not )?ok (\d+)(?: - (.*?)| # (SKIP|TODO)\b ?(.*?))?\s*$`)
var planLine = regexp.MustCompile(`^1\.\.(\d+)`)

// parseTAP reads the results of one test's output, which may hold several
// TAP streams (some tests print a second, empty one). A diagnostic belongs
// to the result before it, with two exceptions the suite relies on: the
// YAML block of runtimetest's output ("stdout" and "stderr") comes before
// the result it explains, and a YAML block with no result to belong to is
// how several tests (the hook tests among them) report an error; that one
// becomes a failing result of its own.
func parseTAP(text string) (results []result, plan int) {
	plan = -1
	cur := -1          // the result that diagnostic lines belong to
	var block []string // the YAML block being read
	var pending []string
	orphans := func() {
		if len(pending) > 0 {
			results = append(results, result{orphan: true, desc: "error outside any assertion: " + orphanError(pending), diag: pending})
			pending = nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if block != nil {
			block = append(block, line)
			if line == "  ..." {
				if cur >= 0 && !isInnerOutput(block) {
					results[cur].diag = append(results[cur].diag, block...)
				} else {
					orphans()
					pending = block
				}
				block = nil
			}
			continue
		}
		if line == "  ---" {
			block = []string{line}
			continue
		}
		if strings.HasPrefix(line, "TAP version") {
			orphans()
			cur = -1
			continue
		}
		if m := resultLine.FindStringSubmatch(line); m != nil {
			num, _ := strconv.Atoi(m[2])
			x := result{num: num, ok: m[1] == "", desc: m[3], diag: pending}
			pending = nil
			switch m[4] {
			case "SKIP":
				x.skip, x.desc = true, "SKIP "+m[5]
			case "TODO":
				x.skip, x.desc = true, "TODO "+m[5]
			}
			results = append(results, x)
			cur = len(results) - 1
			continue
		}
		if m := planLine.FindStringSubmatch(line); m != nil {
			orphans()
			n, _ := strconv.Atoi(m[1])
			plan = max(plan, 0) + n
			continue
		}
		if cur >= 0 && (strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "  ")) {
			results[cur].diag = append(results[cur].diag, line)
		}
	}
	if block != nil {
		pending = append(pending, block...)
	}
	orphans()
	return results, plan
}

// isInnerOutput says whether a YAML block is the one RuntimeInsideValidate
// prints, runtimetest's stdout and stderr, before its result.
func isInnerOutput(block []string) bool {
	v := yamlMap(block)
	_, out := v["stdout"]
	_, errOut := v["stderr"]
	return out && errOut
}

func yamlMap(block []string) map[string]any {
	var text []string
	for _, l := range block {
		if t := strings.TrimPrefix(l, "  "); t != "---" && t != "..." {
			text = append(text, t)
		}
	}
	var v map[string]any
	if json.Unmarshal([]byte(strings.Join(text, "\n")), &v) != nil {
		return nil
	}
	return v
}

// orphanError is the first line of the "error" field of a YAML block, or
// of the block itself.
func orphanError(block []string) string {
	if e, ok := yamlMap(block)["error"].(string); ok {
		return firstLine(e)
	}
	for _, l := range block {
		if t := strings.TrimSpace(l); t != "---" && t != "..." && t != "" {
			return t
		}
	}
	return ""
}

func loadRun(base string) (*run, error) {
	tap, err := os.ReadFile(base + ".tap")
	if err != nil {
		return nil, err
	}
	x := &run{}
	x.results, x.plan = parseTAP(string(tap))
	rc, err := os.ReadFile(base + ".rc")
	if err != nil {
		return nil, err
	}
	x.rc, _ = strconv.Atoi(strings.TrimSpace(string(rc)))
	secs, _ := os.ReadFile(base + ".secs")
	x.secs = strings.TrimSpace(string(secs))
	errText, _ := os.ReadFile(base + ".err")
	x.errText = string(errText)
	left, _ := os.ReadFile(base + ".leftover")
	for _, l := range strings.Split(string(left), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			x.leftover = append(x.leftover, l)
		}
	}
	return x, nil
}

func loadCalls(path string) ([]call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var calls []call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 5)
		if len(f) != 5 {
			continue
		}
		c := call{test: f[0], args: strings.TrimSpace(f[4])}
		if f[3] != "-" {
			c.note = f[3]
		}
		c.rc, _ = strconv.Atoi(f[1])
		if f[2] != "-" {
			b, _ := base64.StdEncoding.DecodeString(f[2])
			c.stderr = strings.TrimSpace(string(b))
		}
		calls = append(calls, c)
	}
	return calls, sc.Err()
}
