package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Open streams the compressed blob of desc, usually a layer, from the
// registry (or mirror) that the image was resolved from. The stream checks
// what it reads against desc: a blob longer or shorter than desc.Size, or
// with another digest, ends in an error instead of io.EOF, so a caller
// that reads to EOF has the right bytes. progress, which may be nil, sees
// the bytes as they are read. Open may be called for several blobs at
// once, and again for a blob whose stream failed.
func (r *Resolved) Open(ctx context.Context, desc ocispec.Descriptor, progress Progress) (io.ReadCloser, error) {
	rc, err := r.openBlob(ctx, desc)
	if err != nil {
		return nil, describe("pull", r.Ref.Familiar(), err)
	}
	return &blobReader{rc: rc, desc: desc, verifier: desc.Digest.Verifier(), progress: progress}, nil
}

func (r *Resolved) openBlob(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob digest %q: %v", desc.Digest, err)
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size %d", desc.Digest, desc.Size)
	}
	u := "https://" + r.endpoint + "/v2/" + r.Ref.Path() + "/blobs/" + string(desc.Digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.ContentLength >= 0 && resp.ContentLength != desc.Size {
		resp.Body.Close()
		return nil, fmt.Errorf("blob %s: the registry sends %d bytes, the manifest says %d", desc.Digest, resp.ContentLength, desc.Size)
	}
	return resp.Body, nil
}

// readBlob reads a whole blob, which must be at most limit bytes.
func (r *Resolved) readBlob(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("blob %s is %d bytes, larger than the limit of %d bytes", desc.Digest, desc.Size, limit)
	}
	rc, err := r.openBlob(ctx, desc)
	if err != nil {
		return nil, err
	}
	br := &blobReader{rc: rc, desc: desc, verifier: desc.Digest.Verifier()}
	defer br.Close()
	return io.ReadAll(br)
}

// blobReader checks a blob's size and digest as it is read.
type blobReader struct {
	rc       io.ReadCloser
	desc     ocispec.Descriptor
	verifier digest.Verifier
	n        int64
	progress Progress
	verified bool
}

func (b *blobReader) Read(p []byte) (int, error) {
	if left := b.desc.Size - b.n; int64(len(p)) > left+1 {
		// Read at most one byte past the end, to notice a longer blob.
		p = p[:left+1]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.desc.Size {
		return 0, fmt.Errorf("blob %s is longer than its %d bytes", b.desc.Digest, b.desc.Size)
	}
	b.verifier.Write(p[:n])
	if n > 0 {
		b.progress.report(b.desc, b.n, Transferring)
	}
	if err == io.EOF {
		if b.n < b.desc.Size {
			return n, fmt.Errorf("blob %s ended after %d of its %d bytes: %w", b.desc.Digest, b.n, b.desc.Size, io.ErrUnexpectedEOF)
		}
		if !b.verifier.Verified() {
			return n, fmt.Errorf("blob %s: the bytes the registry sent have another digest", b.desc.Digest)
		}
		if !b.verified {
			b.verified = true
			b.progress.report(b.desc, b.n, Complete)
		}
	}
	return n, err
}

func (b *blobReader) Close() error { return b.rc.Close() }
