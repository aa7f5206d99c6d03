package build

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"berth/internal/errdefs"
)

// maxDockerfile bounds the Dockerfile read: it is untrusted input.
const maxDockerfile = 4 << 20

// Dockerfile is a parsed Dockerfile: its stages and the ARGs before the
// first FROM.
type Dockerfile struct {
	Name     string
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	Escape   rune
}

// Parse reads a Dockerfile named name (for error messages). An error
// names the file, the line and the instruction.
func Parse(name string, data []byte) (*Dockerfile, error) {
	if len(data) > maxDockerfile {
		return nil, errdefs.Invalidf("%s: larger than %d bytes", name, maxDockerfile)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, errdefs.Invalidf("%s%s: %v", name, lineOf(err), stripLocation(err))
	}
	df := &Dockerfile{Name: name, Escape: res.EscapeToken}
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstruction(n)
		if err != nil {
			return nil, errdefs.Invalidf("%s:%d: %s: %v", name, n.StartLine, strings.ToUpper(n.Value), stripLocation(err))
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			df.Stages = append(df.Stages, *c)
		case *instructions.ArgCommand:
			if len(df.Stages) == 0 {
				df.MetaArgs = append(df.MetaArgs, *c)
				continue
			}
			df.Stages[len(df.Stages)-1].AddCommand(c)
		case instructions.Command:
			if len(df.Stages) == 0 {
				return nil, errdefs.Invalidf("%s:%d: %s: no FROM before it: a Dockerfile starts with FROM (ARG may come before)",
					name, n.StartLine, strings.ToUpper(n.Value))
			}
			df.Stages[len(df.Stages)-1].AddCommand(c)
		default:
			return nil, errdefs.Invalidf("%s:%d: %s: not an instruction", name, n.StartLine, strings.ToUpper(n.Value))
		}
	}
	if len(df.Stages) == 0 {
		return nil, errdefs.Invalidf("%s: no FROM instruction: the file has no build stage", name)
	}
	seen := map[string]int{}
	for i, s := range df.Stages {
		if s.Name == "" {
			continue
		}
		if j, ok := seen[s.Name]; ok {
			return nil, errdefs.Invalidf("%s:%d: FROM: stage name %q is already used by stage %d", name, line(s.Location), s.Name, j)
		}
		seen[s.Name] = i
	}
	return df, nil
}

func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// lineOf is ":N" for an error the parser located, or "".
func lineOf(err error) string {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return fmt.Sprintf(":%d", le.Locations[0][0].Start.Line)
	}
	return ""
}

// stripLocation is err's message without the location the parser may
// have wrapped it in; it is printed in front instead.
func stripLocation(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) {
		return le.Unwrap()
	}
	return err
}
