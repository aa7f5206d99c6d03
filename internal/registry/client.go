package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"berth/internal/reference"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Client talks to registries with berth's policies. It is safe for
// concurrent use, and keeps connections open between operations; Close
// releases them.
type Client struct {
	cfg       *Config
	userAgent string
	platform  ocispec.Platform
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	backoff   remote.Backoff
	jobs      int

	mu         sync.Mutex
	transports map[string]*http.Transport // by host[:port]
}

// Option configures a Client.
type Option func(*Client)

// WithVersion makes the client send "User-Agent: berth/<version>".
func WithVersion(version string) Option {
	return func(c *Client) { c.userAgent = "berth/" + version }
}

// WithPlatform sets the platform that Resolve picks from an index, as
// --platform does. The default is HostPlatform().
func WithPlatform(p ocispec.Platform) Option {
	return func(c *Client) { c.platform = normalizePlatform(p) }
}

// WithRetry sets how often a request that failed transiently (a 5xx, a
// 429, a broken connection) is tried in all, and the wait before the first
// retry, which triples for each next one. The default is 3 tries, the
// first retry after half a second.
func WithRetry(tries int, wait time.Duration) Option {
	return func(c *Client) {
		c.backoff = remote.Backoff{Duration: wait, Factor: 3, Jitter: 0.1, Steps: max(tries, 1)}
	}
}

// WithJobs sets how many blobs Push and Copy transfer at once. The
// default is 4.
func WithJobs(n int) Option {
	return func(c *Client) { c.jobs = max(n, 1) }
}

// WithDialer makes the client open its connections with dial, and not
// through a proxy. Tests use it to reach a host name on 127.0.0.1.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *Client) { c.dial = dial }
}

// NewClient returns a client with the registry configuration cfg, which
// may be nil for none.
func NewClient(cfg *Config, opts ...Option) *Client {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &Client{
		cfg:        cfg,
		userAgent:  "berth",
		platform:   normalizePlatform(HostPlatform()),
		backoff:    remote.Backoff{Duration: 500 * time.Millisecond, Factor: 3, Jitter: 0.1, Steps: 3},
		jobs:       4,
		transports: map[string]*http.Transport{},
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Close closes the connections that the client keeps open.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.transports {
		t.CloseIdleConnections()
	}
}

// transport returns the connection pool for host, with the TLS settings
// of that host: the configured CAs, and no verification for insecure
// hosts.
func (c *Client) transport(host string) (*http.Transport, error) {
	key := strings.ToLower(host)
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.transports[key]; ok {
		return t, nil
	}
	roots, err := c.cfg.rootCAs(host)
	if err != nil {
		return nil, err
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            roots,
			InsecureSkipVerify: c.cfg.IsInsecure(host),
		},
	}
	if c.dial != nil {
		t.Proxy, t.DialContext = nil, c.dial
	}
	c.transports[key] = t
	return t, nil
}

// nameRef converts a reference for go-containerregistry, insecure when
// berth's policy says so for its registry.
func (c *Client) nameRef(ref reference.Ref) (name.Reference, error) {
	var opts []name.Option
	if c.cfg.IsInsecure(ref.Domain()) {
		opts = append(opts, name.Insecure)
	}
	return ref.NameReference(opts...)
}

// remoteOptions are the options of go-containerregistry's remote calls
// through g: berth's transport, credentials, retries and parallelism.
func (c *Client) remoteOptions(ctx context.Context, g *guard) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(g),
		remote.WithAuthFromKeychain(c.keychain()),
		remote.WithRetryBackoff(c.backoff),
		remote.WithRetryPredicate(transient),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithJobs(c.jobs),
	}
}

// retryStatusCodes are the statuses worth another try.
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// connect returns an HTTP client for the repository repo on host,
// authenticated for pulls with the credentials stored for host.
func (c *Client) connect(ctx context.Context, host, repo string) (*http.Client, error) {
	reg, err := c.registry(host)
	if err != nil {
		return nil, err
	}
	auth, err := c.keychain().Resolve(reg)
	if err != nil {
		return nil, err
	}
	rt, err := c.authTransport(ctx, reg, auth, []string{reg.Repo(repo).Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}, nil
}

// checkRedirect follows up to ten redirects; the guard decides what each
// may carry.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}
