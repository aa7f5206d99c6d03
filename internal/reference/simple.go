package reference

import "strings"

// parseSimple parses the shape most references have, a Docker Hub name
// with an optional tag (docker.io/PATH[:TAG], as parse sees it), without
// the regular expressions: compiling them costs a short-lived command
// more than everything else it does with a name. It gives ok false for
// anything else, which parse then reads in full; where it gives ok, the
// result is the regular expressions' (FuzzSimple checks).
func parseSimple(s string) (r Ref, ok bool) {
	rest, ok := strings.CutPrefix(s, DefaultDomain+"/")
	if !ok || len(s) > maxNameLength {
		return Ref{}, false
	}
	path, tag, hasTag := strings.Cut(rest, ":")
	if (hasTag && !isTag(tag)) || !isPath(path) {
		return Ref{}, false
	}
	return Ref{domain: DefaultDomain, path: path, tag: tag}, true
}

// isPath reports whether p is path-component ['/' path-component]*, each
// component alphanumerics separated by ".", "_", "__" or dashes.
func isPath(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if !isComponent(c) {
			return false
		}
	}
	return true
}

func isComponent(c string) bool {
	alnum := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
	if c == "" || !alnum(c[0]) || !alnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if alnum(c[i]) {
			i++
			continue
		}
		// a separator, between alphanumerics
		j := i
		for j < len(c) && !alnum(c[j]) {
			j++
		}
		switch sep := c[i:j]; {
		case sep == "." || sep == "_" || sep == "__":
		case strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}

// isTag reports whether t is [\w][\w.-]{0,127}.
func isTag(t string) bool {
	word := func(b byte) bool {
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
	}
	if t == "" || len(t) > 128 || !word(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if !word(t[i]) && t[i] != '.' && t[i] != '-' {
			return false
		}
	}
	return true
}

// isIdentifier reports whether s is 64 lower-case hex digits, an image ID.
func isIdentifier(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}
