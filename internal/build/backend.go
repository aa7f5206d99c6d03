package build

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/metadata"
)

// Backend is what a build needs from the engine: images to start from,
// writable layers to change, processes to run in them, and a place to
// store layers and the finished image.
type Backend interface {
	// Image returns a stored image by name or ID; an errdefs not-found
	// error when the store lacks it.
	Image(ref string) (*BaseImage, error)
	// Prepare mounts a new writable layer over the layers chain (bottom
	// first). The caller ends it with Commit or Discard.
	Prepare(chain []digest.Digest) (Layer, error)
	// Run runs p in l's root filesystem and returns its exit code.
	Run(ctx context.Context, l Layer, p Process) (int, error)
	// Commit unmounts l and stores what changed in it as a layer on top
	// of parent (the chain ID below, "" for none), leaving out the
	// mount points hidden that the runtime created. Entry times in the
	// layer's tar are set to epoch. changed is false, and nothing is
	// stored, when l holds no change.
	Commit(ctx context.Context, l Layer, parent digest.Digest, hidden []string, epoch int64) (layer metadata.BuildLayer, chain digest.Digest, size int64, changed bool, err error)
	// Discard unmounts l and throws its changes away.
	Discard(l Layer)
	// Store records a finished image: its config and its layers' blobs,
	// with names.
	Store(ctx context.Context, config []byte, layers []digest.Digest, names []string) (digest.Digest, error)
	// DB holds the cache records.
	DB() *metadata.DB
	// CacheDir is where RUN --mount=type=cache directories live.
	CacheDir() string
}

// Layer is a mounted writable layer.
type Layer interface {
	// Root is the directory where the layer's root filesystem, all its
	// layers stacked, is mounted.
	Root() string
}

// Network is how RUN steps reach the network.
type Network string

const (
	// NetworkDefault is berth's default bridge network, as a container's
	// (the default).
	NetworkDefault Network = "default"
	// NetworkHost is the host's network namespace.
	NetworkHost Network = "host"
	// NetworkNone is a namespace of its own with only loopback.
	NetworkNone Network = "none"
)

// Process is a RUN step's process.
type Process struct {
	Args    []string
	Env     []string
	Cwd     string
	User    string
	Network Network
	// Mounts are the step's --mount mounts.
	Mounts []specs.Mount
	Stdout io.Writer
}

// BaseImage is a stored image a stage starts from.
type BaseImage struct {
	ID     digest.Digest
	Config []byte
	Layers []metadata.BuildLayer
	Chain  []digest.Digest
}

// Progress receives what a build does, step by step.
type Progress interface {
	// Step starts one step; name is its instruction, stage its place
	// ("build 2/5").
	Step(stage, name string) Step
	// Warn reports something the user should know that does not fail
	// the build.
	Warn(msg string)
}

// Step follows one step.
type Step interface {
	// Cached says that the step's result came from the cache.
	Cached()
	// Output is where the step's process writes.
	Output() io.Writer
	// Done ends the step, with its error if it failed.
	Done(err error)
}

type noProgress struct{}

func (noProgress) Step(string, string) Step { return noProgress{} }
func (noProgress) Warn(string)              {}
func (noProgress) Cached()                  {}
func (noProgress) Output() io.Writer        { return io.Discard }
func (noProgress) Done(error)               {}
