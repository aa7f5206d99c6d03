package registry

import (
	"errors"
	"testing"

	"berth/internal/errdefs"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParsePlatform(t *testing.T) {
	host := HostPlatform()
	for in, want := range map[string]string{
		"linux/amd64":      "linux/amd64",
		"linux/x86_64":     "linux/amd64",
		"linux/arm64":      "linux/arm64/v8",
		"linux/arm64/v8":   "linux/arm64/v8",
		"linux/aarch64":    "linux/arm64/v8",
		"linux/arm":        "linux/arm/v7",
		"linux/arm/v6":     "linux/arm/v6",
		"linux/armhf":      "linux/arm/v7",
		"Linux/AMD64":      "linux/amd64",
		"linux/amd64/v3":   "linux/amd64/v3",
		"linux/386":        "linux/386",
		"s390x":            host.OS + "/s390x",
		"linux/riscv64":    "linux/riscv64",
		"windows/amd64":    "windows/amd64",
		"linux/ppc64le":    "linux/ppc64le",
		"linux/arm/7":      "linux/arm/v7",
		"linux/amd64/v1":   "linux/amd64",
		"linux/i386":       "linux/386",
		"linux/arm64/v8.0": "linux/arm64/v8",
	} {
		p, err := ParsePlatform(in)
		if err != nil {
			t.Errorf("ParsePlatform(%q): %v", in, err)
			continue
		}
		if got := FormatPlatform(p); got != want {
			t.Errorf("ParsePlatform(%q) = %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := ParsePlatform(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParsePlatform(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestChoosePlatform(t *testing.T) {
	entry := func(d, os, arch, variant string) ocispec.Descriptor {
		return ocispec.Descriptor{Digest: digest.Digest("sha256:" + d), Platform: &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}}
	}
	entries := []ocispec.Descriptor{
		{Digest: "sha256:none"},
		entry("amd64", "linux", "amd64", ""),
		entry("arm64", "linux", "arm64", ""),
		entry("armv6", "linux", "arm", "v6"),
		entry("armv5", "linux", "arm", "v5"),
		entry("att", "unknown", "unknown", ""),
	}
	for want, p := range map[string]string{
		"amd64": "linux/amd64",
		"arm64": "linux/arm64/v8",
		"armv6": "linux/arm/v7", // v7 runs v6, the best there is
	} {
		plat, _ := ParsePlatform(p)
		got, err := choosePlatform(entries, plat)
		if err != nil || string(got.Digest) != "sha256:"+want {
			t.Errorf("choosePlatform(%s) = %s, %v; want %s", p, got.Digest, err, want)
		}
	}
	plat, _ := ParsePlatform("linux/amd64/v3")
	if got, err := choosePlatform(entries, plat); err != nil || got.Digest != "sha256:amd64" {
		t.Errorf("linux/amd64/v3 = %s, %v; want the plain amd64 entry", got.Digest, err)
	}
	plat, _ = ParsePlatform("linux/arm/v5")
	if got, _ := choosePlatform(entries, plat); got.Digest != "sha256:armv5" {
		t.Errorf("linux/arm/v5 = %s, want armv5 (v5 does not run v6)", got.Digest)
	}
	plat, _ = ParsePlatform("windows/amd64")
	_, err := choosePlatform(entries, plat)
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "no matching manifest for windows/amd64 in the manifest list entries (it has linux/amd64, linux/arm64, linux/arm/v6, linux/arm/v5)" {
		t.Errorf("windows/amd64: %v", err)
	}
}
