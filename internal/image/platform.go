package image

import (
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
)

// HostPlatform is the platform this berth runs on.
func HostPlatform() *ocispec.Platform {
	p := &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// ParsePlatform reads "os/arch[/variant]" as --platform takes it.
func ParsePlatform(s string) (*ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, errdefs.Invalidf("invalid platform %q: want os/arch[/variant], such as linux/amd64", s)
	}
	p := &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.Architecture == "arm64" && p.Variant == "" {
		p.Variant = "v8"
	}
	return p, nil
}

// PlatformMatches says whether an image built for have runs as want.
func PlatformMatches(have, want ocispec.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	hv := have.Variant
	if have.Architecture == "arm64" && hv == "" {
		hv = "v8"
	}
	return want.Variant == "" || hv == want.Variant
}

// PlatformString is "os/arch[/variant]".
func PlatformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
