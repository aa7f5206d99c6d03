// Package registrytest starts a real registry for tests: Debian's
// docker-registry (the CNCF distribution registry), on 127.0.0.1 with a
// free port and its own storage in a temp dir. berth has no internet, and
// a mock would agree with berth's own reading of the distribution API, so
// tests of pulls, pushes and logins talk to the real thing. Options add
// htpasswd authentication and TLS with a certificate made for the test.
// The registry needs no root; a test skips with the reason when the binary
// is not installed.
package registrytest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// Hostname is a name that the TLS certificate of a registry covers besides
// 127.0.0.1, ::1 and localhost, for tests that reach the registry by a
// name that is not this machine's, with a dialer that sends it to
// 127.0.0.1. The .test top-level domain is reserved for testing.
const Hostname = "registry.test"

// Registry is a running registry. It stops when the test ends.
type Registry struct {
	// Host is the registry's host:port, "127.0.0.1:NNNNN".
	Host string
	// URL is "http://Host" or, with TLS, "https://Host".
	URL string
	// User and Password are the htpasswd credentials, when asked for.
	User, Password string
	// CAFile is the PEM file of the CA that signed the registry's
	// certificate, and CAPool a pool holding it; both only with TLS.
	CAFile string
	CAPool *x509.CertPool
	// Dir holds the registry's config, certificates and storage.
	Dir string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	logFile string        // the registry's stdout and stderr
}

// Option configures the registry that Start starts.
type Option func(*options)

type options struct {
	user, password string
	tls            bool
}

// WithBasicAuth protects the registry with htpasswd basic authentication
// that accepts user and password.
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// WithTLS serves the registry over HTTPS with a certificate for 127.0.0.1,
// signed by a CA made for this registry alone.
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// settings are the parts of the registry's config.yml that vary.
type settings struct {
	addr, storage     string
	htpasswd          string
	certFile, keyFile string
}

// Start starts a registry on 127.0.0.1 and waits until it answers /v2/.
// It skips the test when the registry binary is not installed.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("needs the registry: %s is missing (apt-get install docker-registry)", Binary)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := &Registry{Dir: t.TempDir(), User: o.user, Password: o.password}
	cfg := settings{storage: filepath.Join(r.Dir, "storage")}
	if o.user != "" {
		path, err := writeHtpasswd(r.Dir, o.user, o.password)
		if err != nil {
			t.Skipf("needs htpasswd: %v", err)
		}
		cfg.htpasswd = path
	}
	scheme := "http"
	if o.tls {
		certs, err := writeCertificates(r.Dir)
		if err != nil {
			t.Fatalf("making the registry's certificates: %v", err)
		}
		r.CAFile, r.CAPool = certs.caFile, certs.pool
		cfg.certFile, cfg.keyFile = certs.certFile, certs.keyFile
		scheme = "https"
	}
	// Another process may take the free port before the registry binds
	// it; then the registry exits at once, and we try another port.
	var err error
	for try := 0; try < 3; try++ {
		if err = r.start(cfg); err != nil {
			break
		}
		r.URL = scheme + "://" + r.Host
		if err = r.waitReady(10 * time.Second); !errors.Is(err, errExited) {
			break
		}
	}
	if r.cmd != nil {
		t.Cleanup(func() {
			r.stop()
			if t.Failed() {
				t.Logf("registry %s log:\n%s", r.Host, r.Logs())
			}
		})
	}
	if err != nil {
		t.Fatalf("starting %s: %v\n%s", Binary, err, r.Logs())
	}
	return r
}

// Ref returns a reference to repository path on this registry, such as
// "127.0.0.1:NNNNN/path".
func (r *Registry) Ref(path string) string { return r.Host + "/" + path }

// Logs returns what the registry has logged so far: its access log and
// its own warnings and errors. The registry writes the file itself, so a
// request's line is there once the registry has finished the request.
func (r *Registry) Logs() string {
	data, _ := os.ReadFile(r.logFile)
	return string(data)
}

// start writes a config for a free port and starts the registry on it.
func (r *Registry) start(cfg settings) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	r.Host = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.addr = r.Host
	config := filepath.Join(r.Dir, "config.yml")
	if err := os.WriteFile(config, []byte(configYAML(cfg)), 0o600); err != nil {
		return err
	}
	r.logFile = filepath.Join(r.Dir, "registry.log")
	log, err := os.Create(r.logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(Binary, "serve", config)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited
	return nil
}

// configYAML is the registry's config.yml for cfg.
func configYAML(cfg settings) string {
	lines := []string{
		"version: 0.1",
		"log:",
		"  level: warn",
		"storage:",
		"  filesystem:",
		"    rootdirectory: " + cfg.storage,
		"  delete:",
		"    enabled: true",
		"http:",
		"  addr: " + cfg.addr,
		"  secret: registrytest",
	}
	if cfg.certFile != "" {
		lines = append(lines, "  tls:", "    certificate: "+cfg.certFile, "    key: "+cfg.keyFile)
	}
	if cfg.htpasswd != "" {
		lines = append(lines, "auth:", "  htpasswd:", "    realm: registrytest", "    path: "+cfg.htpasswd)
	}
	return strings.Join(lines, "\n") + "\n"
}

// errExited is waitReady's error when the registry has exited.
var errExited = errors.New("the registry exited before it answered")

// waitReady waits until the registry answers /v2/.
func (r *Registry) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	if r.CAPool != nil {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.CAPool}}
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		select {
		case <-r.exited:
			return fmt.Errorf("%w: %v", errExited, r.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on /v2/ after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *Registry) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeHtpasswd writes an htpasswd file with a bcrypt entry, the only
// kind the registry accepts, made by Apache's htpasswd.
func writeHtpasswd(dir, user, password string) (string, error) {
	out, err := exec.Command("htpasswd", "-Bbn", user, password).Output()
	if err != nil {
		return "", fmt.Errorf("htpasswd -Bbn: %v (apt-get install apache2-utils)", err)
	}
	path := filepath.Join(dir, "htpasswd")
	return path, os.WriteFile(path, bytes.TrimSpace(out), 0o600)
}
