package build

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/image"
)

// imageConfig is an image config as the build reads and writes it, with
// Docker's run configuration.
type imageConfig struct {
	Created      *time.Time            `json:"created,omitempty"`
	Author       string                `json:"author,omitempty"`
	Architecture string                `json:"architecture"`
	Variant      string                `json:"variant,omitempty"`
	OS           string                `json:"os"`
	Config       image.ContainerConfig `json:"config"`
	RootFS       rootFS                `json:"rootfs"`
	History      []ocispec.History     `json:"history,omitempty"`
}

type rootFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diff_ids"`
}

func (c *imageConfig) clone() imageConfig {
	out := *c
	b, _ := json.Marshal(c.Config)
	out.Config = image.ContainerConfig{}
	json.Unmarshal(b, &out.Config)
	out.History = slices.Clone(c.History)
	out.RootFS.DiffIDs = slices.Clone(c.RootFS.DiffIDs)
	return out
}

// addHistory records one step in the config's history.
func (c *imageConfig) addHistory(createdBy string, empty bool, epoch time.Time) {
	t := epoch
	c.History = append(c.History, ocispec.History{Created: &t, CreatedBy: createdBy, Comment: "berth build", EmptyLayer: empty})
}

// setEnv sets k in env, replacing an earlier value.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// lookupEnv finds k in env.
func lookupEnv(env []string, k string) (string, bool) {
	for _, e := range env {
		if ek, v, _ := strings.Cut(e, "="); ek == k {
			return v, true
		}
	}
	return "", false
}

// envGetter is what the shell lexer expands words with: the stage's ENV
// first, then its ARGs (an ENV overrides an ARG of the same name).
type envGetter struct {
	env  []string
	args []kv
}

type kv struct{ k, v string }

func (e envGetter) Get(k string) (string, bool) {
	if v, ok := lookupEnv(e.env, k); ok {
		return v, true
	}
	for i := len(e.args) - 1; i >= 0; i-- {
		if e.args[i].k == k {
			return e.args[i].v, true
		}
	}
	return "", false
}

func (e envGetter) Keys() []string {
	keys := map[string]bool{}
	for _, x := range e.env {
		k, _, _ := strings.Cut(x, "=")
		keys[k] = true
	}
	for _, a := range e.args {
		keys[a.k] = true
	}
	return slices.Sorted(maps.Keys(keys))
}
