package registry

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"berth/internal/errdefs"
)

// Config is berth's registry configuration, read from a JSON file:
//
//	{
//	  "registries": {
//	    "docker.io":   {"mirrors": ["https://mirror.local:5000"]},
//	    "myhost:5000": {"insecure": true},
//	    "corp.example": {"ca": "/etc/berth/corp-ca.pem"}
//	  }
//	}
//
// Keys are registry hosts as references name them, with the port when
// there is one; "docker.io", "index.docker.io" and
// "https://index.docker.io/v1/" all mean Docker Hub.
//
// Mirrors are tried in order before the registry itself, for pulls only;
// pushes always go to the registry. A mirror that fails, for any reason,
// passes the pull on to the next one and finally to the registry. A mirror
// gets the credentials stored for its own host, never the registry's.
//
// Insecure lets berth talk plain HTTP to the registry and accept any TLS
// certificate from it. As Docker does, berth treats a registry on this
// machine as insecure without configuration: "localhost", any address in
// 127.0.0.0/8, and ::1, on any port. Every other host gets HTTPS with
// verified certificates unless it is marked insecure here, or is a mirror
// given with an "http://" URL.
//
// CA names a PEM file of certificate authorities trusted for the host, on
// top of the system's.
type Config struct {
	Registries map[string]HostConfig `json:"registries,omitempty"`

	// DockerConfig is the directory of Docker's config.json, where
	// credentials live. Empty means $DOCKER_CONFIG, or ~/.docker without
	// it. It is not read from the file: it is the CLI's --config.
	DockerConfig string `json:"-"`
}

// HostConfig is the configuration of one registry host.
type HostConfig struct {
	Mirrors  []string `json:"mirrors,omitempty"`
	Insecure bool     `json:"insecure,omitempty"`
	CA       string   `json:"ca,omitempty"`
}

// mirror is a parsed mirror URL.
type mirror struct {
	host     string
	insecure bool
}

// LoadConfig reads berth's registry configuration from path. A missing
// file is an empty configuration. Unknown fields, bad mirror URLs and
// unreadable CA files are errors that name the file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, errdefs.Invalidf("registry config %s: %v", path, err)
	}
	if err := c.normalize(filepath.Dir(path)); err != nil {
		return nil, errdefs.Invalidf("registry config %s: %v", path, err)
	}
	return &c, nil
}

// normalize keys the hosts canonically, checks the mirrors, and makes
// relative CA paths relative to dir.
func (c *Config) normalize(dir string) error {
	hosts := make(map[string]HostConfig, len(c.Registries))
	for key, h := range c.Registries {
		host := CanonicalHost(key)
		if host == "" {
			return fmt.Errorf("registry %q: not a host name", key)
		}
		if _, dup := hosts[host]; dup {
			return fmt.Errorf("registry %q: %s is configured twice", key, host)
		}
		for _, m := range h.Mirrors {
			if _, err := parseMirror(m); err != nil {
				return fmt.Errorf("registry %q: %v", key, err)
			}
		}
		if h.CA != "" && !filepath.IsAbs(h.CA) {
			h.CA = filepath.Join(dir, h.CA)
		}
		hosts[host] = h
	}
	c.Registries = hosts
	return nil
}

func parseMirror(s string) (mirror, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return mirror{}, fmt.Errorf("mirror %q: want an http:// or https:// URL of a host", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return mirror{}, fmt.Errorf("mirror %q: a mirror is a host, without path, query or user", s)
	}
	return mirror{host: CanonicalHost(u.Host), insecure: u.Scheme == "http"}, nil
}

// host returns the configuration of a host; the zero HostConfig when
// there is none.
func (c *Config) host(host string) HostConfig {
	if c == nil {
		return HostConfig{}
	}
	host = CanonicalHost(host)
	if h, ok := c.Registries[host]; ok {
		return h
	}
	// A Config made in Go may key hosts in another spelling.
	for key, h := range c.Registries {
		if CanonicalHost(key) == host {
			return h
		}
	}
	return HostConfig{}
}

// mirrors returns the mirrors of a registry host, in order.
func (c *Config) mirrors(host string) []mirror {
	var ms []mirror
	for _, s := range c.host(host).Mirrors {
		if m, err := parseMirror(s); err == nil {
			ms = append(ms, m)
		}
	}
	return ms
}

// IsInsecure reports whether berth may talk plain HTTP to host[:port] and
// skip the verification of its certificate: the host is on this machine
// (localhost, 127.0.0.0/8, ::1), marked insecure, or an http:// mirror.
func (c *Config) IsInsecure(host string) bool {
	if isLoopback(host) || c.host(host).Insecure {
		return true
	}
	if c == nil {
		return false
	}
	host = CanonicalHost(host)
	for _, h := range c.Registries {
		for _, s := range h.Mirrors {
			if m, err := parseMirror(s); err == nil && m.insecure && m.host == host {
				return true
			}
		}
	}
	return false
}

// rootCAs returns the system's CAs plus those configured for host, or nil
// (the system's alone) when none are.
func (c *Config) rootCAs(host string) (*x509.CertPool, error) {
	file := c.host(host).CA
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA of registry %s: %w", host, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA of registry %s: %s holds no PEM certificate", host, file)
	}
	return pool, nil
}
