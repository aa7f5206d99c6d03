package registry

import (
	"encoding/json"
	"fmt"
	"mime"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The media types of manifests that Docker's registries serve besides
// OCI's.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
)

// acceptManifests is the Accept header of manifest requests. Schema 1 is
// in it so that a registry sends such a manifest as what it is, which
// berth then refuses with a clear error.
var acceptManifests = ocispec.MediaTypeImageIndex + ", " + ocispec.MediaTypeImageManifest + ", " +
	mediaTypeDockerManifestList + ", " + mediaTypeDockerManifest + ", " +
	mediaTypeDockerSchema1JWS + ", " + mediaTypeDockerSchema1

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

func isImageManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest
}

func isSchema1(mt string) bool {
	return mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1JWS
}

func isImageConfig(mt string) bool {
	return mt == ocispec.MediaTypeImageConfig || mt == mediaTypeDockerConfig
}

// manifestMediaType decides what a manifest is from the Content-Type the
// registry sent and the manifest's own fields. A registry that sends a
// generic JSON type, or none, gets the manifest's word for it, as Docker
// does; a manifest that says it is something else than the registry says
// is an error.
func manifestMediaType(contentType string, raw []byte) (string, error) {
	var fields struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Config        json.RawMessage `json:"config"`
		Manifests     json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "", "application/json", "text/plain", "application/octet-stream":
		switch {
		case fields.SchemaVersion == 1:
			return mediaTypeDockerSchema1, nil
		case fields.MediaType != "":
			return fields.MediaType, nil
		case fields.Manifests != nil:
			return ocispec.MediaTypeImageIndex, nil
		case fields.Config != nil:
			return ocispec.MediaTypeImageManifest, nil
		}
		return "", fmt.Errorf("cannot tell what kind of manifest this is: the registry sent Content-Type %q and it has no mediaType", contentType)
	}
	if fields.MediaType != "" && fields.MediaType != mt && !isSchema1(mt) {
		return "", fmt.Errorf("the registry sent a manifest as %q that says it is %q", mt, fields.MediaType)
	}
	return mt, nil
}
