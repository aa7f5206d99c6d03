package metadata

import (
	"time"

	"github.com/opencontainers/go-digest"
)

var bucketBuildCache = []byte("buildcache") // step key -> BuildStep

// BuildLayer is one layer of a build step's result: its stored blob
// and the digest of its uncompressed tar.
type BuildLayer struct {
	Blob   digest.Digest `json:"blob"`
	DiffID digest.Digest `json:"diffID"`
}

// BuildStep is the result of one build step that changed the
// filesystem, found again by the step's cache key: every layer of the
// root filesystem after the step, bottom first. Garbage collection keeps
// the blobs and snapshots it names.
type BuildStep struct {
	Key    string          `json:"key"`
	Layers []BuildLayer    `json:"layers"`
	Chain  []digest.Digest `json:"chain"`
	// Size is the bytes of the step's own (top) layer.
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	Used    time.Time `json:"used"`
}

// PutBuildStep records a build step's result under its key.
func (t *Tx) PutBuildStep(s *BuildStep) error {
	if err := t.ensure(bucketBuildCache); err != nil {
		return err
	}
	return t.put(bucketBuildCache, s.Key, s)
}

// BuildStep returns the result recorded under key, if any.
func (t *Tx) BuildStep(key string) (*BuildStep, bool, error) {
	s := &BuildStep{}
	ok, err := t.get(bucketBuildCache, key, s)
	if err != nil || !ok {
		return nil, false, err
	}
	return s, true, nil
}

// BuildSteps calls fn for every recorded build step.
func (t *Tx) BuildSteps(fn func(s *BuildStep) error) error {
	return each(t, bucketBuildCache, func(_ string, s *BuildStep) error { return fn(s) })
}

// DeleteBuildStep forgets the step recorded under key.
func (t *Tx) DeleteBuildStep(key string) error {
	if err := t.ensure(bucketBuildCache); err != nil {
		return err
	}
	return t.del(bucketBuildCache, key)
}
