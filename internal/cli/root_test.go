package cli

import (
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestCommandName(t *testing.T) {
	for args, want := range map[string][]string{
		"run":     {"run", "--rm", "img"},
		"ps":      {"--root", "/x", "ps", "-a"},
		"exec":    {"--root=/x", "exec", "c", "true"},
		"":        {"--help"},
		"image":   {"image", "ls"},
		"__start": {"__start", "id"},
	} {
		if got := commandName(want); got != args {
			t.Errorf("commandName(%q) = %q, want %q", want, got, args)
		}
	}
	if got := commandName(nil); got != "" {
		t.Errorf("commandName(nil) = %q", got)
	}
}

// TestQuickCommandsMatchTheWholeTree: a quick command, built alone, is
// the command of the whole tree with the same name, with the same flags.
func TestQuickCommandsMatchTheWholeTree(t *testing.T) {
	whole, _ := newRootCommand("")
	for name := range quickCommands {
		alone, _ := newRootCommand(name)
		if n := len(alone.Commands()); n != 1 {
			t.Errorf("%s: the tree holds %d commands, want 1", name, n)
			continue
		}
		got := alone.Commands()[0]
		if got.Name() != name {
			t.Errorf("quickCommands[%q] builds %q", name, got.Name())
		}
		var want *cobra.Command
		for _, c := range whole.Commands() {
			if c.Name() == name {
				want = c
			}
		}
		if want == nil {
			t.Errorf("%s is not in the whole tree", name)
			continue
		}
		if g, w := flagList(got), flagList(want); !slices.Equal(g, w) {
			t.Errorf("%s: flags %v alone, %v in the whole tree", name, g, w)
		}
		if got.Use != want.Use || got.Hidden != want.Hidden {
			t.Errorf("%s: built alone differs from the whole tree's", name)
		}
	}
}

func flagList(c *cobra.Command) []string {
	var out []string
	c.Flags().VisitAll(func(f *pflag.Flag) { out = append(out, f.Name+"/"+f.Shorthand+"/"+f.DefValue) })
	slices.Sort(out)
	return out
}
