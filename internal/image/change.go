package image

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"berth/internal/errdefs"
)

// ApplyChanges applies Dockerfile instructions, as `import --change` and
// `commit --change` take them, to cfg. The instructions are parsed by
// BuildKit's Dockerfile parser, so they read exactly as in a Dockerfile.
func ApplyChanges(cfg *ContainerConfig, changes []string) error {
	for _, c := range changes {
		res, err := parser.Parse(strings.NewReader(c))
		if err != nil {
			return errdefs.Invalidf("--change %q: %v", c, err)
		}
		for _, n := range res.AST.Children {
			if err := applyChange(cfg, n); err != nil {
				return errdefs.Invalidf("--change %q: %v", c, err)
			}
		}
	}
	return nil
}

func args(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

func applyChange(cfg *ContainerConfig, n *parser.Node) error {
	a := args(n)
	command := func() []string {
		if n.Attributes["json"] {
			return a
		}
		return []string{"/bin/sh", "-c", strings.Join(a, " ")}
	}
	need := func(k int) error {
		if len(a) < k {
			return errdefs.Invalidf("%s needs an argument", strings.ToUpper(n.Value))
		}
		return nil
	}
	switch strings.ToLower(n.Value) {
	case "cmd":
		cfg.Cmd = command()
	case "entrypoint":
		cfg.Entrypoint = command()
	case "env":
		for _, kv := range pairs(a) {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
		}
	case "label":
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs(a) {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "expose":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range a {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "volume":
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range a {
			cfg.Volumes[v] = struct{}{}
		}
	case "user":
		if err := need(1); err != nil {
			return err
		}
		cfg.User = a[0]
	case "workdir":
		if err := need(1); err != nil {
			return err
		}
		cfg.WorkingDir = a[0]
	case "stopsignal":
		if err := need(1); err != nil {
			return err
		}
		cfg.StopSignal = a[0]
	case "onbuild":
		cfg.OnBuild = append(cfg.OnBuild, strings.TrimSpace(strings.TrimPrefix(n.Original, strings.Fields(n.Original)[0])))
	default:
		return errdefs.Invalidf("%s is not an instruction --change takes (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)", strings.ToUpper(n.Value))
	}
	return nil
}

// pairs reads the parser's name/value nodes of ENV and LABEL, which come
// as name, value, separator.
func pairs(a []string) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(a); i += 3 {
		out = append(out, [2]string{a[i], a[i+1]})
	}
	return out
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
