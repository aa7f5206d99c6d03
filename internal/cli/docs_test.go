package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"berth/internal/runcli"
)

// TestEveryCommandDocumented holds berth to its rule that every command
// and flag a user can type is documented: in --help (a Short text for each
// command, a usage text for each flag), and in README.md or docs/, where a
// command has a section and each of its flags appears in it. What counts
// as a command's section is written down in docs/DEVELOPING.md
// ("Documenting commands").
func TestEveryCommandDocumented(t *testing.T) {
	docs := loadDocs(t, "../..")
	var problems []string
	for _, c := range userCommands() {
		problems = append(problems, c.check(docs)...)
	}
	if len(problems) > 0 {
		t.Errorf("%d undocumented commands and flags (the rules are in docs/DEVELOPING.md, \"Documenting commands\"):\n%s",
			len(problems), strings.Join(problems, "\n"))
	}
}

// runtimeFile is the runtime face's own reference: the whole file
// documents `berth runtime`, and its headings name verbs alone.
const runtimeFile = "docs/RUNTIME.md"

// reports are written by scripts: they record runs (`berth create` in a
// log of the conformance suite), and document nothing.
var reports = map[string]bool{"docs/BENCHMARKS.md": true, "docs/CONFORMANCE.md": true}

// userCmd is one command a user can type, by its path under berth, with
// the flags it defines (inherited ones are checked where they are
// defined).
type userCmd struct {
	path  string // "berth volume create"; berth-runc's verbs are under "berth runtime"
	short string
	flags []*pflag.Flag
	// anywhere says the flags may be documented anywhere: berth's global
	// flags, which apply to every command.
	anywhere bool
}

// userCommands walks berth's command tree and berth-runc's, as Main
// builds them, and returns every command that is not hidden.
func userCommands() []*userCmd {
	byPath := map[string]*userCmd{}
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		if c.Hidden {
			return
		}
		uc := byPath[path]
		if uc == nil {
			uc = &userCmd{path: path, short: c.Short}
			byPath[path] = uc
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !slices.ContainsFunc(uc.flags, func(g *pflag.Flag) bool { return g.Name == f.Name }) {
				uc.flags = append(uc.flags, f)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub, path+" "+sub.Name())
		}
	}
	for _, argv0 := range []string{"berth", "berth-runc"} {
		root, _ := newRootCommand("")
		if argv0 == "berth-runc" {
			root, _ = runcli.NewStandaloneCommand()
		}
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		root.InitDefaultVersionFlag()
		path := "berth"
		if argv0 == "berth-runc" {
			path = "berth runtime"
		}
		walk(root, path)
	}
	byPath["berth"].anywhere = true
	var out []*userCmd
	for _, c := range byPath {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func (c *userCmd) check(docs []*docFile) []string {
	var problems []string
	if strings.TrimSpace(c.short) == "" {
		problems = append(problems, c.path+": no Short help text")
	}
	for _, f := range c.flags {
		if strings.TrimSpace(f.Usage) == "" {
			problems = append(problems, c.path+": "+flagNames(f)+" has no help text")
		}
	}
	var sections []*docSection
	if c.anywhere {
		for _, d := range docs {
			sections = append(sections, d.whole())
		}
	} else {
		for _, d := range docs {
			sections = append(sections, d.sectionsFor(c.path)...)
		}
	}
	if len(sections) == 0 {
		p := c.path + ": not documented: want a usage line `" + c.path + " ...` in a code block, or a heading naming it, in README.md or docs/"
		if len(c.flags) > 0 {
			var names []string
			for _, f := range c.flags {
				names = append(names, flagNames(f))
			}
			p += " (flags: " + strings.Join(names, ", ") + ")"
		}
		return append(problems, p)
	}
	for _, f := range c.flags {
		missing := []string{"--" + f.Name}
		if f.Shorthand != "" {
			missing = append(missing, "-"+f.Shorthand)
		}
		missing = slices.DeleteFunc(missing, func(name string) bool {
			return slices.ContainsFunc(sections, func(s *docSection) bool { return mentionsFlag(s.text, name) })
		})
		if len(missing) > 0 {
			var where []string
			for _, s := range sections {
				where = append(where, s.String())
			}
			if c.anywhere {
				where = []string{"README.md or docs/"}
			}
			problems = append(problems, c.path+": "+strings.Join(missing, " and ")+" not in "+strings.Join(where, ", "))
		}
	}
	return problems
}

func flagNames(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "-" + f.Shorthand + "/--" + f.Name
	}
	return "--" + f.Name
}

// mentionsFlag says whether text has name (`--memory`, `-m`) as a word of
// its own: `--memory` is not in `--memory-swap`, but is in `--memory=1g`.
func mentionsFlag(text, name string) bool {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_-])`)
	return re.MatchString(text)
}

// docFile is one Markdown file, split into lines, with its headings.
type docFile struct {
	name   string   // "docs/CONTAINERS.md"
	lines  []string //
	inCode []bool   // the line is in a fenced code block (or is its fence)
	// heads are the headings' line indexes, in order.
	heads []int
}

// docSection is a heading's section: from the heading to the next
// heading of the same or a higher level (lines [start, end)).
type docSection struct {
	file       *docFile
	start, end int
	text       string
}

func (s *docSection) String() string {
	if s.start == 0 && s.end == len(s.file.lines) {
		return s.file.name
	}
	return s.file.name + " \"" + strings.TrimSpace(s.file.lines[s.start]) + "\" (line " + strconv.Itoa(s.start+1) + ")"
}

func loadDocs(t *testing.T, repo string) []*docFile {
	t.Helper()
	names := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repo, "docs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(repo, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var docs []*docFile
	for _, name := range names {
		if reports[name] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, parseDoc(name, string(b)))
	}
	return docs
}

var fenceRe = regexp.MustCompile("^\\s*(```|~~~)")

func parseDoc(name, text string) *docFile {
	d := &docFile{name: name, lines: strings.Split(text, "\n")}
	d.inCode = make([]bool, len(d.lines))
	code := false
	for i, l := range d.lines {
		if fenceRe.MatchString(l) {
			d.inCode[i] = true
			code = !code
			continue
		}
		d.inCode[i] = code
		if !code && headingLevel(l) > 0 {
			d.heads = append(d.heads, i)
		}
	}
	return d
}

// headingLevel is the level of an ATX heading (`## x` is 2), or 0.
func headingLevel(line string) int {
	n := len(line) - len(strings.TrimLeft(line, "#"))
	if n == 0 || n > 6 || len(line) == n || line[n] != ' ' {
		return 0
	}
	return n
}

func (d *docFile) whole() *docSection {
	return &docSection{file: d, start: 0, end: len(d.lines), text: strings.Join(d.lines, "\n")}
}

// section is the section of the heading at line h, or, for h < 0, the
// text before the first heading.
func (d *docFile) section(h int) *docSection {
	if h < 0 {
		end := len(d.lines)
		if len(d.heads) > 0 {
			end = d.heads[0]
		}
		return &docSection{file: d, start: 0, end: end, text: strings.Join(d.lines[:end], "\n")}
	}
	level, end := headingLevel(d.lines[h]), len(d.lines)
	for _, o := range d.heads {
		if o > h && headingLevel(d.lines[o]) <= level {
			end = o
			break
		}
	}
	return &docSection{file: d, start: h, end: end, text: strings.Join(d.lines[h:end], "\n")}
}

// sectionsFor returns the sections of d that document the command at
// path: those of the headings that name it, and those that hold a usage
// line of it.
func (d *docFile) sectionsFor(path string) []*docSection {
	words := strings.Fields(path)[1:] // without "berth"
	if d.name == runtimeFile {
		switch {
		case len(words) == 1 && words[0] == "runtime":
			return []*docSection{d.whole()}
		case len(words) > 1 && words[0] == "runtime":
			words = words[1:]
		default:
			words = nil // its headings name verbs of the runtime
		}
	}
	var out []*docSection
	seen := map[int]bool{}
	add := func(h int) {
		if !seen[h] {
			seen[h] = true
			out = append(out, d.section(h))
		}
	}
	for _, h := range d.heads {
		if containsWords(headingWords(d.lines[h]), words) {
			add(h)
		}
	}
	for i, l := range d.lines {
		if d.inCode[i] && isUsageLine(l, path) {
			h := -1
			for _, o := range d.heads {
				if o < i {
					h = o
				}
			}
			add(h)
		}
	}
	return out
}

var wordRe = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9_-]*`)

// headingWords are a heading's words, in their case: commands are
// lower case, so "## run and create" names two and "### Run one
// container" none.
func headingWords(line string) []string {
	return wordRe.FindAllString(strings.TrimLeft(line, "#"), -1)
}

// containsWords says whether want occurs in words, in order and together.
func containsWords(words, want []string) bool {
	if len(want) == 0 {
		return false
	}
	for i := 0; i+len(want) <= len(words); i++ {
		if slices.Equal(words[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

// isUsageLine says whether a line of a code block runs the command at
// path: after an optional prompt (`$ `, `# `), the line, or a part of it
// after `|`, `&&` or `;`, starts with the path's words. The program may
// have a directory (`bin/berth`), `berth-runc` stands for
// `berth runtime`, and a word with `|` in it is a choice of words
// (`berth completion bash|zsh`).
func isUsageLine(line, path string) bool {
	want := strings.Fields(path)
	line = strings.TrimSpace(line)
	for _, prompt := range []string{"$ ", "# "} {
		line = strings.TrimPrefix(line, prompt)
	}
	for _, part := range regexp.MustCompile(`\|\s|&&|;`).Split(line, -1) {
		words := strings.Fields(part)
		if len(words) == 0 {
			continue
		}
		switch filepath.Base(words[0]) {
		case "berth":
			words[0] = "berth"
		case "berth-runc":
			words = append([]string{"berth", "runtime"}, words[1:]...)
		default:
			continue
		}
		if len(words) < len(want) {
			continue
		}
		ok := true
		for i, w := range want {
			if !slices.Contains(strings.Split(words[i], "|"), w) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestDocSections checks the rules TestEveryCommandDocumented applies, on
// a page made for it.
func TestDocSections(t *testing.T) {
	page := parseDoc("docs/X.md", strings.Join([]string{
		"# X",                                   // 0
		"## run and create",                     // 1
		"```",                                   // 2
		"# a comment, not a heading",            // 3
		"berth container run|create ...",        // 4
		"```",                                   // 5
		"`-d`, `--detach`; not `--memory-swap`", // 6
		"### Run one container",                 // 7
		"## berth volume",                       // 8
		"```",                                   // 9
		"$ bin/berth volume rm [-f] VOLUME",     // 10
		"tar -c . | berth-runc run -b . c1 && berth network ls", // 11
		"```",        // 12
		"### create", // 13
	}, "\n"))
	for _, c := range []struct {
		path string
		want []int // the sections' first lines
	}{
		{"berth run", []int{1}},
		{"berth create", []int{1, 13}},
		{"berth container run", []int{1}},
		{"berth container create", []int{1}},
		{"berth container rm", nil},
		{"berth volume", []int{8}},
		{"berth volume rm", []int{8}},
		{"berth runtime run", []int{8}},
		{"berth network ls", []int{8}},
		{"berth network", []int{8}},
		{"berth rm", nil},
		{"berth a", nil},
	} {
		var got []int
		for _, s := range page.sectionsFor(c.path) {
			got = append(got, s.start)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("sectionsFor(%q) starts at lines %v, want %v", c.path, got, c.want)
		}
	}
	if s := page.section(1); s.end != 8 {
		t.Errorf("section of %q ends at line %d, want 8", page.lines[1], s.end)
	}
	if s := page.section(7); s.end != 8 {
		t.Errorf("section of %q ends at line %d, want 8", page.lines[7], s.end)
	}
	if s := page.section(0); s.end != len(page.lines) {
		t.Errorf("section of %q ends at line %d, want the end, %d", page.lines[0], s.end, len(page.lines))
	}
	runtime := parseDoc(runtimeFile, "# runtime\n## kill\n### run\n")
	for path, want := range map[string][]int{
		"berth runtime": {0}, "berth runtime kill": {1}, "berth kill": nil, "berth run": nil,
	} {
		var got []int
		for _, s := range runtime.sectionsFor(path) {
			got = append(got, s.start)
		}
		if !slices.Equal(got, want) {
			t.Errorf("in %s, sectionsFor(%q) starts at lines %v, want %v", runtimeFile, path, got, want)
		}
	}
	text := strings.Join(page.lines[1:8], "\n")
	for name, want := range map[string]bool{
		"--detach": true, "-d": true, "--memory-swap": true, "--memory": false, "-f": false, "--create": false,
	} {
		if got := mentionsFlag(text, name); got != want {
			t.Errorf("mentionsFlag(section, %q) = %v, want %v", name, got, want)
		}
	}
}
