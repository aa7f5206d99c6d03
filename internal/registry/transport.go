package registry

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// MaxManifestSize bounds a manifest or index read from a registry. The
// distribution registry refuses larger ones too. A larger manifest is
// refused from its Content-Length, before its body is read, or as soon as
// its body passes the bound.
const MaxManifestSize = 4 << 20

// guard is the transport under go-containerregistry for the requests of
// one operation on one registry. It holds berth's policy for every request
// that go-containerregistry and net/http make, redirects and token
// requests included:
//
//   - plain HTTP only to hosts that Config.IsInsecure allows;
//   - an Authorization header only to the registry's own host, or over
//     HTTPS to a token realm that the registry itself named. A redirect to
//     any other host, such as blob storage, and a token realm reached over
//     plain HTTP on another host, get the request without it;
//   - manifests no larger than MaxManifestSize;
//   - berth's User-Agent.
//
// go-containerregistry and net/http already drop credentials on redirects
// to other hosts; the guard does not rely on it, and it adds the rule for
// token realms, which go-containerregistry sends credentials to over
// plain HTTP when the registry is insecure.
type guard struct {
	c        *Client
	registry string // the registry's host[:port], as requests name it

	mu     sync.Mutex
	realms map[string]bool // host:port of token realms the registry named

	// observe, when set, sees every response, as Push does to learn which
	// blobs the registry had already or mounted.
	observe func(*http.Request, *http.Response)
}

func (c *Client) newGuard(host string) *guard {
	return &guard{c: c, registry: host, realms: map[string]bool{}}
}

func (g *guard) RoundTrip(in *http.Request) (*http.Response, error) {
	host := in.URL.Host
	if in.URL.Scheme == "http" && !g.c.cfg.IsInsecure(host) {
		return nil, refusal{fmt.Errorf("refusing plain HTTP to %s: it is not on this machine and not configured as an insecure registry", host)}
	}
	req := in.Clone(in.Context())
	if req.Header.Get("Authorization") != "" && !g.mayAuthorize(req.URL) {
		req.Header.Del("Authorization")
	}
	req.Header.Set("User-Agent", g.c.userAgent)
	base, err := g.c.transport(host)
	if err != nil {
		return nil, refusal{err}
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	g.learnRealm(req.URL, resp)
	if g.observe != nil {
		g.observe(req, resp)
	}
	return limitManifest(req, resp)
}

// mayAuthorize reports whether a request to u may carry credentials.
func (g *guard) mayAuthorize(u *url.URL) bool {
	if sameHost(u.Host, g.registry, u.Scheme) {
		return true
	}
	if u.Scheme != "https" {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.realms[withPort(u.Host, "https")]
}

// realmParam finds the realm of a Bearer challenge.
var realmParam = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*bearer\s.*\brealm="([^"]+)"`) })

// learnRealm notes the token realm that the registry names in a 401, so
// that the token request may carry the credentials it exchanges.
func (g *guard) learnRealm(u *url.URL, resp *http.Response) {
	if resp.StatusCode != http.StatusUnauthorized || !sameHost(u.Host, g.registry, u.Scheme) {
		return
	}
	for _, challenge := range resp.Header.Values("WWW-Authenticate") {
		m := realmParam().FindStringSubmatch(challenge)
		if m == nil {
			continue
		}
		realm, err := url.Parse(m[1])
		if err != nil || realm.Host == "" {
			continue
		}
		g.mu.Lock()
		g.realms[withPort(realm.Host, realm.Scheme)] = true
		g.mu.Unlock()
	}
}

// limitManifest refuses a manifest response larger than MaxManifestSize.
func limitManifest(req *http.Request, resp *http.Response) (*http.Response, error) {
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || !isManifestPath(req.URL.Path) {
		return resp, nil
	}
	if resp.ContentLength > MaxManifestSize {
		resp.Body.Close()
		return nil, refusal{tooLarge(resp.ContentLength)}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxManifestSize}
	return resp, nil
}

func isManifestPath(p string) bool {
	return strings.HasPrefix(p, "/v2/") && strings.Contains(p, "/manifests/")
}

func tooLarge(size int64) error {
	if size < 0 {
		return fmt.Errorf("manifest is larger than the limit of %d bytes", MaxManifestSize)
	}
	return fmt.Errorf("manifest is %d bytes, larger than the limit of %d bytes", size, MaxManifestSize)
}

// limitedBody fails a read that would pass the limit.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Allow the EOF that ends a body of exactly the limit.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, refusal{tooLarge(-1)}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
