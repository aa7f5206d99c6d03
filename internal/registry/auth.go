package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"

	"berth/internal/errdefs"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// dockerConfigDir is the directory of Docker's config.json: the
// configured one, $DOCKER_CONFIG, or ~/.docker.
func (c *Client) dockerConfigDir() string {
	if c.cfg.DockerConfig != "" {
		return c.cfg.DockerConfig
	}
	if dir := os.Getenv(config.EnvOverrideConfigDir); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	return filepath.Join(home, ".docker")
}

func (c *Client) loadDockerConfig() (*configfile.ConfigFile, error) {
	cf, err := config.Load(c.dockerConfigDir())
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	return cf, nil
}

// keychain finds credentials in Docker's config.json, through its
// credsStore and credHelpers as docker does.
type keychain struct{ c *Client }

func (c *Client) keychain() keychain { return keychain{c} }

// Resolve returns the credentials stored for the registry of target, or
// anonymous access when there are none.
func (k keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	cf, err := k.c.loadDockerConfig()
	if err != nil {
		return nil, err
	}
	host := CanonicalHost(target.RegistryStr())
	ac, err := cf.GetAuthConfig(AuthKey(host))
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", host, err)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		Auth:          ac.Auth,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	}), nil
}

// Login checks user and password against the registry at host (a GET of
// /v2/ with them, through the registry's token service when it has one),
// and stores them in Docker's config.json as `docker login` does: in the
// credential helper that credHelpers or credsStore names for the host,
// otherwise in "auths". host is normalized by CanonicalHost, so "docker.io"
// and "https://index.docker.io/v1/" both log in to Docker Hub.
func (c *Client) Login(ctx context.Context, host, user, password string) error {
	host = CanonicalHost(host)
	if host == "" {
		return errdefs.Invalidf("login: no registry given")
	}
	if user == "" || password == "" {
		return errdefs.Invalidf("login %s: a user name and a password are required", host)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	if err := c.checkLogin(ctx, host, auth); err != nil {
		return err
	}
	return c.storeCredentials(host, types.AuthConfig{Username: user, Password: password, ServerAddress: AuthKey(host)})
}

func (c *Client) checkLogin(ctx context.Context, host string, auth authn.Authenticator) error {
	reg, err := c.registry(host)
	if err != nil {
		return describe("login", host, err)
	}
	rt, err := c.authTransport(ctx, reg, auth, nil)
	if err != nil {
		return describe("login", host, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt, CheckRedirect: checkRedirect}).Do(req)
	if err != nil {
		return describe("login", host, err)
	}
	defer resp.Body.Close()
	return describe("login", host, transport.CheckError(resp, http.StatusOK))
}

func (c *Client) storeCredentials(host string, ac types.AuthConfig) error {
	cf, err := c.loadDockerConfig()
	if err != nil {
		return err
	}
	key := AuthKey(host)
	if helper(cf, key) != "" {
		err = cf.GetCredentialsStore(key).Store(ac)
	} else {
		cf.AuthConfigs[key] = ac
		err = cf.Save()
	}
	if err != nil {
		return fmt.Errorf("storing the credentials for %s: %w", host, err)
	}
	return nil
}

// helper is the credential helper that Docker's config names for key.
func helper(cf *configfile.ConfigFile, key string) string {
	if h, ok := cf.CredentialHelpers[key]; ok {
		return h
	}
	return cf.CredentialsStore
}

// Logout removes the credentials stored for host from Docker's
// config.json and its credential helper, under each name docker may have
// stored them. It is an errdefs.ErrNotFound when there were none.
func (c *Client) Logout(host string) error {
	host = CanonicalHost(host)
	cf, err := c.loadDockerConfig()
	if err != nil {
		return err
	}
	key := AuthKey(host)
	keys := []string{key}
	if key != dockerHubAuthKey {
		keys = append(keys, "http://"+host, "https://"+host)
	}
	found := false
	var errs []error
	for _, k := range keys {
		if _, ok := cf.AuthConfigs[k]; !ok {
			continue
		}
		found = true
		if err := cf.GetCredentialsStore(k).Erase(k); err != nil {
			errs = append(errs, fmt.Errorf("removing the credentials for %s: %w", k, err))
		}
	}
	if !found {
		return errdefs.NotFoundf("not logged in to %s", host)
	}
	return errors.Join(errs...)
}

// registry returns host as go-containerregistry names it, insecure when
// berth's policy says so.
func (c *Client) registry(host string) (name.Registry, error) {
	var opts []name.Option
	if c.cfg.IsInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	return name.NewRegistry(endpointHost(host), opts...)
}

// authTransport returns a transport to reg that authenticates with auth
// for scopes, with the guard and retries under it.
func (c *Client) authTransport(ctx context.Context, reg name.Registry, auth authn.Authenticator, scopes []string) (http.RoundTripper, error) {
	retrying := transport.NewRetry(c.newGuard(reg.RegistryStr()),
		transport.WithRetryBackoff(c.backoff),
		transport.WithRetryPredicate(transient),
		transport.WithRetryStatusCodes(retryStatusCodes...))
	return transport.NewWithContext(ctx, reg, auth, retrying, scopes)
}
