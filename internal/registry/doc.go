// Package registry is berth's client for the distribution API that Docker
// Hub and every image registry speak. It wraps go-containerregistry, which
// does the protocol, with berth's policies: the per-registry settings of
// berth's own config (mirrors, insecure hosts, CAs), credentials from
// Docker's config.json so that `docker login` carries over, a transport
// that never hands credentials to another host, retries of transient
// failures, errors that carry the registry's own message and status, and
// bounds on what a registry may make berth read.
//
// Pulls are split so that the caller can pipeline them: Resolve fetches
// the manifest for a platform and the image config, and Resolved.Open
// streams each layer's compressed blob, verified against its descriptor
// as it is read, so that layers can download and unpack in parallel.
package registry
