package registry

import (
	"runtime"
	"strings"

	"berth/internal/errdefs"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostPlatform is the platform that berth runs on, as an image index
// names it: linux/amd64, linux/arm64/v8, linux/arm/v7.
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch p.Architecture {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform parses a platform as --platform takes it: "os/arch" or
// "os/arch/variant" ("linux/arm64/v8"), or an OS or an architecture alone
// ("linux", "arm64"), which takes the rest from the host. Architecture
// aliases are normalized as containerd does: x86_64 is amd64, aarch64 is
// arm64, armhf is arm/v7.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	host := HostPlatform()
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		if parts[0] == "" {
			return p, errdefs.Invalidf("invalid platform %q: empty", s)
		}
		if knownOS(parts[0]) {
			p = ocispec.Platform{OS: parts[0], Architecture: host.Architecture, Variant: host.Variant}
		} else {
			p = ocispec.Platform{OS: host.OS, Architecture: parts[0]}
		}
	case 2:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return p, errdefs.Invalidf("invalid platform %q: want os/arch[/variant]", s)
	}
	for _, part := range []string{p.OS, p.Architecture} {
		if part == "" {
			return p, errdefs.Invalidf("invalid platform %q: want os/arch[/variant]", s)
		}
	}
	return normalizePlatform(p), nil
}

// FormatPlatform writes a platform as os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func knownOS(s string) bool {
	switch s {
	case "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix", "plan9":
		return true
	}
	return false
}

// normalizePlatform spells a platform one way, so that samePlatform can
// compare them. It keeps only OS, architecture and variant.
func normalizePlatform(p ocispec.Platform) ocispec.Platform {
	os, arch, variant := strings.ToLower(p.OS), strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	if os == "macos" {
		os = "darwin"
	}
	switch arch {
	case "i386", "i686":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		switch variant {
		case "", "8", "v8", "v8.0":
			variant = "v8"
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "":
			variant = "v7"
		case "5", "6", "7", "8":
			variant = "v" + variant
		}
	}
	return ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
}

// compatible lists the platforms that can run on want, best first: want
// itself, then older variants of arm and amd64.
func compatible(want ocispec.Platform) []ocispec.Platform {
	want = normalizePlatform(want)
	list := []ocispec.Platform{want}
	older := func(variants ...string) {
		for i, v := range variants {
			if v == want.Variant {
				for _, o := range variants[i+1:] {
					list = append(list, ocispec.Platform{OS: want.OS, Architecture: want.Architecture, Variant: o})
				}
				return
			}
		}
	}
	switch want.Architecture {
	case "arm":
		older("v8", "v7", "v6", "v5")
	case "amd64":
		older("v4", "v3", "v2", "")
	}
	return list
}

// choosePlatform picks the entry of an index for want: the first entry of
// the best compatible platform. Entries without a platform are skipped.
func choosePlatform(entries []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	for _, p := range compatible(want) {
		for _, e := range entries {
			if e.Platform != nil && samePlatform(normalizePlatform(*e.Platform), p) {
				return e, nil
			}
		}
	}
	var have []string
	for _, e := range entries {
		if e.Platform != nil && e.Platform.OS != "unknown" {
			have = append(have, FormatPlatform(*e.Platform))
		}
	}
	return ocispec.Descriptor{}, errdefs.NotFoundf("no matching manifest for %s in the manifest list entries (it has %s)",
		FormatPlatform(normalizePlatform(want)), listOrNone(have))
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func samePlatform(a, b ocispec.Platform) bool {
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant
}
