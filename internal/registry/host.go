package registry

import (
	"net"
	"net/netip"
	"strings"

	"github.com/docker/cli/cli/config/credentials"
)

const (
	// dockerHub is how berth names Docker Hub in its config and references.
	dockerHub = "docker.io"
	// dockerHubAuthKey is the key of Docker Hub's credentials in Docker's
	// config.json, kept from the v1 API.
	dockerHubAuthKey = "https://index.docker.io/v1/"
	// dockerHubHost is the host that serves Docker Hub's v2 API for
	// go-containerregistry.
	dockerHubHost = "index.docker.io"
)

// CanonicalHost returns the host[:port] that a registry name stands for,
// as Docker normalizes it: a URL such as "https://myhost:5000/v2/" becomes
// "myhost:5000", and "docker.io", "index.docker.io" and
// "https://index.docker.io/v1/" all become "docker.io".
func CanonicalHost(s string) string {
	host := strings.ToLower(credentials.ConvertToHostname(strings.TrimSpace(s)))
	if host == dockerHubHost {
		return dockerHub
	}
	return host
}

// AuthKey is the key under which Docker's config.json keeps the
// credentials of a registry: "https://index.docker.io/v1/" for Docker Hub,
// the canonical host[:port] for any other.
func AuthKey(host string) string {
	host = CanonicalHost(host)
	if host == dockerHub {
		return dockerHubAuthKey
	}
	return host
}

// endpointHost is the host that serves a registry's API: Docker Hub's
// canonical name is not a host.
func endpointHost(host string) string {
	if host == dockerHub {
		return dockerHubHost
	}
	return host
}

// isLoopback reports whether host[:port] names this machine: "localhost",
// an address in 127.0.0.0/8, or ::1. Such registries are insecure without
// configuration, as Docker treats them.
func isLoopback(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(name)
	return err == nil && addr.Unmap().IsLoopback()
}

// sameHost reports whether two host[:port] forms name the same endpoint
// for a scheme, so that "host" and "host:443" agree over https.
func sameHost(a, b, scheme string) bool {
	return withPort(a, scheme) == withPort(b, scheme)
}

func withPort(host, scheme string) string {
	host = strings.ToLower(host)
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}
